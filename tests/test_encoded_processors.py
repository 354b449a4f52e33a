"""The span and log record processors of the fast OTLP/HTTP path (dcm_otel.export.processors): what they
POST equals the official encoder's messages; they keep the SDK batch processors' semantics (sampled spans
only, OTEL_BSP_* / OTEL_BLRP_*, flush and shutdown within their timeouts, fork safety); they are bounded
when the backend is slow or gone."""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
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
from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, use_span

from dcm_otel import providers
from dcm_otel._sdk import log_fast_path, otlp_http_exporters
from dcm_otel._sdk.feature_check import FeatureCheck
from dcm_otel.config import Config
from dcm_otel.export.encoded_batches import BatchLimits
from dcm_otel.export.log_encoding import LogEncoder
from dcm_otel.export.otlp_wire import Groups
from dcm_otel.export.processors import EncodedLogRecordProcessor, EncodedSpanProcessor
from dcm_otel.logs import bridge
from dcm_otel.logs.bridge import OtlpLogHandler
from dcm_otel.logs.redaction import RedactingFilter, Redactor
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


# ---- the log bridge's shortcut (dcm_otel._sdk.log_fast_path): the same bytes as through the SDK's records

NOTICE = 25  # a custom level with a name; 5 is one without


class _Captured:
    """An exporter for :class:`EncodedLogRecordProcessor` that keeps the bytes of each request."""

    def __init__(self) -> None:
        self.encoder = LogEncoder()
        self.requests: list[bytes] = []

    def send_encoded(self, count: int, groups: Groups) -> None:
        self.requests.append(self.encoder.request(groups))

    def shutdown(self) -> None:
        pass


def _bridge(fast: bool, *processors: Any, limits: LogRecordLimits | None = None) -> OtlpLogHandler:
    provider = LoggerProvider(
        resource=_BRIDGE_RESOURCE, shutdown_on_exit=False, log_record_limits=limits or LogRecordLimits()
    )
    for processor in processors:
        provider.add_log_record_processor(processor)
    handler = OtlpLogHandler(provider)
    handler.addFilter(RedactingFilter(Redactor(Config().redact_keys)))
    handler._fast = fast
    return handler


_BRIDGE_RESOURCE = Resource({"service.name": "shop", "host.name": "h"})
SPAN = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, False, TraceFlags(1))


def log_calls() -> list[logging.LogRecord]:
    """Every kind of record the bridge sees, made anew on each call (the filters change a record)."""
    logging.addLevelName(NOTICE, "NOTICE")
    make = logging.getLogger("shop.orders").makeRecord
    records = [
        make("shop.orders", logging.INFO, __file__, 1, "plain message", (), None),
        make("shop.orders", logging.WARNING, __file__, 2, "order %s for %d €", ("#7", 3), None),
        make(
            "django.request",
            logging.ERROR,
            __file__,
            3,
            "ünïcödé ✓ 日本語",
            (),
            None,
            extra={"status_code": 500},
        ),
        make("shop.orders", logging.DEBUG, __file__, 4, "x" * 1_500_000, (), None),
        make("shop.orders", NOTICE, __file__, 5, "custom level", (), None),
        make("shop.orders", 5, __file__, 6, "level without a name", (), None),
        make("shop.orders", logging.CRITICAL, __file__, 7, "critical", (), None),
        make(
            "shop.orders",
            logging.INFO,
            __file__,
            8,
            "extras",
            (),
            None,
            extra={
                "order_id": 7,
                "shop.cart.total": 12.5,
                "gift": True,
                "note": "ça coûte",
                "password": "hunter2",
                "event.name": "shop.order.placed",
                "skipped": None,
            },
        ),
        make("shop.orders", logging.INFO, __file__, 9, "a list value", (), None, extra={"items": [1, "a"]}),
        make("shop.orders", logging.INFO, __file__, 10, "a map value", (), None, extra={"cart": {"n": 2}}),
    ]
    try:
        raise ValueError("bad token=abc123 ✗")
    except ValueError:
        records.append(make("shop.orders", logging.ERROR, __file__, 11, "failed", (), sys.exc_info()))
    records.append(make("shop.orders", logging.ERROR, __file__, 12, "no exception", (), (None, None, None)))
    for record in records:
        record.created = 1_790_000_000.123456
    return records


def _bridged_requests(fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[bytes], int]:
    """The requests made of :func:`_log_calls`, logged outside and inside a span; and how many records took
    the shortcut."""
    exporter = _Captured()
    processor = EncodedLogRecordProcessor(exporter, LIMITS)
    handler = _bridge(fast, processor)
    shortcut = _count_calls(monkeypatch, log_fast_path, "emit")
    for record in log_calls():
        handler.handle(record)
    with use_span(NonRecordingSpan(SPAN)):
        for record in log_calls():
            handler.handle(record)
    assert processor.force_flush(5000)
    processor.shutdown()
    return exporter.requests, len(shortcut)


