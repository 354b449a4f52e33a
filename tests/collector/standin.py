"""A stand-in for the endpoints that cannot run here (Datadog Agent, New Relic, Elastic, Loki: a SaaS or a
licence that rules it out): it records each OTLP/HTTP request exactly as the collector sent it (path,
headers, gzip-decoded protobuf) and answers as the OTLP/HTTP spec says, so tests assert the request."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

SIGNALS: dict[str, type[Message]] = {
    "traces": ExportTraceServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "logs": ExportLogsServiceRequest,
}


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]  # names lower-cased
    message: Message

    @property
    def signal(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class StandIn:
    url: str
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, signal: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.signal == signal]


def _handler(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            message_type = SIGNALS.get(self.path.rsplit("/", 1)[-1])
            if message_type is None or self.path.rsplit("/", 2)[-2] != "v1":
                self.send_response(404)
                self.end_headers()
                return
            message = message_type()
            message.ParseFromString(body)
            headers = {name.lower(): value for name, value in self.headers.items()}
            with stand_in.lock:
                stand_in.requests.append(Request(self.path, headers, message))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read the recorded requests."""

    return Handler


@contextmanager
def stand_in() -> Iterator[StandIn]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    recorder = StandIn(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(recorder)
    with serving(server):
        yield recorder


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[None]:
    """Serve ``server`` (bound, its handler set) in a daemon thread until the block ends."""
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
