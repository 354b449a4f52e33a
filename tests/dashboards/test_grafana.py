"""The Grafana dashboards against a real Prometheus that scraped the demo (with our recording rules): every
query of every panel runs without error, every Overview panel returns data, and the JSON is current."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.dashboards.demo_stack import DemoStack
from tests.services._common import wait_until

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
VARIABLES = {"$job": ".+", "$__rate_interval": "1m"}


def dashboards() -> dict[str, Any]:
    return {p.name: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))}


def queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for panel in board["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            found.append((panel["title"], expr))
    return found


def query(url: str, expr: str) -> dict[str, Any]:
    body: dict[str, Any] = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=30).json()
    return body


def test_json_is_what_build_py_writes() -> None:
    spec = importlib.util.spec_from_file_location("grafana_build", GRAFANA / "build.py")
    assert spec is not None
    assert spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert {name: json.loads(text) for name, text in build.render().items()} == dashboards()


def test_datasource_is_a_variable_everywhere() -> None:
    for name, board in dashboards().items():
        names = [v["name"] for v in board["templating"]["list"]]
        assert "datasource" in names, name
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == "${datasource}", (name, panel["title"])


@pytest.mark.services
def test_every_query_runs(stack: DemoStack) -> None:
    prometheus = stack.prometheus_url
    # ~20 s of scrapes and rule evaluations, so the rates and recording rules have samples to work on.
    assert wait_until(
        lambda: bool(query(prometheus, "count_over_time(up[1m]) >= 20")["data"]["result"]), 90, 1
    )
    for name, board in dashboards().items():
        for title, expr in queries(board):
            body = query(prometheus, expr)
            assert body["status"] == "success", (name, title, expr, body)


@pytest.mark.services
def test_every_overview_panel_has_data(stack: DemoStack) -> None:
    prometheus = stack.prometheus_url
    overview = queries(dashboards()["overview.json"])

    def empty() -> list[str]:
        return [title for title, expr in overview if not query(prometheus, expr)["data"]["result"]]

    wait_until(lambda: not empty(), 60, 2)
    assert empty() == []
