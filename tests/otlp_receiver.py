"""A local OTLP/HTTP receiver for tests: decodes what exporters send, with the real protobuf schema.

``python -m tests.otlp_receiver PORT SECONDS`` serves on 127.0.0.1:PORT until terminated or for SECONDS at
most, decoding every request and keeping nothing: the benchmark's receiver when the collector is not
built (benchmarks/receiver.py).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

_REQUESTS: dict[str, type[Message]] = {
    "/v1/traces": ExportTraceServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
    "/v1/logs": ExportLogsServiceRequest,
}


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in kvs if isinstance(kv, KeyValue)}


@dataclass
class Span:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status_code: int
    events: list[str]


@dataclass
class Log:
    body: Any
    severity_text: str
    event_name: str
    trace_id: str
    span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str


@dataclass
class OtlpReceiver:
    """Collects every request body per path; ``headers`` keeps each request's headers too (unless ``keep``
    is false: then each body is decoded and dropped)."""

    server: ThreadingHTTPServer
    keep: bool = True
    received: dict[str, list[Message]] = field(default_factory=dict)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def spans(self) -> list[Span]:
        with self.lock:
            requests = list(self.received.get("/v1/traces", []))
        result = []
        for request in requests:
            for resource_spans in request.resource_spans:  # type: ignore[attr-defined]
                resource = attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for s in scope_spans.spans:
                        result.append(
                            Span(
                                s.name,
                                s.kind,
                                s.trace_id.hex(),
                                s.span_id.hex(),
                                s.parent_span_id.hex(),
                                attributes(s.attributes),
                                resource,
                                s.status.code,
                                [e.name for e in s.events],
                            )
                        )
        return result

    def logs(self) -> list[Log]:
        with self.lock:
            requests = list(self.received.get("/v1/logs", []))
        return [
            Log(
                value_of(r.body),
                r.severity_text,
                r.event_name,
                r.trace_id.hex(),
                r.span_id.hex(),
                attributes(r.attributes),
                attributes(resource_logs.resource.attributes),
                scope_logs.scope.name,
            )
            for request in requests
            for resource_logs in request.resource_logs  # type: ignore[attr-defined]
            for scope_logs in resource_logs.scope_logs
            for r in scope_logs.log_records
        ]

    def metric_points(self, name: str) -> Iterator[tuple[dict[str, Any], dict[str, Any], Any]]:
        """(resource attributes, point attributes, point) for every exported point of metric ``name``."""
        with self.lock:
            requests = list(self.received.get("/v1/metrics", []))
        for request in requests:
            for resource_metrics in request.resource_metrics:  # type: ignore[attr-defined]
                resource = attributes(resource_metrics.resource.attributes)
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        if metric.name != name:
                            continue
                        data = getattr(metric, metric.WhichOneof("data"))
                        for point in data.data_points:
                            yield resource, attributes(point.attributes), point

    def metric_shapes(self) -> dict[str, tuple[str, str, set[str]]]:
        """name -> (type, unit, attribute keys seen) for every metric exported by a ``dcm_otel`` scope."""
        kinds = {"histogram": "histogram", "gauge": "gauge"}
        with self.lock:
            requests = list(self.received.get("/v1/metrics", []))
        shapes: dict[str, tuple[str, str, set[str]]] = {}
        for request in requests:
            for resource_metrics in request.resource_metrics:  # type: ignore[attr-defined]
                for scope_metrics in resource_metrics.scope_metrics:
                    if not scope_metrics.scope.name.startswith("dcm_otel"):
                        continue
                    for metric in scope_metrics.metrics:
                        data_kind = metric.WhichOneof("data")
                        data = getattr(metric, data_kind)
                        kind = kinds.get(data_kind) or ("counter" if data.is_monotonic else "updowncounter")
                        keys = shapes.get(metric.name, (kind, metric.unit, set()))[2]
                        for point in data.data_points:
                            keys.update(kv.key for kv in point.attributes)
                        shapes[metric.name] = (kind, metric.unit, keys)
        return shapes

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_receiver(port: int = 0, keep: bool = True) -> OtlpReceiver:
    """A receiver on 127.0.0.1:``port`` (a free one by default)."""
    holder: dict[str, OtlpReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            message_type = _REQUESTS.get(self.path)
            if message_type is None:
                self.send_response(404)
                self.end_headers()
                return
            message = message_type()
            message.ParseFromString(body)
            receiver = holder["receiver"]
            if receiver.keep:
                with receiver.lock:
                    receiver.received.setdefault(self.path, []).append(message)
                    receiver.headers.append(dict(self.headers.items()))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read what was received, not an access log."""

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    holder["receiver"] = OtlpReceiver(server, keep)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return holder["receiver"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.otlp_receiver", description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("seconds", type=float, help="a bound, should the parent never terminate it")
    args = parser.parse_args()
    receiver = start_receiver(args.port, keep=False)
    threading.Event().wait(args.seconds)
    receiver.close()


if __name__ == "__main__":
    main()
