"""(Issue 12.2) After an outage the same workers export again, without a restart: the spans of requests
served once the backend is back all arrive, and the cumulative request metric counts every request,
including those served while the backend was down."""

from __future__ import annotations

import secrets
import time
import urllib.request
from pathlib import Path

import psutil
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from tests.otlp_receiver import OtlpReceiver, start_receiver
from tests.project_factory import write_project
from tests.reliability._support import report, seconds_since
from tests.reliability.conftest import otlp_env
from tests.services._common import free_port
from tests.test_gunicorn import ONE_LINE, get_concurrently, gunicorn

DOWN_REQUESTS, BACK_REQUESTS = 200, 200
ARRIVAL_TIMEOUT = 60.0  # an export caught in its retries gives up within the exporter's 10 s timeout


def traced_get(url: str) -> str:
    """A request continuing a fresh sampled trace; returns its trace id."""
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01", "Connection": "close"}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        assert response.status == 200
    return trace_id


def pid_request_count(receiver: OtlpReceiver) -> int:
    """The latest cumulative count of /pid/ requests, summed over the workers (their service instances)."""
    latest: dict[str, int] = {}
    for resource, attributes, point in receiver.metric_points("http.server.request.duration"):
        if attributes.get("http.route") == "/pid/":
            instance = resource["service.instance.id"]
            latest[instance] = max(latest.get(instance, 0), point.count)
    return sum(latest.values())


def test_export_resumes_when_the_backend_returns(tmp_path: Path) -> None:
    port = free_port()
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    with gunicorn(project, "-w", "2", **otlp_env(f"http://127.0.0.1:{port}")) as (process, base):
        before = set(get_concurrently(base + "/pid/", DOWN_REQUESTS))
        time.sleep(2)  # exports fail and retry meanwhile
        receiver = start_receiver(port)
        try:
            back = time.monotonic()
            trace_ids = {traced_get(base + "/pid/") for _ in range(BACK_REQUESTS)}

            def arrived() -> set[str]:
                return {
                    s.trace_id for s in receiver.spans() if s.kind == ProtoSpan.SPAN_KIND_SERVER
                } & trace_ids

            spans_back = receiver.wait_for(lambda: arrived() == trace_ids, ARRIVAL_TIMEOUT)
            resumed_s = seconds_since(back)
            total = DOWN_REQUESTS + BACK_REQUESTS
            counted = receiver.wait_for(lambda: pid_request_count(receiver) == total, ARRIVAL_TIMEOUT)
            after = {str(child.pid) for child in psutil.Process(process.pid).children()}
        finally:
            receiver.close()
    report(
        "backend back after an outage",
        requests_down=DOWN_REQUESTS,
        requests_back=BACK_REQUESTS,
        spans_back_received=len(arrived()),
        requests_counted=pid_request_count(receiver),
        all_back_within_s=resumed_s,
    )
    assert spans_back, f"{len(arrived())} of {BACK_REQUESTS} spans arrived"
    assert counted, pid_request_count(receiver)
    assert before <= after, "the workers that served during the outage are the ones exporting now"
