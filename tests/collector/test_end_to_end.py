"""End to end, every process real and on 127.0.0.1: the demo app and its job processor (jobs on a real
Docker Engine) -> the built collector (base + prometheus + jaeger + debug) -> Prometheus (remote write) and
Jaeger v2; then the test asks the backends what arrived, with exact counts."""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.alerts.tools import Daemon
from tests.services import DockerEngine
from tests.services._common import free_port, wait_until

from .backends import Jaeger, Prometheus, attributes
from .configs import ROOT, running_collector

RUN_DEMO = ROOT / "examples" / "demo" / "run_demo.py"
REQUESTS = 7
TERMINAL = ("completed", "failed", "timeout", "cancelled")
ARRIVAL_TIMEOUT = 120.0  # span_metrics flush (15 s) + metric export (1 s) + remote write, with room
JOBS_TIMEOUT = 120.0


def traceparent() -> tuple[str, str]:
    """A fresh sampled W3C traceparent and its trace id: the app continues the trace the test starts."""
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def job_statuses(var_dir: Path) -> Counter[str]:
    with sqlite3.connect(f"file:{var_dir / 'db.sqlite3'}?mode=ro", uri=True, timeout=10) as conn:
        return Counter(
            status for (status,) in conn.execute("SELECT status FROM container_manager_containerjob")
        )


def log_records(path: Path) -> list[dict[str, Any]]:
    """The log records the file exporter wrote (OTLP JSON lines; traces and metrics lines are skipped)."""
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [
        record
        for line in lines
        for resource_logs in line.get("resourceLogs", [])
        for scope_logs in resource_logs["scopeLogs"]
        for record in scope_logs["logRecords"]
    ]


def start_demo(tmp_path: Path, otlp_endpoint: str, docker_engine: DockerEngine) -> Daemon:
    port = free_port()
    demo = Daemon(
        "demo",
        [sys.executable, str(RUN_DEMO), "--port", str(port), "--no-private-docker", "--exit-after", "600"],
        tmp_path / "demo.log",
        port,
    )
    env = {
        **os.environ,
        "DEMO_VAR_DIR": str(tmp_path / "var"),
        "DOCKER_HOST": docker_engine.base_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "PYTHONUNBUFFERED": "1",
    }
    demo.start(env, timeout=120.0)
    return demo


