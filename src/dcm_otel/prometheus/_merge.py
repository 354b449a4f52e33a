"""How the figures of several processes add up to the figures of the whole server."""

from __future__ import annotations

from collections.abc import Callable

from dcm_otel.prometheus._figures import Figures, HistogramValue, MetricId, Series, Value

# A finished worker's requests still happened; its in-flight count or last gauge reading no longer holds.
MONOTONIC_KINDS: frozenset[str] = frozenset(("counter", "histogram"))

OnMismatch = Callable[[MetricId], None]


def add_figures(total: Figures, part: Figures, *, live: bool, on_mismatch: OnMismatch) -> None:
    """Add ``part`` into ``total`` point by point.

    Counters and histograms always add up; up-down counters add up only while their process lives. Gauges
    are not additive (a queue length every worker reads would triple): the first value seen wins, so the
    caller adds its own process first and the other live ones newest first. A histogram whose bucket bounds
    differ from the ones already in ``total`` cannot be added; it is left out and reported.
    """
    for metric_id, series in part.items():
        if not live and metric_id.kind not in MONOTONIC_KINDS:
            continue
        target = total.setdefault(metric_id, {})
        for attributes, value in series.items():
            current = target.get(attributes)
            if current is None:
                target[attributes] = value
            elif metric_id.kind != "gauge":
                added = _add(current, value)
                if added is None:
                    on_mismatch(metric_id)
                else:
                    target[attributes] = added


def _add(current: Value, value: Value) -> Value | None:
    if isinstance(current, HistogramValue) and isinstance(value, HistogramValue):
        if current.bounds != value.bounds:
            return None
        return HistogramValue(
            bounds=current.bounds,
            counts=tuple(a + b for a, b in zip(current.counts, value.counts, strict=True)),
            sum=current.sum + value.sum,
            count=current.count + value.count,
            min=min(current.min, value.min),
            max=max(current.max, value.max),
        )
    if isinstance(current, HistogramValue) or isinstance(value, HistogramValue):
        return None
    return current + value


def subtract_baseline(current: Figures, baseline: Figures) -> Figures:
    """What a forked child recorded itself: its cumulative points minus those inherited at fork (the parent
    still reports those). Gauges are readings, not sums, and stay as they are; min/max cannot be undone."""
    if not baseline:
        return current
    result: Figures = {}
    for metric_id, series in current.items():
        inherited = baseline.get(metric_id)
        if inherited is None or metric_id.kind == "gauge":
            result[metric_id] = series
        else:
            result[metric_id] = _subtract_series(series, inherited)
    return result


def _subtract_series(series: Series, inherited: Series) -> Series:
    return {attributes: _minus(value, inherited.get(attributes)) for attributes, value in series.items()}


def _minus(value: Value, inherited: Value | None) -> Value:
    if inherited is None:
        return value
    if isinstance(value, HistogramValue) and isinstance(inherited, HistogramValue):
        if value.bounds != inherited.bounds:
            return value
        return HistogramValue(
            bounds=value.bounds,
            counts=tuple(a - b for a, b in zip(value.counts, inherited.counts, strict=True)),
            sum=value.sum - inherited.sum,
            count=value.count - inherited.count,
            min=value.min,
            max=value.max,
        )
    if isinstance(value, HistogramValue) or isinstance(inherited, HistogramValue):
        return value
    return value - inherited


def monotonic_only(figures: Figures) -> Figures:
    """The part of a finished process's figures that stays counted forever."""
    return {metric_id: series for metric_id, series in figures.items() if metric_id.kind in MONOTONIC_KINDS}
