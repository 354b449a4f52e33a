"""CPU per span (or log record) of OTLP encoding: dcm_otel's encoder (dcm_otel.export, the default) against
the official one (``encode_spans(...).SerializeToString()``, what ``otlp_encoder: "official"`` runs).

Typical items, as dcm_otel makes them: an HTTP server span with 12 attributes, a DB span with 6 attributes
and a repeated-query event, a log record from the logging bridge with 8 attributes. Each is encoded in
batches of 64 (dcm_otel's span batch), the encoder kept across batches as the exporter keeps it; official
and ours alternate round by round, each round timed in thread CPU time. ``python -m
benchmarks.otlp_encoding`` prints the table docs/benchmarks.md shows ("OTLP encoding").
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from dcm_otel.export.log_encoding import LogEncoder
from dcm_otel.export.trace_encoding import TraceEncoder

BATCH = 64
RESOURCE = Resource.create(
    {"service.name": "shop", "service.version": "1.4.2", "deployment.environment.name": "production"}
)
STATEMENT = (
    'SELECT "shop_product"."id", "shop_product"."name", "shop_product"."price" FROM "shop_product" '
    'WHERE "shop_product"."category_id" = %s ORDER BY "shop_product"."name" ASC LIMIT 21'
)


def _spans(make: Callable[[Any, int], None]) -> list[ReadableSpan]:
    finished = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(finished))
    tracer = provider.get_tracer("dcm_otel.instrumentation.django", "0.1.0")
    for index in range(BATCH):
        make(tracer, index)
    return list(finished.get_finished_spans())


def http_server_span(tracer: Any, index: int) -> None:
    attributes = {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": f"/shop/products/{index}/",
        "client.address": "10.0.3.17",
        "server.address": "shop.example.com",
        "server.port": 443,
        "network.protocol.version": "1.1",
        "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "http.response.status_code": 200,
        "http.route": "/shop/products/<int:pk>/",
        "dcm.db.query.count": 5,
        "dcm.db.duration": 0.0042,
    }
    with tracer.start_as_current_span(
        "GET /shop/products/<int:pk>/", kind=SpanKind.SERVER, attributes=attributes
    ):
        pass


def db_span(tracer: Any, index: int) -> None:
    attributes = {
        "db.system.name": "postgresql",
        "db.namespace": "shop",
        "server.address": "db.internal",
        "server.port": 5432,
        "db.query.summary": "SELECT shop_product",
        "db.query.text": STATEMENT,
    }
    with tracer.start_as_current_span(
        "SELECT shop_product", kind=SpanKind.CLIENT, attributes=attributes
    ) as span:
        span.add_event("dcm.db.repeated_query", {"db.query.text": STATEMENT, "dcm.db.query.count": 5})


def log_records() -> list[ReadableLogRecord]:
    finished = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(resource=RESOURCE, shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(finished))
    logger = provider.get_logger("shop.orders")
    for index in range(BATCH):
        logger.emit(
            severity_text="INFO",
            body=f"order {index} paid",
            attributes={
                "code.function.name": "pay",
                "code.file.path": "/app/shop/orders.py",
                "code.line.number": 212,
                "thread.name": "MainThread",
                "thread.id": 140245,
                "dcm.job.id": "7d0c1a52-3b8e-4a4f-9d0e-1b7f0f4b2c11",
                "order.id": index,
                "http.route": "/shop/orders/<int:pk>/pay/",
            },
        )
    return list(finished.get_finished_logs())


def _per_item(encode: Callable[[], object], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.thread_time()
        encode()
        times.append((time.thread_time() - start) / BATCH * 1e6)
    return times


def measure(rounds: int = 400) -> dict[str, dict[str, float]]:
    """Per item type: median and best µs per item of each encoder, and bytes per item."""
    items: dict[str, tuple[Sequence[Any], Callable[[Any], object], Callable[[Any], bytes]]] = {
        "HTTP server span (12 attributes)": (
            _spans(http_server_span),
            _official_spans,
            TraceEncoder().encode,
        ),
        "DB span (6 attributes, 1 event)": (_spans(db_span), _official_spans, TraceEncoder().encode),
        "log record (8 attributes)": (log_records(), _official_logs, LogEncoder().encode),
    }
    figures: dict[str, dict[str, float]] = {}
    for name, (batch, official, ours) in items.items():
        ours(batch)  # the exporter's cache is warm after its first batch
        official_times: list[float] = []
        our_times: list[float] = []
        for _ in range(rounds // 20):  # interleaved, so that noise hits both alike
            official_times += _per_item(lambda: official(batch), 20)  # noqa: B023
            our_times += _per_item(lambda: ours(batch), 20)  # noqa: B023
        figures[name] = {
            "official median": statistics.median(official_times),
            "official best": min(official_times),
            "ours median": statistics.median(our_times),
            "ours best": min(our_times),
            "bytes": len(ours(batch)) / BATCH,
        }
    return figures


def _official_spans(batch: Sequence[ReadableSpan]) -> bytes:
    return encode_spans(batch).SerializeToString()


def _official_logs(batch: Sequence[ReadableLogRecord]) -> bytes:
    return encode_logs(batch).SerializeToString()


def table(figures: dict[str, dict[str, float]]) -> str:
    lines = [
        "| item | official µs (median / best) | ours µs (median / best) | ratio of medians | bytes/item |",
        "|---|---|---|---|---|",
    ]
    for name, f in figures.items():
        lines.append(
            f"| {name} | {f['official median']:.1f} / {f['official best']:.1f} | "
            f"{f['ours median']:.1f} / {f['ours best']:.1f} | "
            f"{f['official median'] / f['ours median']:.1f}x | {f['bytes']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    import google.protobuf

    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"{python}, protobuf {google.protobuf.__version__}")
    print(table(measure()))
