"""A preview of the Grafana dashboards (deploy/grafana/dashboards) without Grafana: each panel's queries run
on a real Prometheus, the panels are drawn as inline SVG where the dashboard JSON places them, and headless
Chromium photographs the page. It draws time series, stat and table panels in a simple style, not Grafana's.

A development tool (the docs' dashboard images, a check that every panel has data), kept beside the other
devtools so that it is typed, linted and importable by the tests; the instrumentation never imports it.

    python -m dcm_otel_devtools.grafana_preview deploy/grafana/dashboards/*.json \\
        --prometheus http://127.0.0.1:9090 --range 30m --out previews/
"""

from dcm_otel_devtools.grafana_preview.page import PanelResult, Preview, render_dashboard
from dcm_otel_devtools.grafana_preview.prometheus import Prometheus, TimeRange
from dcm_otel_devtools.grafana_preview.screenshot import screenshot

__all__ = ["PanelResult", "Preview", "Prometheus", "TimeRange", "render_dashboard", "screenshot"]
