"""The Grafana dashboards against a real Prometheus that scraped the demo (with our recording rules): every
query of every panel runs without error, every Overview panel returns data, and the JSON is current."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from dcm_otel.devtools.private_postgres import free_port
from tests.dashboards.cdp import stop
from tests.services._common import INSTALL_HINT, port_open, unavailable, wait_until

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*recording*.yml"))
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


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        unavailable(f"no prometheus ({INSTALL_HINT})")
    work = tmp_path_factory.mktemp("grafana")
    demo_port, prom_port = free_port(), free_port()
    demo = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "examples/demo/run_demo.py"),
            "--port",
            str(demo_port),
            "--no-docker",
            "--exit-after",
            "240",
        ],
        env={**_clean_env(), "DEMO_VAR_DIR": str(work / "demo")},
        stdout=(work / "demo.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in RULES],
        "scrape_configs": [{"job_name": "demo", "static_configs": [{"targets": [f"127.0.0.1:{demo_port}"]}]}],
    }
    (work / "prometheus.yml").write_text(json.dumps(config))
    prom = subprocess.Popen(
        [
            binary,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=(work / "prometheus.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_until(lambda: port_open("127.0.0.1", prom_port), 60, 0.2), (
            work / "prometheus.log"
        ).read_text()
        assert wait_until(lambda: port_open("127.0.0.1", demo_port), 180, 0.5), (
            work / "demo.log"
        ).read_text()[-3000:]
        yield f"http://127.0.0.1:{prom_port}"
    finally:
        stop(prom)
        stop(demo)


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DCM_OTEL_", "DJANGO_"))}


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


def test_every_query_runs(prometheus: str) -> None:
    # ~20 s of scrapes and rule evaluations, so the rates and recording rules have samples to work on.
    assert wait_until(
        lambda: bool(query(prometheus, "count_over_time(up[1m]) >= 20")["data"]["result"]), 90, 1
    )
    for name, board in dashboards().items():
        for title, expr in queries(board):
            body = query(prometheus, expr)
            assert body["status"] == "success", (name, title, expr, body)


def test_every_overview_panel_has_data(prometheus: str) -> None:
    overview = queries(dashboards()["overview.json"])

    def empty() -> list[str]:
        return [title for title, expr in overview if not query(prometheus, expr)["data"]["result"]]

    wait_until(lambda: not empty(), 60, 2)
    assert empty() == []
