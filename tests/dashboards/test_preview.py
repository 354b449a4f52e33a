"""The dashboard preview (dcm_otel_devtools.grafana_preview) on every dashboard against the session's demo
stack: every panel of the JSON drawn, each with data and no error, the firing alert shaded, and a PNG from
headless Chromium of the page's size.

DCM_OTEL_PREVIEW_DIR=docs/images also writes docs/images/grafana-<dashboard>.png, from a longer run: 6 minutes
after a 5-minute warm-up, when the recording rules' 5-minute rates have filled up."""

from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from dcm_otel_devtools.grafana_preview import Preview, Prometheus, TimeRange, render_dashboard, screenshot
from dcm_otel_devtools.grafana_preview.screenshot import ScreenshotError, browser
from tests.dashboards.demo_stack import FIRING, DemoStack
from tests.services._common import INSTALL_HINT, unavailable, wait_until

pytestmark = pytest.mark.services

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
PREVIEW_DIR = os.environ.get("DCM_OTEL_PREVIEW_DIR")
WARM_UP, DOCS_RUN = 300.0, 660.0  # seconds into the demo's run: the docs' pictures show the time between
DATA_TIMEOUT = 300.0


def boards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def previews(stack: DemoStack, since: float = 0.0) -> dict[str, Preview]:
    prometheus = Prometheus(stack.prometheus_url)
    # Grafana's default scrape interval (our provisioning sets none) sets $__rate_interval and the step.
    time_range = TimeRange(stack.started + since, time.time())
    return {name: render_dashboard(board, prometheus, time_range) for name, board in boards().items()}


def problems(found: dict[str, Preview]) -> list[tuple[str, str, str]]:
    return [(name, p.title, p.error or "no data") for name, v in found.items() for p in v.panels if not p.ok]


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.timeout(DATA_TIMEOUT + DOCS_RUN + 300)
def test_every_panel_of_every_dashboard_is_drawn_with_data(stack: DemoStack, tmp_path: Path) -> None:
    try:
        browser()
    except ScreenshotError as error:
        unavailable(f"{error} ({INSTALL_HINT})")
    latest: dict[str, Preview] = {}

    def complete() -> bool:
        latest.update(previews(stack))
        return not problems(latest) and FIRING in latest["overview"].html

    assert wait_until(complete, DATA_TIMEOUT, 5), problems(latest)
    if PREVIEW_DIR:
        time.sleep(max(0.0, stack.started + DOCS_RUN - time.time()))
        latest = previews(stack, since=WARM_UP)
        assert problems(latest) == []

    for name, board in boards().items():
        preview = latest[name]
        assert [p.id for p in preview.panels] == [p["id"] for p in board["panels"]], name
        assert f"firing alerts (shaded): {FIRING}" in preview.html, name
    assert "<td>database</td><td>1</td>" in latest["http-db"].html  # the readiness table, from /ready/

    out = Path(PREVIEW_DIR) if PREVIEW_DIR else tmp_path
    for name, preview in latest.items():
        html = out / f"grafana-{name}.html"
        html.write_text(preview.html)
        png = html.with_suffix(".png")
        screenshot(html, png, preview.width, preview.height)
        assert png_size(png) == (preview.width, preview.height)
        assert png.stat().st_size > 20_000, png  # drawn panels, not a blank page
        if PREVIEW_DIR:
            html.unlink()


def test_a_failing_query_is_reported_on_its_panel(stack: DemoStack) -> None:
    board = {
        "title": "broken",
        "panels": [
            {
                "id": 1,
                "title": "bad",
                "type": "timeseries",
                "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
                "targets": [{"expr": "sum(rate(up[1m]"}],
            },
            {
                "id": 2,
                "title": "empty",
                "type": "stat",
                "gridPos": {"x": 12, "y": 0, "w": 4, "h": 4},
                "targets": [{"expr": "no_such_metric"}],
            },
        ],
    }
    time_range = TimeRange(time.time() - 60, time.time(), scrape_interval=1.0)
    preview = render_dashboard(board, Prometheus(stack.prometheus_url), time_range)
    bad, empty = preview.panels
    assert bad.error is not None
    assert "parse error" in bad.error
    assert not bad.ok
    assert (empty.error, empty.series, empty.ok) == (None, 0, False)
    assert 'class="error"' in preview.html
    assert "No data" in preview.html
