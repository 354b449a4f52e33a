"""``python -m dcm_otel_devtools.grafana_preview``: a PNG (and its HTML) per dashboard JSON file."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from dcm_otel.alerts.render import duration_seconds
from dcm_otel_devtools.grafana_preview.page import render_dashboard
from dcm_otel_devtools.grafana_preview.prometheus import Prometheus, TimeRange
from dcm_otel_devtools.grafana_preview.screenshot import ScreenshotError, screenshot


def _seconds(text: str) -> float:
    seconds = duration_seconds(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"not a Prometheus duration such as 30m or 1h: {text!r}")
    return seconds


def _variable(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not (name and equals):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE: {text!r}")
    return name, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcm_otel_devtools.grafana_preview", description=__doc__)
    parser.add_argument("dashboards", nargs="+", type=Path, help="Grafana dashboard JSON files")
    parser.add_argument("--prometheus", required=True, help="base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("--range", type=_seconds, default="1h", help="time range ending now, e.g. 30m")
    parser.add_argument(
        "--scrape-interval", type=_seconds, default="15s", help="the datasource's (Grafana's default: 15s)"
    )
    parser.add_argument(
        "--var", type=_variable, action="append", default=[], metavar="NAME=VALUE", help="a variable's value"
    )
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for <name>.html and .png")
    parser.add_argument("--prefix", default="", help="file name prefix, e.g. grafana-")
    parser.add_argument("--html-only", action="store_true", help="write the HTML, take no screenshot")
    args = parser.parse_args(argv)

    end = time.time()
    time_range = TimeRange(end - args.range, end, args.scrape_interval)
    try:
        prometheus = Prometheus(args.prometheus)
    except ValueError as error:
        parser.error(str(error))
    args.out.mkdir(parents=True, exist_ok=True)
    problems = 0
    for path in args.dashboards:
        preview = render_dashboard(json.loads(path.read_text()), prometheus, time_range, dict(args.var))
        html = args.out / f"{args.prefix}{path.stem}.html"
        html.write_text(preview.html)
        for panel in preview.panels:
            if not panel.ok:
                problems += 1
                print(
                    f"{path.name}: panel {panel.id} {panel.title!r}: {panel.error or 'no data'}",
                    file=sys.stderr,
                )
        if not args.html_only:
            try:
                screenshot(html, html.with_suffix(".png"), preview.width, preview.height)
            except ScreenshotError as error:
                print(f"grafana_preview: {error}", file=sys.stderr)
                return 2
        print(f"wrote {html if args.html_only else html.with_suffix('.png')}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
