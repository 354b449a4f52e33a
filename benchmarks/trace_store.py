"""``python -m benchmarks.trace_store``: what the trace explorer costs per stored span.

Three figures, medians over rounds, on the SQLite database the explorer uses for a SQLite app (its own file):

- **caller**: the extra time to create and end spans with the explorer's processor on the provider, the
  writer thread running meanwhile (it shares the GIL with the caller; that is part of the cost);
- **enqueue**: ``on_end`` alone, the writer held back: what the request's own thread pays;
- **writer**: the time the writer spends per span (masking, JSON, the batch insert and the trim), with the
  store already at its bound, so that every batch also deletes the oldest traces.

Spans are shaped like a request's: a SERVER span with the HTTP attributes and three query spans.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.core.management import call_command
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Tracer

HTTP = {
    "http.request.method": "GET",
    "http.route": "/items/<int:pk>/",
    "url.path": "/items/42/",
    "url.scheme": "http",
    "server.address": "127.0.0.1",
    "server.port": 8000,
    "network.protocol.version": "1.1",
    "user_agent.original": "bench/1.0",
    "http.response.status_code": 200,
}
DB = {
    "db.system.name": "sqlite",
    "db.query.summary": 'SELECT "shop_item"',
    "db.query.text": 'SELECT "shop_item"."id", "shop_item"."name" FROM "shop_item" WHERE "id" = %s',
}
SPANS_PER_TRACE = 4
MAX_TRACES = 500


def _setup(directory: Path) -> None:
    settings.configure(
        SECRET_KEY="bench-only",  # noqa: S106
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "dcm_otel"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": directory / "db.sqlite3",
                "OPTIONS": {"timeout": 20},
            }
        },
        USE_TZ=True,
        DCM_OTEL={"sdk_disabled": True},  # this benchmark makes its own providers
    )
    django.setup()
    call_command("migrate", verbosity=0)


def _requests(tracer: Tracer, count: int) -> None:
    for _ in range(count):
        with tracer.start_as_current_span("GET /items/<int:pk>/", kind=SpanKind.SERVER, attributes=HTTP):
            for _ in range(SPANS_PER_TRACE - 1):
                with tracer.start_as_current_span('SELECT "shop_item"', kind=SpanKind.CLIENT, attributes=DB):
                    pass


def _store() -> Any:
    from dcm_otel.config import load_config
    from dcm_otel.trace_explorer.store import TraceStore

    return TraceStore(load_config({"trace_explorer": True, "trace_explorer_max_traces": MAX_TRACES}))


def caller_ns_per_span(requests: int) -> tuple[float, float]:
    """A span's own cost without the explorer, and what the explorer adds to it."""
    plain = TracerProvider()
    with_store = TracerProvider()
    store = _store()
    with_store.add_span_processor(store)
    _requests(with_store.get_tracer("bench"), 50)  # the writer started, the tables made
    store.force_flush()
    start = time.perf_counter_ns()
    _requests(plain.get_tracer("bench"), requests)
    plain_ns = time.perf_counter_ns() - start
    start = time.perf_counter_ns()
    _requests(with_store.get_tracer("bench"), requests)
    store_ns = time.perf_counter_ns() - start
    store.force_flush()
    if store.dropped:
        raise SystemExit(f"{store.dropped} spans dropped: lower --requests")
    spans = requests * SPANS_PER_TRACE
    return plain_ns / spans, (store_ns - plain_ns) / spans


def enqueue_ns_per_span(spans: int = 2000) -> float:
    """``on_end`` alone, the writer held back: what the request's own thread pays per span."""
    store = _store()
    gate = threading.Event()
    store.write = lambda items: gate.wait(60)
    ended = _ended_spans(spans // SPANS_PER_TRACE)
    store.on_end(ended[0])  # decided, the writer started (and held)
    start = time.perf_counter_ns()
    for span in ended[1:]:
        store.on_end(span)
    elapsed = time.perf_counter_ns() - start
    gate.set()
    store.force_flush()
    return elapsed / (len(ended) - 1)


def _ended_spans(requests: int) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _requests(provider.get_tracer("bench"), requests)
    return list(exporter.get_finished_spans())


def writer_ns_per_span(batches: int, batch: int = 512) -> float:
    """The writer's work on the calling thread: batches of ``batch`` spans into a store at its bound."""
    store = _store()
    store.enabled = True
    spans = _ended_spans(MAX_TRACES)
    store.write(spans)  # at the bound from here on
    fresh = _ended_spans(batch // SPANS_PER_TRACE * batches)
    start = time.perf_counter_ns()
    for offset in range(0, len(fresh), batch):
        store.write(fresh[offset : offset + batch])
    return (time.perf_counter_ns() - start) / len(fresh)


def run(rounds: int = 5, requests: int = 500) -> dict[str, Any]:
    """Medians over ``rounds`` of both figures, in microseconds per span."""
    with tempfile.TemporaryDirectory(prefix="dcm-trace-store-") as directory:
        _setup(Path(directory))
        plain, caller = zip(*(caller_ns_per_span(requests) for _ in range(rounds)), strict=True)
        writer = [writer_ns_per_span(4) for _ in range(rounds)]
        enqueue = [enqueue_ns_per_span() for _ in range(rounds)]
    return {
        "enqueue_us_per_span": round(statistics.median(enqueue) / 1000, 2),
        "span_us": round(statistics.median(plain) / 1000, 1),
        "caller_us_per_span": round(statistics.median(caller) / 1000, 1),
        "writer_us_per_span": round(statistics.median(writer) / 1000, 1),
        "rounds": rounds,
        "requests": requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500, help="traces of 4 spans per caller round")
    args = parser.parse_args()
    figures = run(args.rounds, args.requests)
    print(f"trace explorer, SQLite, {figures['rounds']} rounds (medians):")
    print(f"  a span without the explorer: {figures['span_us']} us")
    print(f"  enqueue: {figures['enqueue_us_per_span']} us per span ended (on_end alone, the writer held)")
    print(
        f"  caller: +{figures['caller_us_per_span']} us per span ended (the writer thread running meanwhile)"
    )
    print(f"  writer: {figures['writer_us_per_span']} us per span stored (mask, JSON, insert, trim at bound)")


if __name__ == "__main__":
    main()
