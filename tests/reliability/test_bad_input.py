"""(Issue 12.6) Malformed trace context, huge headers and non-UTF-8 paths and queries must neither break
the request nor lose its span: sent as raw bytes, since an HTTP client would refuse to send most of them."""

from __future__ import annotations

import socket
from pathlib import Path

from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from tests.otlp_receiver import OtlpReceiver, Span
from tests.project_factory import write_project
from tests.reliability._support import report
from tests.test_gunicorn import ONE_LINE, gunicorn, receiver

__all__ = ["receiver"]  # the fixture

GUNICORN_REJECTS = {400, 431}  # answered by gunicorn's parser: Django never sees them, so no span
ZERO_TRACE = "00-" + "0" * 32 + "-" + "0" * 16 + "-01"
BAD: dict[str, tuple[bytes, dict[str, bytes]]] = {
    "garbage traceparent": (b"/", {"traceparent": b"garbage"}),
    "non-hex traceparent": (b"/", {"traceparent": b"00-" + b"z" * 32 + b"-" + b"z" * 16 + b"-01"}),
    "all-zero traceparent": (b"/", {"traceparent": ZERO_TRACE.encode()}),
    "future-version traceparent": (b"/", {"traceparent": b"ff-" + b"1" * 32 + b"-" + b"1" * 16 + b"-01"}),
    "non-UTF-8 traceparent": (b"/", {"traceparent": b"00-\xff\xfe-\xc3(-01", "tracestate": b"\xff=\xfe"}),
    "8 KB header": (b"/", {"x-big": b"a" * 8000}),
    "8 KB tracestate": (b"/", {"tracestate": b"k=" + b"v" * 7990}),
    "over gunicorn's header limit": (b"/", {"x-huge": b"a" * 20000}),
    "percent-encoded non-UTF-8 path": (b"/%ff%fe/", {}),
    "raw non-UTF-8 path": (b"/\xff\xfe/", {}),
    "percent-encoded non-UTF-8 query": (b"/?q=%ff%fe&%c3(=1", {}),
    "raw non-UTF-8 query": (b"/?q=%ff%fe&r=\xff", {}),
}


def raw_get(base: str, target: bytes, headers: dict[str, bytes]) -> int:
    host, port = base.removeprefix("http://").split(":")
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: " + host.encode(), b"Connection: close"]
    lines += [name.encode() + b": " + value for name, value in headers.items()]
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    return int(response.split(b" ", 2)[1])


def test_bad_input_is_served_and_traced(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    env = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
    with gunicorn(project, "-w", "1", OTEL_BSP_SCHEDULE_DELAY="100", **env) as (process, base):
        assert receiver.wait_for(lambda: bool(_server_spans(receiver)))  # the readiness probe's
        receiver.received.clear()
        statuses = {case: raw_get(base, target, headers) for case, (target, headers) in BAD.items()}
        assert raw_get(base, b"/", {}) == 200, "the worker still serves"
        reached_django = sum(status not in GUNICORN_REJECTS for status in statuses.values()) + 1
        assert receiver.wait_for(lambda: len(_server_spans(receiver)) >= reached_django)
        process.terminate()
        output = process.communicate(timeout=30)[0]
    spans = _server_spans(receiver)
    report("bad input", **{case.replace(" ", "_"): status for case, status in statuses.items()})
    assert all(status < 500 for status in statuses.values()), statuses
    assert len(spans) == reached_django
    assert all(span.status_code != Status.STATUS_CODE_ERROR for span in spans)
    assert not any(span.parent_span_id for span in spans), "no malformed context becomes a parent"
    assert "Traceback" not in output, output


def _server_spans(receiver: OtlpReceiver) -> list[Span]:
    return [s for s in receiver.spans() if s.kind == ProtoSpan.SPAN_KIND_SERVER]
