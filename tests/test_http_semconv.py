"""The request middleware against the HTTP, url, exception and error conventions (v1.44.0): unknown methods,
QUERY, query strings and their sensitive values, the exception event and the status description."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from dcm_otel.instrumentation.django.middleware import server_of
from tests.otlp_receiver import OtlpReceiver, attributes, start_receiver
from tests.shop_project import request, write_shop_project

SERVER = ProtoSpan.SPAN_KIND_SERVER
ERROR = 2  # STATUS_CODE_ERROR

# shop_requests.py, with the method from an HTTP/2-style ":method" pseudo-header (GET without one).
REQUESTS = """\
import json, sys
import django
from django.test import Client

django.setup()
client = Client(raise_request_exception=False)
for path, headers in json.loads(sys.argv[1]):
    response = client.generic(headers.pop(":method", "GET"), path, headers=headers)
    print(json.dumps([path, response.status_code, response.content.decode()]), flush=True)
"""

LEAK_VIEW = """
def leak(request):
    raise ValueError("cannot connect: password=hunter2")


urlpatterns.append(path("leak/", leak))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = write_shop_project(tmp_path_factory.mktemp("http-semconv"))
    (project / "shop_requests.py").write_text(REQUESTS)
    with (project / "urls.py").open("a") as urls:
        urls.write(LEAK_VIEW)
    return project


def serve(project: Path, *requests: tuple[str, str], **env: str) -> tuple[OtlpReceiver, list[Any]]:
    """Runs (method, path) ``requests`` in one process exporting to a fresh receiver, with ``env`` added to
    its environment; its SERVER spans (protobuf, to read events and status descriptions)."""
    receiver = start_receiver()
    try:
        request(project, receiver, *((path, {":method": method}) for method, path in requests), **env)
    finally:
        receiver.close()
    spans = [
        span
        for request_spans in receiver.received.get("/v1/traces", [])
        for resource_spans in request_spans.resource_spans  # type: ignore[attr-defined]
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
        if span.kind == SERVER
    ]
    return receiver, spans


