"""Shortcuts through the OpenTelemetry SDK for the telemetry of every request and every query: the one module
that reads SDK internals (the SDK is pinned ``==1.45.2``; ``tests/test_sdk_shortcuts.py`` fails if what it
relies on changes).

In a tight loop the SDK's generic checks cost more than the data they let through (docs/benchmarks.md).
``Tracer.start_span`` asks the sampler, although the configured sampler's answer for a span under a local
sampled parent is fixed in advance, and cleans attribute values that are already clean strings and ints.
``Histogram.record`` builds and cleans a ``Measurement``, then copies, sorts and hashes its attributes to
find the aggregation, for every sample, although dcm_otel's attribute sets repeat.

:class:`SpanStarter` makes the same ``Span`` the tracer would (ids, flags, trace state, parent, limits,
tracer metrics, and ``on_start`` / ``on_end`` of every configured span processor) without the sampler call
when the sampler is a static "always on" one for that parent, and with the attributes copied as they are.
:class:`BoundHistogram` resolves the aggregations of one attribute set once and adds each sample to them.
Anything else (another sampler decision, span limits on value length, a delta reader, exemplars, a proxy
or non-SDK provider) goes through the SDK's public path.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from math import inf
from time import time_ns
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes, _clean_attribute_value
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter
from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes, _ViewInstrumentMatch
from opentelemetry.sdk.metrics._internal.instrument import Histogram
from opentelemetry.sdk.metrics._internal.measurement import Measurement
from opentelemetry.sdk.metrics._internal.measurement_consumer import SynchronousMeasurementConsumer
from opentelemetry.sdk.metrics._internal.metric_reader_storage import MetricReaderStorage
from opentelemetry.sdk.trace import Tracer, _Span
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, StaticSampler
from opentelemetry.trace import SpanKind, TraceFlags

Attributes = Mapping[str, str | int]

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SAMPLED_RANDOM = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)


def _always_samples(sampler: Sampler) -> bool:
    """Whether ``sampler`` records and samples every span it is asked about, whatever the span."""
    return (
        type(sampler).should_sample is StaticSampler.should_sample
        and getattr(sampler, "_decision", None) is Decision.RECORD_AND_SAMPLE
    )


class _Plan:
    """For each kind of parent (none, remote sampled, local sampled): whether the sampler always samples."""

    __slots__ = ("local", "remote", "root")

    def __init__(self, sampler: Sampler) -> None:
        if type(sampler).should_sample is ParentBased.should_sample:
            parent_based: Any = sampler
            self.root = _always_samples(parent_based._root)
            self.remote = _always_samples(parent_based._remote_parent_sampled)
            self.local = _always_samples(parent_based._local_parent_sampled)
        else:
            self.root = self.remote = self.local = _always_samples(sampler)


class SpanStarter:
    """``tracer.start_span(name, parent, kind, attributes, start_time)``, without the sampler call when the
    sampler's decision is known; attribute values must be strings or ints (as all of dcm_otel's are)."""

    __slots__ = ("_max_attributes", "_parent", "_plan", "_resolved", "_sdk", "_tracer")

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        self._sdk: Tracer | None = None
        self._plan: _Plan | None = None
        self._max_attributes: int | None = None
        self._resolved = False
        # The last parent context and what start() derived from it.
        self._parent: tuple[Any, ...] = (None,)

    def _resolve(self) -> None:
        """Look at the tracer once it is a real one (a proxy tracer becomes one when a provider is set)."""
        tracer: Any = self._tracer
        if isinstance(tracer, trace.ProxyTracer):
            tracer = tracer._tracer
            if isinstance(tracer, trace.NoOpTracer):
                return
        self._resolved = True
        if type(tracer) is not Tracer:
            return
        try:
            limits = tracer._span_limits
            if limits.max_span_attribute_length is not None:
                return  # values are cut to that length: the SDK's cleaner does it
            self._plan = _Plan(tracer.sampler)
            self._max_attributes = limits.max_span_attributes
            for name in (
                "id_generator",
                "resource",
                "span_processor",
                "_instrumentation_scope",
                "_tracer_metrics",
            ):
                getattr(tracer, name)
            if not isinstance(BoundedAttributes()._dict, dict):
                return
        except Exception:  # an SDK changed underneath: its public path still works
            return
        self._sdk = tracer

    def start(
        self,
        name: str,
        parent: context_api.Context | None,
        kind: SpanKind,
        attributes: Attributes,
        start_time: int | None = None,
    ) -> trace.Span:
        if not self._resolved:
            self._resolve()
        sdk, plan = self._sdk, self._plan
        if sdk is None or plan is None or not sdk._is_enabled():
            return self._tracer.start_span(name, parent, kind, attributes=attributes, start_time=start_time)
        if parent is not None and self._parent[0] is parent:  # the queries of one request share theirs
            _, sampled, trace_id, random_trace_id, trace_state, parent_span = self._parent
        else:
            parent_span = trace.get_current_span(parent).get_span_context()
            if parent_span.is_valid:
                flags = parent_span.trace_flags
                sampled = flags.sampled and (plan.remote if parent_span.is_remote else plan.local)
                trace_id, random_trace_id, trace_state = (
                    parent_span.trace_id,
                    flags.random_trace_id,
                    parent_span.trace_state,
                )
                if parent is not None:
                    self._parent = (parent, sampled, trace_id, random_trace_id, trace_state, parent_span)
            else:
                sampled = plan.root
                trace_id = sdk.id_generator.generate_trace_id()
                random_trace_id = sdk.id_generator.is_trace_id_random()
                trace_state = None
                parent_span = None
        if not sampled or (self._max_attributes is not None and len(attributes) > self._max_attributes):
            return sdk.start_span(name, parent, kind, attributes=attributes, start_time=start_time)
        span_context = trace.SpanContext(
            trace_id,
            sdk.id_generator.generate_span_id(),
            is_remote=False,
            trace_flags=_SAMPLED_RANDOM if random_trace_id else _SAMPLED,
            trace_state=trace_state,
        )
        span = _Span(
            name=name,
            context=span_context,
            parent=parent_span,
            sampler=sdk.sampler,
            resource=sdk.resource,
            span_processor=sdk.span_processor,
            kind=kind,
            instrumentation_info=sdk.instrumentation_info,
            limits=sdk._span_limits,
            instrumentation_scope=sdk._instrumentation_scope,
            record_end_metrics=sdk._tracer_metrics.start_span(parent_span, Decision.RECORD_AND_SAMPLE),
        )
        bounded: Any = span._attributes
        bounded._dict.update(attributes)  # clean already: no copy through the cleaner
        span.start(start_time=start_time, parent_context=parent)
        return span


class BoundHistogram:
    """``histogram.record(amount, attributes)`` for one fixed attribute set, into aggregations found once."""

    __slots__ = ("_aggregations", "_attributes", "_histogram", "_storages")

    def __init__(self, histogram: Any, attributes: Attributes) -> None:
        self._histogram = histogram
        self._attributes = dict(attributes)
        self._storages: object = None
        self._aggregations: tuple[Any, ...] = ()

    def record(self, amount: float) -> None:
        histogram = self._histogram
        consumer = getattr(histogram, "_measurement_consumer", None)
        storages = getattr(consumer, "_reader_storages", None)
        if storages is None or not (0 <= amount < inf) or not histogram._is_enabled():
            histogram.record(amount, self._attributes)
            return
        if storages is not self._storages:
            self._bind(consumer, storages)
        aggregations = self._aggregations
        if not aggregations:
            histogram.record(amount, self._attributes)
            return
        measurement = Measurement(amount, time_ns(), histogram, context_api.get_current())
        for aggregation in aggregations:
            aggregation.aggregate(measurement, False)

    def _bind(self, consumer: Any, storages: Mapping[Any, Any]) -> None:
        self._storages = storages
        try:
            self._aggregations = self._find(consumer, storages)
        except Exception:  # an SDK changed underneath: its public path still works
            self._aggregations = ()

    def _find(self, consumer: Any, storages: Mapping[Any, Any]) -> tuple[Any, ...]:
        """What ``consume_measurement`` would find for these attributes, or () when it must do the work."""
        if (
            type(self._histogram).record is not Histogram.record
            or type(consumer).consume_measurement is not SynchronousMeasurementConsumer.consume_measurement
            or type(consumer._sdk_config.exemplar_filter) is not AlwaysOffExemplarFilter
        ):
            return ()
        cleaned = _clean_attribute_value(self._attributes, None)
        aggregations = []
        for storage in storages.values():
            if type(storage).consume_measurement is not MetricReaderStorage.consume_measurement:
                return ()
            for match in storage._get_or_init_view_instrument_match(self._histogram):
                if match._reset_on_collect or type(match) is not _ViewInstrumentMatch:
                    return ()  # a delta reader drops its aggregations at each collection
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
