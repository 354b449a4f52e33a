"""One process's cumulative metric points as plain, hashable data: what the snapshot files hold, what is
merged across processes and what is turned back into OpenTelemetry ``MetricsData`` for the exporter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

Kind = Literal["counter", "updowncounter", "gauge", "histogram"]
KINDS: frozenset[str] = frozenset(("counter", "updowncounter", "gauge", "histogram"))

Scalar = str | bool | int | float
AttributeValue = Scalar | tuple[Scalar, ...]
# Attributes sorted by key, sequences as tuples: usable as a dict key and equal across processes.
AttributesKey = tuple[tuple[str, AttributeValue], ...]


@dataclass(frozen=True, slots=True)
class ScopeId:
    """The instrumentation scope; the exporter turns it into ``otel_scope_*`` labels."""

    name: str
    version: str | None
    schema_url: str | None
    attributes: AttributesKey


@dataclass(frozen=True, slots=True)
class MetricId:
    """What makes two processes' points the same time series (together with the point attributes)."""

    scope: ScopeId
    name: str
    description: str
    unit: str
    kind: Kind


@dataclass(frozen=True, slots=True)
class HistogramValue:
    """An explicit-bucket histogram point; ``counts`` has one more entry than ``bounds`` (the +Inf bucket)."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    sum: float
    count: int
    min: float
    max: float


Value = int | float | HistogramValue
Series = dict[AttributesKey, Value]
Figures = dict[MetricId, Series]


def freeze_attributes(attributes: Mapping[str, Any] | None) -> AttributesKey:
    if not attributes:
        return ()
    return tuple(
        sorted(
            (
                (key, tuple(value) if isinstance(value, list | tuple) else value)
                for key, value in attributes.items()
            ),
            key=itemgetter(0),
        )
    )


def _kind_of(metric: Metric) -> Kind | None:
    """None for what the Prometheus exporter cannot show anyway (exponential histograms)."""
    data = metric.data
    if isinstance(data, Sum):
        return "counter" if data.is_monotonic else "updowncounter"
    if isinstance(data, Gauge):
        return "gauge"
    if isinstance(data, Histogram):
        return "histogram"
    return None


def _value_of(point: object) -> Value:
    if isinstance(point, HistogramDataPoint):
        return HistogramValue(
            bounds=tuple(point.explicit_bounds),
            counts=tuple(point.bucket_counts),
            sum=point.sum,
            count=point.count,
            min=point.min,
            max=point.max,
        )
    if isinstance(point, NumberDataPoint):
        return point.value
    raise TypeError(f"unsupported data point {type(point).__name__}")


def figures_from_metrics_data(data: MetricsData | None) -> Figures:
    """The points of one collection, keyed for merging."""
    figures: Figures = {}
    if data is None:
        return figures
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            scope_id = ScopeId(
                scope.name, scope.version, scope.schema_url, freeze_attributes(scope.attributes)
            )
            for metric in scope_metrics.metrics:
                kind = _kind_of(metric)
                if kind is None:
                    continue
                metric_id = MetricId(scope_id, metric.name, metric.description or "", metric.unit or "", kind)
                series = figures.setdefault(metric_id, {})
                for point in metric.data.data_points:
                    series[freeze_attributes(point.attributes)] = _value_of(point)
    return figures


def _data_points(series: Series, now_ns: int) -> list[NumberDataPoint]:
    return [
        NumberDataPoint(dict(attributes), 0, now_ns, value)
        for attributes, value in series.items()
        if not isinstance(value, HistogramValue)
    ]


def _histogram_points(series: Series, now_ns: int) -> list[HistogramDataPoint]:
    return [
        HistogramDataPoint(
            attributes=dict(attributes),
            start_time_unix_nano=0,
            time_unix_nano=now_ns,
            count=value.count,
            sum=value.sum,
            bucket_counts=value.counts,
            explicit_bounds=value.bounds,
            min=value.min,
            max=value.max,
        )
        for attributes, value in series.items()
        if isinstance(value, HistogramValue)
    ]


def _metric_of(metric_id: MetricId, series: Series, now_ns: int) -> Metric:
    cumulative = AggregationTemporality.CUMULATIVE
    data: Sum | Gauge | Histogram
    if metric_id.kind == "histogram":
        data = Histogram(_histogram_points(series, now_ns), cumulative)
    elif metric_id.kind == "gauge":
        data = Gauge(_data_points(series, now_ns))
    else:
        data = Sum(_data_points(series, now_ns), cumulative, is_monotonic=metric_id.kind == "counter")
    return Metric(metric_id.name, metric_id.description, metric_id.unit, data)


def metrics_data_from_figures(figures: Figures, resource: Resource, now_ns: int) -> MetricsData:
    """Back to the shape the OpenTelemetry Prometheus exporter translates (timestamps are not exposed)."""
    metrics_by_scope: dict[ScopeId, list[Metric]] = {}
    for metric_id, series in figures.items():
        metrics_by_scope.setdefault(metric_id.scope, []).append(_metric_of(metric_id, series, now_ns))
    scope_metrics = [
        ScopeMetrics(
            InstrumentationScope(scope.name, scope.version, scope.schema_url, dict(scope.attributes)),
            metrics,
            scope.schema_url or "",
        )
        for scope, metrics in metrics_by_scope.items()
    ]
    return MetricsData([ResourceMetrics(resource, scope_metrics, resource.schema_url)])


# ---- JSON: compact lists, decoded with enough checks that a damaged file raises instead of poisoning a sum


def encode_figures(figures: Figures) -> list[dict[str, Any]]:
    return [
        {
            "scope": [
                metric_id.scope.name,
                metric_id.scope.version,
                metric_id.scope.schema_url,
                metric_id.scope.attributes,
            ],
            "name": metric_id.name,
            "description": metric_id.description,
            "unit": metric_id.unit,
            "kind": metric_id.kind,
            "points": [[attributes, _encode_value(value)] for attributes, value in series.items()],
        }
        for metric_id, series in figures.items()
    ]


def _encode_value(value: Value) -> int | float | dict[str, Any]:
    if isinstance(value, HistogramValue):
        return {
            "bounds": value.bounds,
            "counts": value.counts,
            "sum": value.sum,
            "count": value.count,
            "min": value.min,
            "max": value.max,
        }
    return value


def decode_figures(raw: Any) -> Figures:
    """Raises ValueError (or KeyError/TypeError) when ``raw`` is not what :func:`encode_figures` wrote."""
    if not isinstance(raw, list):
        raise ValueError("metrics must be a list")
    figures: Figures = {}
    for entry in raw:
        metric_id = _decode_metric_id(entry)
        figures[metric_id] = {
            _decode_attributes(attributes): _decode_value(metric_id.kind, value)
            for attributes, value in entry["points"]
        }
    return figures


def _decode_metric_id(entry: Any) -> MetricId:
    name, version, schema_url, attributes = entry["scope"]
    kind = entry["kind"]
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    scope = ScopeId(
        _str(name), _optional_str(version), _optional_str(schema_url), _decode_attributes(attributes)
    )
    return MetricId(scope, _str(entry["name"]), _str(entry["description"]), _str(entry["unit"]), kind)


def _decode_attributes(raw: Any) -> AttributesKey:
    return tuple((_str(key), tuple(value) if isinstance(value, list) else value) for key, value in raw)


def _decode_value(kind: Kind, raw: Any) -> Value:
    if kind == "histogram":
        bounds = tuple(map(float, raw["bounds"]))
        counts = tuple(map(int, raw["counts"]))
        if len(counts) != len(bounds) + 1:
            raise ValueError("a histogram needs one bucket count more than bounds")
        return HistogramValue(
            bounds, counts, _number(raw["sum"]), int(raw["count"]), _number(raw["min"]), _number(raw["max"])
        )
    return _number(raw)


def _number(raw: Any) -> int | float:
    if type(raw) not in _NUMBER_TYPES:  # exact types: a bool is an int but not a figure
        raise ValueError(f"not a number: {raw!r}")
    number: int | float = raw
    return number


_NUMBER_TYPES = frozenset((int, float))


def _str(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"not a string: {raw!r}")
    return raw


def _optional_str(raw: Any) -> str | None:
    return None if raw is None else _str(raw)
