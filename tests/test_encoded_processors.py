"""The span and log record processors of the fast OTLP/HTTP path (dcm_otel.export.processors): what they
POST equals the official encoder's messages; they keep the SDK batch processors' semantics (sampled spans
only, OTEL_BSP_* / OTEL_BLRP_*, flush and shutdown within their timeouts, fork safety); they are bounded
when the backend is slow or gone."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanContext, TraceFlags

from dcm_otel import providers
from dcm_otel._sdk import otlp_http_exporters
from dcm_otel.config import Config
from dcm_otel.export.encoded_batches import BatchLimits
from dcm_otel.export.processors import EncodedLogRecordProcessor, EncodedSpanProcessor
from tests import otlp_samples
from tests.otlp_receiver import OtlpReceiver, start_receiver
from tests.test_otlp_encoding import EXAMPLES
from tests.test_otlp_encoding import spans as any_spans

LIMITS = BatchLimits(schedule_delay=30.0, max_queue_size=2048, max_export_batch_size=512, export_timeout=5.0)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def black_hole() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1/traces"
    listener.close()


def _processor(endpoint: str, limits: BatchLimits = LIMITS, **exporter: Any) -> EncodedSpanProcessor:
    return EncodedSpanProcessor(otlp_http_exporters.SpanExporter(endpoint=endpoint, **exporter), limits)


def _requests(receiver: OtlpReceiver) -> list[ExportTraceServiceRequest]:
    with receiver.lock:
        return list(receiver.received.get("/v1/traces", []))  # type: ignore[arg-type]


def _span_messages(requests: list[ExportTraceServiceRequest]) -> list[tuple[Any, ...]]:
    """Each span with its resource and scope, sorted: equal whatever the batches and group order."""
    return sorted(
        (
            resource_spans.resource.SerializeToString(deterministic=True),
            resource_spans.schema_url,
            scope_spans.scope.SerializeToString(deterministic=True),
            scope_spans.schema_url,
            span.SerializeToString(deterministic=True),
        )
        for request in requests
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    )


def _sampled(span: ReadableSpan) -> ReadableSpan:
    context = span.context
    flags = TraceFlags(TraceFlags.SAMPLED)
    sampled = SpanContext(context.trace_id, context.span_id, False, flags, context.trace_state)
    return ReadableSpan(
        name=span.name,
        context=sampled,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        kind=span.kind,
        instrumentation_scope=span.instrumentation_scope,
        start_time=span.start_time,
        end_time=span.end_time,
    )


def _simple_spans(count: int, resource: Resource | None = None) -> list[ReadableSpan]:
    provider = TracerProvider(resource=resource or Resource({"service.name": "shop"}), shutdown_on_exit=False)
    tracer = provider.get_tracer("dcm_otel.instrumentation.db")
    made = []
    for n in range(count):
        span = tracer.start_span("SELECT", attributes={"db.query.text": "SELECT 1", "n": n})
        span.end()
        assert isinstance(span, ReadableSpan)
        made.append(span)
    return made


# ---- what is sent


@settings(EXAMPLES, max_examples=25)
@given(st.lists(any_spans(), max_size=8))
def test_the_posted_bodies_decode_to_the_official_encoders_messages(batch: list[ReadableSpan]) -> None:
    """Only sampled spans are sent; those sent parse into what the official encoder builds for them, in one
    request when they fit one batch (then even the group order is the same)."""
    receiver = start_receiver()
    try:
        processor = _processor(f"{receiver.endpoint}/v1/traces")
        for span in batch:
            processor.on_end(span)
        assert processor.force_flush(5000)
        processor.shutdown()
        sampled = [s for s in batch if s.context.trace_flags.sampled]
        requests = _requests(receiver)
        assert requests == ([encode_spans(sampled)] if sampled else [])
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_spans_go_in_batches_of_the_batch_size_and_all_arrive(receiver: OtlpReceiver) -> None:
    limits = BatchLimits(30.0, max_queue_size=4096, max_export_batch_size=512, export_timeout=5.0)
    processor = _processor(f"{receiver.endpoint}/v1/traces", limits)
    others = _simple_spans(300, Resource({"service.name": "worker"}))
    spans = [span for pair in zip(_simple_spans(1000)[:300], others, strict=True) for span in pair]
    spans += _simple_spans(700)
    for span in spans:
        processor.on_end(span)
    assert processor.force_flush(10_000)
    processor.shutdown()
    requests = _requests(receiver)
    sizes = [sum(len(s.spans) for r in q.resource_spans for s in r.scope_spans) for q in requests]
    assert sizes == [512, 512, 276]
    assert _span_messages(requests) == _span_messages([encode_spans(spans)])
    assert processor.dropped == 0


def test_a_batch_is_also_closed_at_the_byte_cap(receiver: OtlpReceiver) -> None:
    limits = BatchLimits(30.0, 2048, 512, 5.0, max_batch_bytes=10_000)
    processor = _processor(f"{receiver.endpoint}/v1/traces", limits)
    spans = _simple_spans(200)
    for span in spans:
        processor.on_end(span)
    assert processor.force_flush(10_000)
    processor.shutdown()
    requests = _requests(receiver)
    assert len(requests) >= 2
    assert all(q.ByteSize() < 10_000 + 1_000 for q in requests)  # the cap, plus one span and the headers
    assert _span_messages(requests) == _span_messages([encode_spans(spans)])


def test_the_schedule_delay_sends_without_a_flush(receiver: OtlpReceiver) -> None:
    processor = _processor(f"{receiver.endpoint}/v1/traces", BatchLimits(0.2, 2048, 512, 5.0))
    processor.on_end(_simple_spans(1)[0])
    deadline = time.monotonic() + 5
    while not _requests(receiver) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_requests(receiver)) == 1
    processor.shutdown()


def test_shutdown_delivers_what_is_buffered_and_then_takes_nothing(
    receiver: OtlpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    processor = _processor(f"{receiver.endpoint}/v1/traces")
    for span in _simple_spans(5):
        processor.on_end(span)
    processor.shutdown()
    processor.shutdown()  # a second call (the provider's, after ours) does nothing, says nothing
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    processor.on_end(_simple_spans(1)[0])
    assert not processor.force_flush(1000)
    assert len(receiver.spans()) == 5


# ---- the OTEL_BSP_* settings and the wiring


@pytest.mark.parametrize(
    ("processor", "prefix"), [(BatchSpanProcessor, "BSP"), (BatchLogRecordProcessor, "BLRP")]
)
def test_the_batch_settings_are_read_as_the_sdk_reads_them(
    monkeypatch: pytest.MonkeyPatch, processor: type, prefix: str
) -> None:
    assert otlp_http_exporters.batch_limits(processor) == BatchLimits(
        5.0 if prefix == "BSP" else 1.0, 2048, 512, 30.0
    )
    monkeypatch.setenv(f"OTEL_{prefix}_SCHEDULE_DELAY", "250")
    monkeypatch.setenv(f"OTEL_{prefix}_MAX_QUEUE_SIZE", "100")
    monkeypatch.setenv(f"OTEL_{prefix}_MAX_EXPORT_BATCH_SIZE", "1000")
    monkeypatch.setenv(f"OTEL_{prefix}_EXPORT_TIMEOUT", "2000")
    assert otlp_http_exporters.batch_limits(processor) == BatchLimits(0.25, 100, 100, 2.0)


CONSOLE = {"traces_exporter": ("console",), "logs_exporter": ("console",)}


@pytest.mark.parametrize(("settings", "spans", "logs"), [
    ({}, EncodedSpanProcessor, EncodedLogRecordProcessor),
    ({"otlp_encoder": "official"}, BatchSpanProcessor, BatchLogRecordProcessor),
    ({"otlp_protocol": "grpc"}, BatchSpanProcessor, BatchLogRecordProcessor),
    (CONSOLE, BatchSpanProcessor, BatchLogRecordProcessor),
])  # fmt: skip
def test_the_processors_replace_the_batch_processors_only_on_the_fast_http_path(
    settings: dict[str, Any], spans: type, logs: type
) -> None:
    config = Config(
        otlp_endpoint="http://127.0.0.1:4318",
        **{"traces_exporter": ("otlp",), "logs_exporter": ("otlp",), **settings},
    )
    tracer_provider = providers._tracer_provider(config, Resource({}), [])
    logger_provider = providers._logger_provider(config, Resource({}), [])
    assert type(tracer_provider._active_span_processor._span_processors[-1]) is spans
    assert type(logger_provider._multi_log_record_processor._log_record_processors[-1]) is logs
    tracer_provider.shutdown()
    logger_provider.shutdown()


# ---- log records


def test_log_records_posted_decode_to_the_official_encoders_messages(receiver: OtlpReceiver) -> None:
    """Records emitted through a real LoggerProvider: what our processor POSTs is what the official encoder
    builds for the records the SDK hands an exporter."""
    exporter = otlp_http_exporters.LogExporter(endpoint=f"{receiver.endpoint}/v1/logs")
    processor = EncodedLogRecordProcessor(exporter, LIMITS)
    kept = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(resource=Resource({"service.name": "shop"}), shutdown_on_exit=False)
    provider.add_log_record_processor(processor)
    provider.add_log_record_processor(SimpleLogRecordProcessor(kept))
    loggers = [provider.get_logger("django.request"), provider.get_logger("dcm_otel", "1.0", "https://s")]
    for index, record in enumerate(otlp_samples.log_records("shop")):
        loggers[index % 2].emit(record.log_record)
    assert processor.force_flush(5000)
    provider.shutdown()
    with receiver.lock:
        (request,) = receiver.received["/v1/logs"]
    assert isinstance(request, ExportLogsServiceRequest)
    assert request == encode_logs(kept.get_finished_logs())
    assert len(receiver.logs()) == len(otlp_samples.log_records("shop"))


# ---- bounds


def test_more_spans_than_the_queue_are_dropped_counted_and_warned_once(
    black_hole: str, caplog: pytest.LogCaptureFixture
) -> None:
    limits = BatchLimits(30.0, max_queue_size=100, max_export_batch_size=50, export_timeout=1.0)
    processor = _processor(black_hole, limits, timeout=1)
    spans = _simple_spans(5000)
    took = []
    for span in spans:
        start = time.perf_counter()
        processor.on_end(span)
        took.append(time.perf_counter() - start)
    # the queue's 100, plus the one batch of 50 that may be on its way out (no longer queued)
    assert 5000 - 100 - 50 <= processor.dropped <= 5000 - 100
    assert processor._batches._queued <= 100
    assert sorted(took)[len(took) // 2] < 0.001  # on_end stays fast
    assert sum("dropping spans: the export queue is full" in r.getMessage() for r in caplog.records) == 1
    _assert_shutdown_within(processor, 1.0)


def test_the_queue_is_bounded_in_bytes_too(black_hole: str) -> None:
    limits = BatchLimits(30.0, 2048, 512, 1.0, max_batch_bytes=1 << 20, max_queue_bytes=50_000)
    processor = _processor(black_hole, limits, timeout=1)
    provider = TracerProvider(shutdown_on_exit=False)
    for _ in range(20):
        span = provider.get_tracer("t").start_span("big", attributes={"blob": "x" * 10_000})
        span.end()
        processor.on_end(span)  # type: ignore[arg-type]
    assert processor.dropped == 16
    assert processor._batches._queued_bytes <= 50_000
    _assert_shutdown_within(processor, 1.0)


def test_a_receiver_that_never_answers_neither_slows_spans_nor_holds_up_shutdown(black_hole: str) -> None:
    limits = BatchLimits(0.05, 2048, 10, export_timeout=1.0)
    processor = _processor(black_hole, limits, timeout=30)  # the POST alone would wait 30 s
    spans = _simple_spans(200)
    start = time.perf_counter()
    for span in spans:
        processor.on_end(span)
    assert time.perf_counter() - start < 0.5
    started = time.monotonic()
    assert not processor.force_flush(300)
    assert time.monotonic() - started < 1.0
    _assert_shutdown_within(processor, 1.0)


def _assert_shutdown_within(processor: EncodedSpanProcessor, timeout: float) -> None:
    start = time.monotonic()
    processor.shutdown()
    assert time.monotonic() - start < timeout + 1.0


# ---- fork


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_empty_with_its_own_thread(receiver: OtlpReceiver) -> None:
    processor = _processor(f"{receiver.endpoint}/v1/traces")
    parent_spans = _simple_spans(3, Resource({"service.name": "parent"}))
    child_spans = _simple_spans(2, Resource({"service.name": "child"}))
    for span in parent_spans:
        processor.on_end(span)
    pid = os.fork()
    if pid == 0:  # the child: only its own spans leave
        ok = processor._batches._queued == 0 and processor._batches._worker.is_alive()
        for span in child_spans:
            processor.on_end(span)
        ok = ok and processor.force_flush(5000)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert processor.force_flush(5000)
    processor.shutdown()
    services = sorted(span.resource["service.name"] for span in receiver.spans())
    assert services == ["child", "child", "parent", "parent", "parent"]


def test_on_end_never_raises_a_span_that_fails_to_encode_is_counted(receiver: OtlpReceiver) -> None:
    processor = _processor(f"{receiver.endpoint}/v1/traces")
    broken = _simple_spans(1)[0]
    broken._name = "\ud800"  # UTF-8 cannot hold it
    processor.on_end(broken)
    good = _simple_spans(1)[0]
    processor.on_end(good)
    assert processor.force_flush(5000)
    processor.shutdown()
    assert processor.dropped == 1
    assert [span.name for span in receiver.spans()] == ["SELECT"]