def queue_job(session: requests.Session, base_url: str, header: str) -> None:
    """POST the demo's form (with its CSRF token) as a browser would; not following the redirect keeps the
    trace to this one request."""
    token = session.cookies["csrftoken"]
    response = session.post(
        f"{base_url}/jobs/new/",
        data={"name": "e2e", "command": "echo e2e", "csrfmiddlewaretoken": token},
        headers={"traceparent": header},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text


def wait_for_value(prometheus: Prometheus, promql: str, expected: float) -> float | None:
    wait_until(lambda: prometheus.scalar(promql) == expected, ARRIVAL_TIMEOUT, 1.0)
    return prometheus.scalar(promql)


def span_names(spans: list[dict[str, Any]]) -> set[str]:
    return {span["name"] for span in spans}


@pytest.mark.services
def test_demo_to_prometheus_and_jaeger(
    collector_binary: Path,
    prometheus: Prometheus,
    jaeger: Jaeger,
    docker_engine: DockerEngine,
    tmp_path: Path,
) -> None:
    telemetry = tmp_path / "telemetry.jsonl"
    env = {
        "PROMETHEUS_REMOTE_WRITE_ENDPOINT": prometheus.remote_write_url,
        "JAEGER_OTLP_ENDPOINT": jaeger.otlp_grpc_endpoint,
        "JAEGER_OTLP_INSECURE": "true",
        "OTELCOL_FILE_PATH": str(telemetry),
    }
    overlays = ["base", "prometheus", "jaeger", "debug"]
    with running_collector(collector_binary, overlays, env, tmp_path) as collector:
        demo = start_demo(tmp_path, collector.otlp_http, docker_engine)
        try:
            base_url = demo.url
            session = requests.Session()
            home_traces = []
            for _ in range(REQUESTS):
                trace_id, header = traceparent()
                response = session.get(f"{base_url}/", headers={"traceparent": header}, timeout=10)
                assert response.status_code == 200, response.text
                home_traces.append(trace_id)
            job_trace, header = traceparent()
            queue_job(session, base_url, header)

            done = wait_until(
                lambda: (
                    sum(job_statuses(tmp_path / "var").values()) == 5
                    and set(job_statuses(tmp_path / "var")) <= set(TERMINAL)
                ),
                JOBS_TIMEOUT,
                0.5,
            )
            assert done, f"jobs not finished: {job_statuses(tmp_path / 'var')}\n{demo.log_tail()}"
            statuses = job_statuses(tmp_path / "var")

            # Prometheus: exactly the requests sent, from the app's histogram and from the spans.
            requests_seen = 'sum(http_server_request_duration_seconds_count{http_route="/"})'
            assert wait_for_value(prometheus, requests_seen, REQUESTS) == REQUESTS, collector.log_tail()
            red = 'sum(traces_span_metrics_calls_total{span_name="GET /", span_kind="SPAN_KIND_SERVER"})'
            assert wait_for_value(prometheus, red, REQUESTS) == REQUESTS
            # The job processor's dcm.job.transitions into each terminal status equal the database's.
            for status, count in statuses.items():
                finished = f'sum(dcm_job_transitions_total{{dcm_job_status="{status}"}})'
                assert wait_for_value(prometheus, finished, count) == count, (status, statuses)

            # The collector's host metrics, told apart by their host (instance label from resource).
            host_series = f'count(system_memory_usage_bytes{{instance="{socket.gethostname()}"}})'
            assert wait_until(lambda: bool(prometheus.scalar(host_series)), ARRIVAL_TIMEOUT, 1.0)

            # Jaeger: every trace the test started, and the one that queued a job with its DB spans.
            assert wait_until(lambda: all(jaeger.trace(t) for t in home_traces), ARRIVAL_TIMEOUT, 1.0)
            assert wait_until(lambda: len(jaeger.trace(job_trace)) > 1, ARRIVAL_TIMEOUT, 1.0)
            queued = jaeger.trace(job_trace)
            server = [s for s in queued if s["name"] == "POST /jobs/new/"]
            assert len(server) == 1, span_names(queued)
            db_spans = [s for s in queued if "db.system.name" in attributes(s)]
            assert any(s["name"].startswith("INSERT ") for s in db_spans), queued
            assert all(s["parentSpanId"] for s in db_spans)

            # The job's run is its own trace, linked to the request that queued it, with the Docker calls.
            run = find_job_run(jaeger, job_trace)
            docker_calls = {name for name in span_names(run) if name.startswith("docker ")}
            assert {"docker containers.create", "docker containers.start"} <= docker_calls, span_names(run)

            # Logs: the file exporter got the app's log records, correlated with the traces.
            wait_until(lambda: len(log_records(telemetry)) > 0, ARRIVAL_TIMEOUT, 1.0)
            records = log_records(telemetry)
            assert records, collector.log_tail()
            run_trace = run[0]["traceId"]
            assert any(record.get("traceId") == run_trace for record in records), records[:5]
        finally:
            demo.stop(grace=90.0)


def find_job_run(jaeger: Jaeger, creator_trace: str) -> list[dict[str, Any]]:
    """The spans of the trace whose `dcm.job.run` span links to `creator_trace`."""
    found: list[list[dict[str, Any]]] = []

    def search() -> bool:
        for trace_id in jaeger.trace_ids("demo", "dcm.job.run"):
            spans = jaeger.trace(trace_id)
            runs = [s for s in spans if s["name"] == "dcm.job.run"]
            if any(link["traceId"] == creator_trace for s in runs for link in s.get("links", [])):
                found.append(spans)
                return True
        return False

    assert wait_until(search, ARRIVAL_TIMEOUT, 1.0), "no dcm.job.run span links to the request's trace"
    return found[0]
