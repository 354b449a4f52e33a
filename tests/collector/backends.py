"""Real backends on 127.0.0.1 for the collector to export to: Prometheus (Debian's, receiving remote write)
and Jaeger v2 (built from Go modules, in-memory storage), with the queries the tests make."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.alerts.tools import Daemon, binary, get_json
from tests.services._common import free_port, wait_until

JAEGER_CONFIG = Path(__file__).with_name("jaeger-config.yaml")
STARTUP_TIMEOUT = 60.0


class Prometheus(Daemon):
    """Prometheus with the remote-write receiver on, TSDB in `data_dir`, and no scrape job of its own;
    optionally evaluating the rule files in `rules`, and with a shorter `lookback_delta` (5m by default: how
    long a series that stopped receiving samples is still read)."""

    def __init__(self, data_dir: Path, rules: Path | None = None, lookback_delta: str | None = None) -> None:
        config = data_dir / "prometheus.yml"
        rule_files = f"rule_files: ['{rules}/*.yml']\n" if rules else ""
        config.write_text(f"global:\n  evaluation_interval: 1s\n{rule_files}")
        port = free_port()
        argv = [
            binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
            *([f"--query.lookback-delta={lookback_delta}"] if lookback_delta else []),
        ]
        super().__init__("prometheus", argv, data_dir / "prometheus.log", port)

    @property
    def remote_write_url(self) -> str:
        return f"{self.url}/api/v1/write"

    def run(self) -> None:
        self.start()
        ready = wait_until(lambda: self.exited() or _ok(f"{self.url}/-/ready"), STARTUP_TIMEOUT, 0.2)
        if not ready or self.exited():
            self.stop()
            raise RuntimeError(f"Prometheus never became ready:\n{self.log_tail()}")

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's vector: [{"metric": {labels}, "value": [ts, "value"]}, ...]."""
        result: list[dict[str, Any]] = get_json(f"{self.url}/api/v1/query", query=promql)["data"]["result"]
        return result

    def scalar(self, promql: str) -> float | None:
        """The value of a query that yields one sample (a sum), None while it yields none."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None


class Jaeger(Daemon):
    """Jaeger v2 (all in one process) with memory storage: OTLP/gRPC in, the query HTTP API out."""

    def __init__(self, jaeger_binary: Path, log_dir: Path) -> None:
        self.otlp_port, query_grpc_port = free_port(), free_port()
        query_port = free_port()
        super().__init__(
            "jaeger", [str(jaeger_binary), f"--config={JAEGER_CONFIG}"], log_dir / "jaeger.log", query_port
        )
        self.env = {
            **os.environ,
            "JAEGER_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{self.otlp_port}",
            "JAEGER_QUERY_HTTP_ENDPOINT": f"127.0.0.1:{query_port}",
            "JAEGER_QUERY_GRPC_ENDPOINT": f"127.0.0.1:{query_grpc_port}",
        }

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.otlp_port}"

    def run(self) -> None:
        self.start(self.env)
        ready = wait_until(lambda: self.exited() or _ok(f"{self.url}/api/services"), STARTUP_TIMEOUT, 0.2)
        if not ready or self.exited():
            self.stop()
            raise RuntimeError(f"Jaeger never answered:\n{self.log_tail()}")

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        """The spans Jaeger holds for `trace_id` (OTLP JSON, with their resource attributes), [] if none."""
        response = requests.get(f"{self.url}/api/v3/traces/{trace_id}", timeout=5)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return [
            {**span, "resource": _attributes(resource_spans["resource"].get("attributes", []))}
            for resource_spans in response.json()["result"]["resourceSpans"]
            for scope_spans in resource_spans["scopeSpans"]
            for span in scope_spans["spans"]
        ]

    def trace_ids(self, service: str, operation: str) -> list[str]:
        """Ids of the recent traces of `service` holding an `operation` span (Jaeger's search API)."""
        found = get_json(f"{self.url}/api/traces", service=service, operation=operation, limit="100")
        return [trace["traceID"] for trace in found["data"] or []]

    def span_count(self, service: str, operation: str, limit: int) -> int:
        """How many `operation` spans of `service` Jaeger holds, over up to `limit` recent traces."""
        return len(self.span_ids(service, operation, limit))

    def span_ids(self, service: str, operation: str, limit: int) -> list[str]:
        """The ids of the `operation` spans of `service` Jaeger holds (a span stored twice: twice), over up to
        `limit` recent traces."""
        found = get_json(f"{self.url}/api/traces", service=service, operation=operation, limit=str(limit))
        return [
            span["spanID"]
            for trace in found["data"] or []
            for span in trace["spans"]
            if span["operationName"] == operation
        ]


def _attributes(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """OTLP JSON key/value pairs -> {key: value}."""
    return {pair["key"]: next(iter(pair["value"].values()), None) for pair in pairs}


def attributes(span: dict[str, Any]) -> dict[str, Any]:
    return _attributes(span.get("attributes", []))


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@contextmanager
def running(daemon: Prometheus | Jaeger) -> Iterator[None]:
    daemon.run()
    try:
        yield
    finally:
        daemon.stop()
