"""Line charts as inline SVG: nice axis ticks, UTC time labels, gaps where a series has no value, and shaded
time spans (firing alerts)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise

# Grafana's classic palette, in its order.
PALETTE = (
    "#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0",
    "#508642", "#cca300", "#447ebc", "#c15c17", "#890f02", "#0a437c", "#6d1f62", "#584477",
)  # fmt: skip
AXIS = "#8e8e99"
GRID = "#2c3235"
ALERT = "#f2495c"
_TIME_STEPS = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)

Points = Sequence[tuple[float, float | None]]


@dataclass(frozen=True)
class Line:
    points: Points
    color: str


def nice_ticks(low: float, high: float, count: int = 4, binary: bool = False) -> list[float]:
    """About `count` round values (1, 2 or 5 times a power of ten) covering [low, high]; `binary` makes them
    round in the power of 1024 of the largest (bytes: 8 GiB, not 8.59 GiB)."""
    if high <= low:
        high = low + (abs(low) or 1)
    if binary:
        scale = 1024 ** math.floor(math.log(max(abs(low), abs(high), 1), 1024))
        return [tick * scale for tick in nice_ticks(low / scale, high / scale, count)]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 12))
        value += step
    return ticks


def time_ticks(start: float, end: float, count: int = 6) -> list[float]:
    step = next((s for s in _TIME_STEPS if s >= (end - start) / count), _TIME_STEPS[-1])
    first = math.ceil(start / step) * step
    return [first + i * step for i in range(int((end - first) // step) + 1)]


def _clock(t: float, with_seconds: bool) -> str:
    return time.strftime("%H:%M:%S" if with_seconds else "%H:%M", time.gmtime(t))


def chart(
    lines: Sequence[Line],
    start: float,
    end: float,
    width: int,
    height: int,
    label: Callable[[float], str],
    spans: Sequence[tuple[float, float]] = (),
    axes: bool = True,
    area: bool = False,
    binary: bool = False,
) -> str:
    """An SVG of `lines` over [start, end]; the y axis starts at 0 unless a value is negative. `axes=False`
    draws a bare sparkline (stat panels); `binary` rounds the ticks for bytes."""
    values = [v for line in lines for _, v in line.points if v is not None] or [0.0]
    if axes:
        ticks = nice_ticks(min(0.0, *values), max(0.0, *values), binary=binary)
        low, high = ticks[0], ticks[-1]
    else:  # a sparkline spans its own values; a flat one sits in the middle
        ticks = []
        low, high = min(values), max(values)
        low, high = (low - 1, high + 1) if high == low else (low, high)
    left = (max(len(label(t)) for t in ticks) * 7 + 10) if axes else 0
    top, bottom = (8, 18) if axes else (2, 0)
    plot_w, plot_h = max(width - left - 4, 10), max(height - top - bottom - 2, 10)

    def x(t: float) -> float:
        return left + (t - start) / (end - start) * plot_w

    def y(v: float) -> float:
        return top + plot_h - (v - low) / (high - low) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">']
    for begin, finish in spans:
        x0, x1 = x(max(begin, start)), x(min(finish, end))
        parts.append(
            f'<rect x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 2):.1f}" height="{plot_h}" '
            f'fill="{ALERT}" fill-opacity="0.1"/>'
            f'<line x1="{x0:.1f}" x2="{x0:.1f}" y1="{top}" y2="{plot_h + top}" stroke="{ALERT}" '
            'stroke-dasharray="3,3"/>'
        )
    if axes:
        for tick in ticks:
            parts.append(
                f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                f'stroke="{GRID}"/><text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" '
                f'fill="{AXIS}" font-size="11">{escape(label(tick))}</text>'
            )
        seconds = end - start < 600
        for tick in time_ticks(start, end):
            if not left + 25 <= x(tick) <= width - 25:  # its label would be cut
                continue
            parts.append(
                f'<text x="{x(tick):.1f}" y="{height - 4}" text-anchor="middle" fill="{AXIS}" '
                f'font-size="11">{_clock(tick, seconds)}</text>'
            )
    for line in lines:
        for segment in _segments(line.points):
            coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in segment)
            if area and len(segment) > 1:
                base = f"{x(segment[-1][0]):.1f},{y(low):.1f} {x(segment[0][0]):.1f},{y(low):.1f}"
                parts.append(f'<polygon points="{coords} {base}" fill="{line.color}" fill-opacity="0.2"/>')
            if len(segment) == 1:
                ((t, v),) = segment
                parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2" fill="{line.color}"/>')
            else:
                parts.append(
                    f'<polyline points="{coords}" fill="none" stroke="{line.color}" stroke-width="1.5"/>'
                )
    parts.append("</svg>")
    return "".join(parts)


def _segments(points: Points) -> list[list[tuple[float, float]]]:
    """Runs of points with a value; a missing value or a gap of more than two steps breaks the line."""
    segments: list[list[tuple[float, float]]] = []
    step = min((b[0] - a[0] for a, b in pairwise(points)), default=0)
    previous: float | None = None
    for t, v in points:
        if v is None:
            previous = None
            continue
        if previous is None or (step and t - previous > 2 * step):
            segments.append([])
        segments[-1].append((t, v))
        previous = t
    return segments