def _count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    original = getattr(owner, name)

    def counted(*args: Any) -> Any:
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_the_bridges_shortcut_sends_the_same_bytes_as_the_sdk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bridge, "time_ns", lambda: 1_790_000_000_500_000_000)
    assert log_fast_path.FEATURE.available()
    slow, taken_slow = _bridged_requests(False, monkeypatch)
    fast, taken_fast = _bridged_requests(True, monkeypatch)
    assert (taken_slow, taken_fast) == (0, 2 * (len(log_calls()) - 2))  # all but the list and map values
    assert fast == slow  # byte for byte, in the same requests
    assert len(slow) == 3  # the 1.5 MB body closes a batch at the byte cap
    records = _log_records(slow)
    assert len(records) == 2 * len(log_calls())
    by_body = {r.body.string_value: r for r in records[len(records) // 2 :]}
    extras = {a.key: a.value for a in by_body["extras"].attributes}
    assert extras["dcm.log.password"].string_value != "hunter2"  # masked on both paths
    assert by_body["extras"].event_name == "shop.order.placed"
    assert by_body["custom level"].severity_text == "NOTICE"
    assert by_body["plain message"].trace_id
    assert not records[0].trace_id
    failed = {a.key: a.value.string_value for a in by_body["failed"].attributes}
    assert "abc123" not in failed["exception.message"]
    assert "Traceback" in failed["exception.stacktrace"]


def _one_record(handler: OtlpLogHandler, extra: dict[str, Any] | None = None) -> None:
    record = logging.getLogger("shop").makeRecord(
        "shop", logging.INFO, __file__, 1, "hello", (), None, extra=extra
    )
    record.created = 1_790_000_000.0
    handler.handle(record)


@pytest.mark.parametrize(
    ("processors", "limits", "extra"),
    [
        pytest.param(2, None, None, id="a second processor"),
        pytest.param(0, None, None, id="the SDK's batch processor"),
        pytest.param(
            1, LogRecordLimits(max_attributes=2), {"a": 1, "b": 2, "c": 3}, id="over the count limit"
        ),
        pytest.param(1, LogRecordLimits(max_attribute_length=3), {"a": "long"}, id="a length limit"),
        pytest.param(1, None, {"a": (1, 2)}, id="a sequence value"),
    ],
)
def test_the_bridge_takes_the_sdks_path_where_the_shortcut_would_differ(
    processors: int,
    limits: LogRecordLimits | None,
    extra: dict[str, Any] | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the SDK would change (truncate, drop and count, tuple) or what another processor must see."""
    monkeypatch.setattr(bridge, "time_ns", lambda: 1_790_000_000_500_000_000)
    kept = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    official = SimpleLogRecordProcessor(kept)
    outputs = []
    for fast in (False, True):
        exporter = _Captured()
        ours = EncodedLogRecordProcessor(exporter, LIMITS)
        chain = {0: [official], 1: [ours], 2: [ours, official]}[processors]
        handler = _bridge(fast, *chain, limits=limits)
        shortcut = _count_calls(monkeypatch, log_fast_path, "emit")
        _one_record(handler, extra)
        assert not shortcut
        assert ours.force_flush(5000)
        ours.shutdown()
        outputs.append(exporter.requests)
    assert outputs[0] == outputs[1]
    if processors:
        (log_record,) = _log_records(outputs[1])
        assert log_record.body.string_value == "hello"
        assert log_record.dropped_attributes_count == (1 if limits and limits.max_attributes == 2 else 0)
    if processors != 1:
        assert len(kept.get_finished_logs()) == 2  # the other processor saw both records


def test_a_processor_added_later_sees_the_records_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shortcut's decision for a logger is remembered, and made again once the provider's processors
    change: the next record goes through the SDK's path, to both."""
    exporter = _Captured()
    ours = EncodedLogRecordProcessor(exporter, LIMITS)
    handler = _bridge(True, ours)
    shortcut = _count_calls(monkeypatch, log_fast_path, "emit")
    _one_record(handler)
    kept = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    handler._provider.add_log_record_processor(SimpleLogRecordProcessor(kept))  # type: ignore[attr-defined]
    _one_record(handler)
    assert len(shortcut) == 1
    assert len(kept.get_finished_logs()) == 1
    assert ours.force_flush(5000)
    ours.shutdown()
    assert len(_log_records(exporter.requests)) == 2


def test_the_bridge_emits_without_waiting_for_the_handlers_lock() -> None:
    """Its emit needs no lock of its own (the processor and its queue have theirs): a record from one
    thread does not wait while another holds the handler's lock."""
    exporter = _Captured()
    processor = EncodedLogRecordProcessor(exporter, LIMITS)
    handler = _bridge(True, processor)
    handled = threading.Event()

    def log() -> None:
        _one_record(handler)
        handled.set()

    with handler.lock:  # type: ignore[union-attr]
        thread = threading.Thread(target=log)
        thread.start()
        assert handled.wait(5)
    thread.join()
    assert processor.force_flush(5000)
    processor.shutdown()
    assert len(_log_records(exporter.requests)) == 1


def test_with_the_feature_check_failed_the_bridge_takes_the_sdks_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feature = FeatureCheck("log bridge", "fallback", lambda: 1 / 0)
    monkeypatch.setattr(log_fast_path, "FEATURE", feature)
    shortcut = _count_calls(monkeypatch, log_fast_path, "emit")
    exporter = _Captured()
    processor = EncodedLogRecordProcessor(exporter, LIMITS)
    provider = LoggerProvider(resource=_BRIDGE_RESOURCE, shutdown_on_exit=False)
    provider.add_log_record_processor(processor)
    _one_record(OtlpLogHandler(provider))
    assert processor.force_flush(5000)
    assert not shortcut
    assert len(exporter.requests) == 1
    processor.shutdown()


def test_a_disabled_sdk_gets_nothing_on_either_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    exporter = _Captured()
    processor = EncodedLogRecordProcessor(exporter, LIMITS)
    _one_record(_bridge(True, processor))
    assert processor.force_flush(5000)
    assert exporter.requests == []
    processor.shutdown()


@pytest.mark.parametrize("fast", [False, True])
def test_the_shortcut_counts_created_queued_and_dropped_records_as_the_sdk_path(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``otel.sdk.log.created`` (the SDK logger's), the processor's ``dropped`` and its queue bound."""
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    reader = InMemoryMetricReader()
    exporter = _Captured()
    # no batch closes before the flush: the queue fills
    limits = BatchLimits(30.0, max_queue_size=10, max_export_batch_size=100, export_timeout=1.0)
    processor = EncodedLogRecordProcessor(exporter, limits)
    provider = LoggerProvider(
        resource=_BRIDGE_RESOURCE, shutdown_on_exit=False, meter_provider=MeterProvider([reader])
    )
    provider.add_log_record_processor(processor)
    handler = OtlpLogHandler(provider)
    handler._fast = fast
    shortcut = _count_calls(monkeypatch, log_fast_path, "emit")
    for _ in range(25):
        _one_record(handler)
    assert len(shortcut) == (25 if fast else 0)
    assert processor.dropped == 15
    assert processor._batches._queued == 10
    created = [
        point.value
        for metric in reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics  # type: ignore[union-attr]
        if metric.name == "otel.sdk.log.created"
        for point in metric.data.data_points  # type: ignore[union-attr]
    ]
    assert created == [25]
    assert processor.force_flush(5000)
    assert len(_log_records(exporter.requests)) == 10
    processor.shutdown()


def _log_records(requests: list[bytes]) -> list[Any]:
    return [
        record
        for request in requests
        for resource_logs in ExportLogsServiceRequest.FromString(request).resource_logs
        for scope_logs in resource_logs.scope_logs
        for record in scope_logs.log_records
    ]


def test_after_a_fork_the_shortcut_starts_empty_and_sends_what_the_sdk_path_sends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The child's records (the provider's resource updated at the fork) leave from the child only, one
    resource group, a record that took the shortcut equal to one that did not."""
    monkeypatch.setattr(bridge, "time_ns", lambda: 1_790_000_000_500_000_000)
    exporter = _Captured()
    processor = EncodedLogRecordProcessor(exporter, LIMITS)
    fast = _bridge(True, processor)
    slow = OtlpLogHandler(fast._provider)
    slow._fast = False
    shortcut = _count_calls(monkeypatch, log_fast_path, "emit")
    for _ in range(3):
        _one_record(fast)
    pid = os.fork()
    if pid == 0:
        ok = processor._batches._queued == 0 and processor._batches._worker.is_alive()
        _one_record(fast)
        _one_record(slow)
        ok = ok and processor.force_flush(5000) and len(shortcut) == 4 and len(exporter.requests) == 1
        (request,) = exporter.requests
        records = _log_records(exporter.requests)
        ok = ok and len(ExportLogsServiceRequest.FromString(request).resource_logs) == 1
        os._exit(0 if ok and len(records) == 2 and records[0] == records[1] else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert processor.force_flush(5000)
    processor.shutdown()
    assert len(_log_records(exporter.requests)) == 3


@pytest.mark.parametrize("fast", [False, True])
def test_after_shutdown_neither_path_sends_nor_raises(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = _Captured()
    processor = EncodedLogRecordProcessor(exporter, LIMITS)
    handler = _bridge(fast, processor)
    shortcut = _count_calls(monkeypatch, log_fast_path, "emit")
    _one_record(handler)
    processor.shutdown()
    _one_record(handler)
    assert len(shortcut) == (2 if fast else 0)
    assert len(_log_records(exporter.requests)) == 1
    assert not processor.force_flush(1000)
    assert processor.dropped == 0  # refused after shutdown, not counted as a full queue (as the SDK path)