def by_path(spans: list[Any]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(method as sent, path) -> (span name, attributes)."""
    result = {}
    for span in spans:
        values = attributes(span.attributes)
        sent = values.get("http.request.method_original", values["http.request.method"])
        result[(sent, values["url.path"])] = (span.name, values)
    return result


def test_unknown_methods_are_other_with_the_original_and_named_http(project: Path) -> None:
    receiver, spans = serve(project, ("FOO", "/"), ("FOO", "/nowhere/"), ("QUERY", "/"), ("GET", "/"))
    spans_by_path = by_path(spans)
    name, values = spans_by_path[("FOO", "/")]
    assert name == "HTTP /"
    assert (values["http.request.method"], values["http.request.method_original"]) == ("_OTHER", "FOO")
    assert spans_by_path[("FOO", "/nowhere/")][0] == "HTTP"  # no route matched
    name, values = spans_by_path[("QUERY", "/")]
    assert (name, values["http.request.method"]) == ("QUERY /", "QUERY")
    assert "http.request.method_original" not in values  # only when it differs
    assert "http.request.method_original" not in spans_by_path[("GET", "/")][1]
    # The metrics keep the bounded _OTHER and no span-only attribute.
    methods = {
        point_attributes["http.request.method"]
        for _, point_attributes, _ in receiver.metric_points("http.server.request.duration")
    }
    assert methods == {"_OTHER", "QUERY", "GET"}
    keys = {key for _, a, _ in receiver.metric_points("http.server.request.duration") for key in a}
    assert not keys & {"http.request.method_original", "url.query", "url.path"}


def test_the_known_methods_variable_replaces_the_defaults(project: Path) -> None:
    """OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS is the full list: FOO becomes known, POST no longer is."""
    receiver, spans = serve(
        project, ("FOO", "/"), ("POST", "/"), ("GET", "/"), OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS="GET,FOO"
    )
    spans_by_path = by_path(spans)
    name, values = spans_by_path[("FOO", "/")]
    assert (name, values["http.request.method"]) == ("FOO /", "FOO")
    assert "http.request.method_original" not in values
    name, values = spans_by_path[("POST", "/")]
    assert name == "HTTP /"
    assert (values["http.request.method"], values["http.request.method_original"]) == ("_OTHER", "POST")
    assert spans_by_path[("GET", "/")][0] == "GET /"
    methods = {
        point_attributes["http.request.method"]
        for _, point_attributes, _ in receiver.metric_points("http.server.request.duration")
    }
    assert methods == {"FOO", "_OTHER", "GET"}


def test_a_query_string_is_url_query_with_sensitive_values_redacted(project: Path) -> None:
    query = (
        "q=OpenTelemetry&sig=abc&X-Goog-Signature=def&X-Amz-Signature=ghi&Signature=jkl"
        "&api_token=s3cr3t&AWSAccessKeyId=AKIA1&SIG=kept"
    )
    _, spans = serve(project, ("GET", f"/?{query}"), ("GET", "/items/"))
    spans_by_path = by_path(spans)
    assert spans_by_path[("GET", "/")][1]["url.query"] == (
        "q=OpenTelemetry&sig=REDACTED&X-Goog-Signature=REDACTED&X-Amz-Signature=REDACTED"
        "&Signature=REDACTED&api_token=***&AWSAccessKeyId=***&SIG=kept"  # *** : the redact_keys mask
    )
    assert "url.query" not in spans_by_path[("GET", "/items/")][1]


def test_exception_event_has_no_escaped_and_the_description_adds_information(project: Path) -> None:
    _, spans = serve(project, ("GET", "/boom/"), ("GET", "/leak/"), ("GET", "/unavailable/"))
    named = {span.name: span for span in spans}
    boom, leak, unavailable = named["GET /boom/"], named["GET /leak/"], named["GET /unavailable/"]
    [event] = boom.events
    event_attributes = attributes(event.attributes)
    assert event.name == "exception"
    assert set(event_attributes) == {"exception.type", "exception.message", "exception.stacktrace"}
    assert (event_attributes["exception.type"], event_attributes["exception.message"]) == (
        "RuntimeError",
        "boom",
    )
    assert 'raise RuntimeError("boom")' in event_attributes["exception.stacktrace"]
    assert boom.status.message == "boom"  # the exception's message, not error.type
    # Exception text is masked like a log record's, in the event and the status.
    [event] = leak.events
    assert attributes(event.attributes)["exception.message"] == "cannot connect: password=***"
    assert "hunter2" not in attributes(event.attributes)["exception.stacktrace"]
    assert leak.status.message == "cannot connect: password=***"
    # A 5xx without an exception: the code says it all, so no description.
    assert (unavailable.status.code, unavailable.status.message) == (
        ERROR,
        "",
    )


def test_server_protocol_and_user_agent_on_the_span_protocol_only_on_the_metric(project: Path) -> None:
    receiver = start_receiver()
    try:
        request(
            project,
            receiver,
            ("/", {"host": "shop.example:8443", "user-agent": "probe/1.0"}),
            ("/items/", {}),  # no Host header, no User-Agent: the test client's SERVER_NAME and SERVER_PORT
        )
    finally:
        receiver.close()
    spans = {s.attributes["url.path"]: s.attributes for s in receiver.spans() if s.kind == SERVER}
    with_host, without = spans["/"], spans["/items/"]
    assert (with_host["server.address"], with_host["server.port"]) == ("shop.example", 8443)
    assert with_host["user_agent.original"] == "probe/1.0"
    assert (without["server.address"], without["server.port"]) == ("testserver", 80)
    assert "user_agent.original" not in without
    assert with_host["network.protocol.version"] == without["network.protocol.version"] == "1.1"
    points = receiver.metric_points("http.server.request.duration")
    assert {a.get("network.protocol.version") for _, a, _ in points} == {"1.1"}
    keys = {key for _, a, _ in points for key in a}
    assert not keys & {"server.address", "server.port", "user_agent.original", "client.address"}


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"HTTP_HOST": "shop.example:8443"}, ("shop.example", 8443)),
        ({"HTTP_HOST": "shop.example"}, ("shop.example", 443)),  # the scheme's port
        ({"HTTP_HOST": "[::1]:8000"}, ("[::1]", 8000)),
        ({"HTTP_HOST": "[::1]"}, ("[::1]", 443)),
        ({"HTTP_HOST": "shop.example:x"}, ("shop.example", None)),
        ({"SERVER_NAME": "backend", "SERVER_PORT": "8000"}, ("backend", 8000)),
        ({}, ("", None)),
    ],
)
def test_server_address_and_port_as_pep_3333_rebuilds_the_url(
    meta: dict[str, str], expected: tuple[str, int | None]
) -> None:
    assert server_of(meta, "https") == expected
