"""``histogram.record`` for the duration point of every request and every query, into aggregations found once.

``Histogram.record`` builds and cleans a ``Measurement``, then copies, sorts and hashes its attributes to
find the aggregation, for every sample, although dcm_otel's attribute sets repeat. :class:`BoundHistogram`
resolves the aggregations of one attribute set once and adds each sample to them; a provider without
readers (``metrics_exporter`` none) has none, and a sample costs nothing. Anything else (a delta reader,
exemplars, a proxy or non-SDK provider) goes through ``record``, as does everything once :data:`FEATURE`
finds the SDK's internals changed (``tests/test_sdk_shortcuts.py`` compares both paths).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from math import inf
from time import time_ns
from typing import Any

from opentelemetry import context as context_api
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter

from dcm_otel._sdk.feature_check import FeatureCheck

try:
    from opentelemetry.attributes import _clean_attribute_value
    from opentelemetry.sdk.metrics._internal._view_instrument_match import (
        _hash_attributes,
        _ViewInstrumentMatch,
    )
    from opentelemetry.sdk.metrics._internal.instrument import Histogram
    from opentelemetry.sdk.metrics._internal.measurement import Measurement
    from opentelemetry.sdk.metrics._internal.measurement_consumer import SynchronousMeasurementConsumer
    from opentelemetry.sdk.metrics._internal.metric_reader_storage import MetricReaderStorage
except ImportError as error:  # the probe reports it; record() then takes the public path
    _import_error: ImportError | None = error
else:
    _import_error = None

Attributes = Mapping[str, str | int]


def _probe() -> None:
    """What the shortcut reads beyond one histogram's own attributes (those :meth:`BoundHistogram._find`
    reads, under a try)."""
    if _import_error is not None:
        raise _import_error
    for owner, name in (
        (Histogram, "_is_enabled"),
        (MetricReaderStorage, "_get_or_init_view_instrument_match"),
        (_ViewInstrumentMatch, "_get_or_create_aggregation"),
    ):
        if not callable(getattr(owner, name, None)):
            raise TypeError(f"{owner.__name__}.{name} is gone")


FEATURE = FeatureCheck("bound histograms", "points are recorded through Histogram.record", _probe)


class BoundHistogram:
    """``histogram.record(amount, attributes)`` for one fixed attribute set, into aggregations found once."""

    __slots__ = ("_aggregations", "_attributes", "_histogram", "_storages")

    def __init__(self, histogram: Any, attributes: Attributes) -> None:
        self._histogram = histogram
        self._attributes = dict(attributes)
        self._storages: object = None
        self._aggregations: tuple[Any, ...] | None = None

    def record(self, amount: float) -> None:
        histogram = self._histogram
        consumer = getattr(histogram, "_measurement_consumer", None)
        storages = getattr(consumer, "_reader_storages", None)
        if storages is not self._storages:
            self._bind(consumer, storages)
        aggregations = self._aggregations
        # Found only when FEATURE holds, so nothing private is read on an SDK it does not recognise.
        if aggregations is None or not (0 <= amount < inf) or not histogram._is_enabled():
            histogram.record(amount, self._attributes)
        elif aggregations:
            measurement = Measurement(amount, time_ns(), histogram, context_api.get_current())
            for aggregation in aggregations:
                aggregation.aggregate(measurement, False)

    def _bind(self, consumer: Any, storages: Mapping[Any, Any] | None) -> None:
        """Once per set of reader storages (a new reader brings a new one), never per sample."""
        self._storages = storages
        self._aggregations = None
        if storages is not None and FEATURE.available():
            try:
                self._aggregations = self._find(consumer, storages)
            except Exception as error:  # an SDK changed underneath: its public path still works
                FEATURE.disable(f"{type(error).__name__}: {error}")

    def _find(self, consumer: Any, storages: Mapping[Any, Any]) -> tuple[Any, ...] | None:
        """What ``consume_measurement`` would find for these attributes (none without a reader), or None
        when it must do the work."""
        if (
            type(self._histogram).record is not Histogram.record
            or type(consumer).consume_measurement is not SynchronousMeasurementConsumer.consume_measurement
            or type(consumer._sdk_config.exemplar_filter) is not AlwaysOffExemplarFilter
        ):
            return None
        cleaned = _clean_attribute_value(self._attributes, None)
        aggregations = []
        for storage in storages.values():
            if type(storage).consume_measurement is not MetricReaderStorage.consume_measurement:
                return None
            for match in storage._get_or_init_view_instrument_match(self._histogram):
                if match._reset_on_collect or type(match) is not _ViewInstrumentMatch:
                    return None  # a delta reader drops its aggregations at each collection
                attributes = dict(cleaned)
                keys = match._view._attribute_keys
                if keys is not None:
                    attributes = {k: v for k, v in attributes.items() if k in keys}
                with match._lock:
                    aggregations.append(
                        match._get_or_create_aggregation(_hash_attributes(attributes), attributes)
                    )
        return tuple(aggregations)


class BoundHistograms:
    """:class:`BoundHistogram` per attribute set of one histogram, for at most ``size`` sets (the rest are
    recorded the SDK's way)."""

    __slots__ = ("_bound", "_histogram", "_size")

    def __init__(self, histogram: Any, size: int = 1024) -> None:
        self._histogram = histogram
        self._size = size
        self._bound: dict[Hashable, BoundHistogram] = {}

    def record(self, amount: float, key: Hashable, attributes: Attributes) -> None:
        """``key`` stands for ``attributes``: the same key must always come with the same attributes."""
        bound = self._bound.get(key)
        if bound is None:
            if len(self._bound) >= self._size:
                self._histogram.record(amount, attributes)
                return
            bound = self._bound[key] = BoundHistogram(self._histogram, attributes)
        bound.record(amount)
