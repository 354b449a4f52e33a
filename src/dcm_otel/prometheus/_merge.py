"""How the figures of several processes add up to the figures of the whole server."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction

from dcm_otel.prometheus._figures import AttributesKey, Figures, HistogramValue, MetricId, Series, Value

# A finished worker's requests still happened; its in-flight count or last gauge reading no longer holds.
MONOTONIC_KINDS: frozenset[str] = frozenset(("counter", "histogram"))

OnMismatch = Callable[[MetricId], None]
Part = tuple[Figures, bool]  # one process's figures, and whether that process still runs


def sum_figures(parts: Sequence[Part], on_mismatch: OnMismatch, *, round_up: bool = False) -> Figures:
    """The figures of the whole server from those of its processes, point by point.

    Counters and histograms always add up; up-down counters add up only while their process lives. Gauges
    are not additive (a queue length every worker reads would triple): the first value seen wins, so the
    caller puts its own process first and the other live ones newest first. A histogram whose bucket bounds
    differ from the first seen cannot be added; it is left out and reported.

    Float totals are the exact sum rounded once (``math.fsum``), whatever the order of the parts: a scrape
    answered by another worker, which lists the parts in another order, must not show a sum one rounding
    lower. With ``round_up`` (the archive, a total that later parts are added to) they are rounded up, so
    the archive plus the other parts is never below the exact sum shown before the fold.
    """
    gathered: dict[MetricId, dict[AttributesKey, list[Value]]] = {}
    for figures, live in parts:
        for metric_id, series in figures.items():
            if not live and metric_id.kind not in MONOTONIC_KINDS:
                continue
            target = gathered.setdefault(metric_id, {})
            for attributes, value in series.items():
                values = target.setdefault(attributes, [])
                if metric_id.kind != "gauge" or not values:
                    values.append(value)
    total: Figures = {}
    for metric_id, points in gathered.items():
        series = total[metric_id] = {}
        for attributes, values in points.items():
            series[attributes], mismatched = _sum(values, round_up)
            if mismatched:
                on_mismatch(metric_id)
    return total


def _sum(values: list[Value], round_up: bool) -> tuple[Value, bool]:
    """The total, and whether values of another shape than the first had to be left out."""
    first = values[0]
    if isinstance(first, HistogramValue):
        same = [v for v in values if isinstance(v, HistogramValue) and v.bounds == first.bounds]
        histogram = HistogramValue(
            bounds=first.bounds,
            counts=tuple(sum(counts) for counts in zip(*(v.counts for v in same), strict=True)),
            sum=_exact_sum([v.sum for v in same], round_up),
            count=sum(v.count for v in same),
            min=min(v.min for v in same),
            max=max(v.max for v in same),
        )
        return histogram, len(same) < len(values)
    numbers = [v for v in values if not isinstance(v, HistogramValue)]
    return _exact_sum(numbers, round_up), len(numbers) < len(values)


def _exact_sum(values: list[int | float], round_up: bool) -> int | float:
    if all(isinstance(v, int) for v in values) or not all(math.isfinite(v) for v in values):
        return sum(values)
    total = math.fsum(values)
    if round_up and Fraction(total) < sum(map(Fraction, values)):
        total = math.nextafter(total, math.inf)
    return total


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
