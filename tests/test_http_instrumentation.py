"""The request middleware: one SERVER span per request named after the route template, the stable HTTP
conventions only, errors on 5xx and exceptions, incoming trace context honoured, and excluded paths (health
checks by default, configurable) leaving no span, no DB span and no duration sample."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from tests.otlp_receiver import OtlpReceiver, Span, start_receiver
from tests.shop_project import JOB, request, write_shop_project

SERVER = ProtoSpan.SPAN_KIND_SERVER
ERROR = 2  # STATUS_CODE_ERROR
STABLE_SPAN_ATTRIBUTES = {
    "http.request.method",
    "http.route",
    "http.response.status_code",
    "url.path",
    "url.scheme",
    "client.address",
    "error.type",
    "network.protocol.version",
    "server.address",
    "server.port",
    "user_agent.original",
}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shop_project(tmp_path_factory.mktemp("http"))


def server_spans(receiver: OtlpReceiver) -> dict[str, Span]:
    return {s.name: s for s in receiver.spans() if s.kind == SERVER}


def durations(receiver: OtlpReceiver) -> dict[frozenset[tuple[str, Any]], int]:
    """Request count per attribute set of ``http.server.request.duration`` (last, cumulative export)."""
    return {
        frozenset(a.items()): p.count for _, a, p in receiver.metric_points("http.server.request.duration")
    }


def test_route_template_names_the_span_and_labels_the_metric(project: Path, receiver: OtlpReceiver) -> None:
    other_job = JOB.replace("6f1c", "0000")
    request(project, receiver, JOB, other_job)
    spans = {s.attributes["url.path"]: s for s in receiver.spans() if s.kind == SERVER}
    assert set(spans) == {JOB, other_job}
    assert {s.name for s in spans.values()} == {"GET /jobs/<uuid:pk>/"}
    assert spans[JOB].attributes == {
        "http.request.method": "GET",
        "http.route": "/jobs/<uuid:pk>/",
        "http.response.status_code": 200,
        "url.path": JOB,
        "url.scheme": "http",
        "client.address": "127.0.0.1",
        "network.protocol.version": "1.1",
        "server.address": "testserver",
        "server.port": 80,
    }
    assert durations(receiver) == {
        frozenset(
            {
                ("http.request.method", "GET"),
                ("http.route", "/jobs/<uuid:pk>/"),
                ("http.response.status_code", 200),
                ("url.scheme", "http"),
                ("network.protocol.version", "1.1"),
            }
        ): 2
    }
    active = {
        frozenset(a.items()): p.as_int for _, a, p in receiver.metric_points("http.server.active_requests")
    }
    assert active == {frozenset({("http.request.method", "GET"), ("url.scheme", "http")}): 0}


def test_5xx_and_exceptions_are_errors(project: Path, receiver: OtlpReceiver) -> None:
    request(project, receiver, "/unavailable/", "/boom/")
    spans = server_spans(receiver)
    unavailable, boom = spans["GET /unavailable/"], spans["GET /boom/"]
    assert (unavailable.status_code, unavailable.attributes["error.type"]) == (ERROR, "503")
    assert (boom.status_code, boom.attributes["error.type"]) == (ERROR, "RuntimeError")
    assert boom.events == ["exception"]
    assert all(set(s.attributes) <= STABLE_SPAN_ATTRIBUTES for s in spans.values())
    errors = {dict(k)["http.route"]: dict(k)["error.type"] for k in durations(receiver)}
    assert errors == {"/unavailable/": "503", "/boom/": "RuntimeError"}


def test_an_incoming_traceparent_is_the_parent(project: Path, receiver: OtlpReceiver) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    request(project, receiver, ("/", {"traceparent": f"00-{trace_id}-{parent_id}-01"}))
    span = server_spans(receiver)["GET /"]
    assert (span.trace_id, span.parent_span_id) == (trace_id, parent_id)


def test_health_checks_leave_no_trace(project: Path, receiver: OtlpReceiver) -> None:
    answers = request(project, receiver, "/health/", "/internal/health/")
    assert answers["/health/"][0] == 200
    spans = receiver.spans()
    # /health/ (excluded by default) left nothing, not even the span of its query; the other did.
    assert {s.name for s in spans if s.kind == SERVER} == {"GET /internal/health/"}
    assert len([s for s in spans if s.attributes.get("db.query.summary") == 'SELECT "shop_item"']) == 1
    assert {dict(k)["http.route"] for k in durations(receiver)} == {"/internal/health/"}


def test_excluded_paths_are_a_setting(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_shop_project(tmp_path, dcm_otel={"excluded_paths": ["/internal/"]})
    request(project, receiver, "/health/", "/internal/health/")
    assert set(server_spans(receiver)) == {"GET /health/"}
    assert {dict(k)["http.route"] for k in durations(receiver)} == {"/health/"}
