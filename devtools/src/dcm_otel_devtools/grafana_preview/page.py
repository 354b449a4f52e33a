"""One dashboard as one HTML page: its panels placed by their gridPos (24 columns, 30 px rows), each drawn
from its queries' results, firing-alert annotations shaded on the time series."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from html import escape
from typing import Any

from dcm_otel_devtools.grafana_preview.prometheus import (
    Prometheus,
    QueryError,
    Series,
    TimeRange,
    interpolate,
    variables,
)
from dcm_otel_devtools.grafana_preview.svg import PALETTE, Line, chart
from dcm_otel_devtools.grafana_preview.units import format_value

WIDTH = 1600  # px of the page; Grafana's grid has 24 columns
MARGIN = 8
ROW = 30  # px per grid row, plus MARGIN between rows (Grafana's GRID_CELL_HEIGHT and VMARGIN)
TITLE = 30
LEGEND_LINE = 18
MAX_LEGEND_LINES = 3
COLORS = {"green": "#73bf69", "red": "#f2495c", "yellow": "#fade2a", "orange": "#ff9830", "blue": "#5794f2"}
# Grafana's thresholds when a panel sets none.
DEFAULT_STEPS = [{"color": "green", "value": None}, {"color": "red", "value": 80}]
NOTICE = "Drawn by dcm_otel's grafana_preview from the dashboard JSON and Prometheus data, not by Grafana"
STYLE = """
body { margin: 0; background: #111217; color: #ccccdc; font: 13px/1.35 Inter, Helvetica, Arial, sans-serif; }
header { padding: 10px 12px 4px; } h1 { margin: 0; font-size: 20px; font-weight: 500; }
header p { margin: 4px 0 0; color: #8e8e99; font-size: 12px; }
main { position: relative; }
.panel { position: absolute; box-sizing: border-box; background: #181b1f; border: 1px solid #2c3235;
  border-radius: 3px; overflow: hidden; padding: 0 8px; }
.panel h2 { margin: 0; height: 30px; line-height: 30px; font-size: 14px; font-weight: 500;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.legend { display: flex; flex-wrap: wrap; gap: 0 14px; font-size: 12px; line-height: 18px; overflow: hidden; }
.legend i { display: inline-block; width: 14px; height: 4px; margin-right: 5px; vertical-align: middle; }
.legend b { font-weight: 400; color: #8e8e99; margin-left: 4px; }
.stat { display: flex; gap: 8px; height: calc(100% - 34px); }
.stat div { flex: 1; position: relative; display: flex; flex-direction: column; justify-content: center;
  align-items: center; }
.stat svg { position: absolute; bottom: 0; left: 0; }
.stat strong { font-size: 34px; font-weight: 500; z-index: 1; } .stat span { color: #8e8e99; z-index: 1; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; color: #6e9fff; font-weight: 500; border-bottom: 1px solid #2c3235; padding: 4px 6px; }
td { border-bottom: 1px solid #22252b; padding: 4px 6px; }
.empty, .error { display: flex; height: calc(100% - 34px); align-items: center; justify-content: center; }
.empty { color: #8e8e99; } .error { color: #f2495c; padding: 0 12px; }
"""


@dataclass
class PanelResult:
    """What a panel got: its series count, or the error of the query that failed."""

    id: int
    title: str
    type: str
    series: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.series > 0


@dataclass
class Preview:
    title: str
    html: str
    width: int
    height: int
    panels: list[PanelResult] = field(default_factory=list)


def legend(series: Series, template: str) -> str:
    if not template or template == "__auto":
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(series.labels.items()) if k != "__name__")
        return f"{series.labels.get('__name__', '')}{{{inner}}}"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: series.labels.get(m.group(1), ""), template).strip()


def _spans(series: list[Series], step: float) -> list[tuple[float, float]]:
    """Time spans in which an annotation query has a value (one per run of consecutive samples)."""
    spans: list[tuple[float, float]] = []
    for one in series:
        begin = previous = None
        for t, v in one.points:
            if v is None:
                continue
            if previous is None or t - previous > 1.5 * step:
                if begin is not None and previous is not None:
                    spans.append((begin, previous + step))
                begin = t
            previous = t
        if begin is not None and previous is not None:
            spans.append((begin, previous + step))
    return spans


class _Renderer:
    def __init__(
        self, board: dict[str, Any], prometheus: Prometheus, time_range: TimeRange, values: dict[str, str]
    ):
        self.board, self.prometheus, self.range = board, prometheus, time_range
        self.values = {**variables(board, values), **time_range.builtins()}

    def query(self, target: dict[str, Any], instant: bool = False) -> list[Series]:
        expr = interpolate(target["expr"], self.values)
        if instant:
            return self.prometheus.instant(expr, self.range.end)
        return self.prometheus.range(expr, self.range)

    def annotations(self) -> tuple[list[tuple[float, float]], list[str]]:
        spans: list[tuple[float, float]] = []
        names: set[str] = set()
        for annotation in self.board.get("annotations", {}).get("list", []):
            if not annotation.get("enable") or not annotation.get("expr"):
                continue
            try:
                found = self.query(annotation)
            except QueryError:
                continue  # a broken annotation query hides its marks, as in Grafana
            spans += _spans(found, self.range.step)
            names |= {legend(s, annotation.get("titleFormat", "")) for s in found}
        return spans, sorted(names)

    def panel(self, panel: dict[str, Any], spans: list[tuple[float, float]]) -> tuple[PanelResult, str]:
        result = PanelResult(panel["id"], panel["title"], panel["type"])
        grid = panel["gridPos"]
        column = (WIDTH - MARGIN) / 24
        left, top = MARGIN + grid["x"] * column, grid["y"] * (ROW + MARGIN)
        width, height = grid["w"] * column - MARGIN, grid["h"] * ROW + (grid["h"] - 1) * MARGIN
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        try:
            kind = panel["type"]
            instant = kind == "table"
            results = [(t, self.query(t, instant)) for t in panel.get("targets", [])]
            # A series counts when it has a value: histogram_quantile of no events is NaN all along.
            results = [(t, [s for s in found if s.last() is not None]) for t, found in results]
            result.series = sum(len(found) for _, found in results)
            if not result.series:
                body = '<div class="empty">No data</div>'
            elif kind == "stat":
                body = _stat(results, unit, panel, int(width) - 16, int(height) - TITLE - 4)
            elif kind == "table":
                body = _table(results, unit)
            else:
                body = self.timeseries(results, unit, int(width) - 16, int(height) - TITLE - 4, spans)
        except QueryError as error:
            result.error = str(error)
            body = f'<div class="error">{escape(str(error))}</div>'
        style = f"left:{left:.0f}px;top:{top:.0f}px;width:{width:.0f}px;height:{height:.0f}px"
        return (
            result,
            f'<section class="panel" style="{style}"><h2>{escape(panel["title"])}</h2>{body}</section>',
        )

    def timeseries(
        self,
        results: list[tuple[dict[str, Any], list[Series]]],
        unit: str,
        width: int,
        height: int,
        spans: list[tuple[float, float]],
    ) -> str:
        entries = [(legend(s, t.get("legendFormat", "")), s) for t, found in results for s in found]
        colors = [PALETTE[i % len(PALETTE)] for i in range(len(entries))]
        lines, shown, used = 1, [], 0
        for (name, series), color in zip(entries, colors, strict=True):
            text = f"{name} {format_value(series.last(), unit)}"
            size = len(text) * 7 + 34
            if used + size > width and used:
                lines, used = lines + 1, 0
            if lines > MAX_LEGEND_LINES:
                break
            used += size
            shown.append(
                f'<span><i style="background:{color}"></i>{escape(name)}'
                f"<b>{escape(format_value(series.last(), unit))}</b></span>"
            )
        if len(shown) < len(entries):
            shown.append(f"<span>+{len(entries) - len(shown)} more</span>")
        legend_height = min(lines, MAX_LEGEND_LINES) * LEGEND_LINE
        svg = chart(
            [Line(s.points, c) for (_, s), c in zip(entries, colors, strict=True)],
            self.range.start,
            self.range.end,
            width,
            height - legend_height - 2,
            lambda v: format_value(v, unit),
            spans,
            binary=unit == "bytes",
        )
        return f'{svg}<div class="legend" style="height:{legend_height}px">{"".join(shown)}</div>'


def _color(value: float | None, panel: dict[str, Any]) -> str:
    thresholds = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {})
    color = "green"
    for step in thresholds.get("steps", DEFAULT_STEPS):
        if step.get("value") is None or (value is not None and value >= step["value"]):
            color = step["color"]
    return COLORS.get(color, color)


def _stat(
    results: list[tuple[dict[str, Any], list[Series]]],
    unit: str,
    panel: dict[str, Any],
    width: int,
    height: int,
) -> str:
    items = [(legend(s, t.get("legendFormat", "")), s) for t, found in results for s in found]
    cell = max(width // len(items) - 8, 20)
    cells = []
    for name, series in items:
        value = series.last()
        color = _color(value, panel)
        times = [t for t, _ in series.points]
        spark = chart(
            [Line(series.points, color)],
            min(times),
            max(times) + 1,
            cell,
            height // 2,
            str,
            axes=False,
            area=True,
        )
        label = f"<span>{escape(name)}</span>" if len(items) > 1 else ""
        text = escape(format_value(value, unit))
        cells.append(f'<div>{spark}<strong style="color:{color}">{text}</strong>{label}</div>')
    return f'<div class="stat">{"".join(cells)}</div>'


def _table(results: list[tuple[dict[str, Any], list[Series]]], unit: str) -> str:
    rows = [s for _, found in results for s in found]
    columns = sorted({k for s in rows for k in s.labels if k != "__name__"})
    head = "".join(f"<th>{escape(c)}</th>" for c in [*columns, "Value"])
    body = "".join(
        "<tr>"
        + "".join(f"<td>{escape(s.labels.get(c, ''))}</td>" for c in columns)
        + f"<td>{escape(format_value(s.last(), unit))}</td></tr>"
        for s in sorted(rows, key=lambda s: sorted(s.labels.items()))
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_dashboard(
    board: dict[str, Any], prometheus: Prometheus, time_range: TimeRange, values: dict[str, str] | None = None
) -> Preview:
    """The page of `board` over `time_range`; `values` overrides dashboard variables (e.g. job)."""
    renderer = _Renderer(board, prometheus, time_range, values or {})
    spans, firing = renderer.annotations()
    results, sections = [], []
    for panel in board["panels"]:
        result, section = renderer.panel(panel, spans)
        results.append(result)
        sections.append(section)
    rows = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in board["panels"]), default=0)
    main_height = rows * (ROW + MARGIN)
    span = " to ".join(
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t)) for t in (time_range.start, time_range.end)
    )
    alerts = f" · firing alerts (shaded): {escape(', '.join(firing))}" if firing else ""
    title = escape(board["title"])
    html = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head>"
        f"<body><header><h1>{title}</h1><p>{span}{alerts} · {escape(NOTICE)}</p></header>"
        f'<main style="height:{main_height}px">{"".join(sections)}</main></body></html>'
    )
    return Preview(board["title"], html, WIDTH, main_height + 70, results)
