"""The official OTLP/HTTP span and log exporters with dcm_otel's encoder (dcm_otel.export) in place of theirs.

Everything but the encoding stays theirs: endpoint, per-signal ``OTEL_EXPORTER_OTLP_*`` variables,
headers, compression, timeout, retries, the request size limit, their own metrics, shutdown. They offer no
hook for the encoding, so ``export`` is overridden and goes on with their private HTTP client, size limit,
shutdown flag and metrics. Imported only through :mod:`dcm_otel._sdk.otlp_http_encoding`, whose feature
check runs :func:`check` (an import error here, on another SDK, fails the check too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
from opentelemetry.trace.propagation import set_span_in_context
from opentelemetry.trace.span import NonRecordingSpan
from opentelemetry.util.types import AnyValue

from dcm_otel._sdk.feature_check import probe_tracer_provider
from dcm_otel._sdk.logs_sdk import LoggerProvider
from dcm_otel.export.encoded_batches import BatchLimits
from dcm_otel.export.log_encoding import LogEncoder
from dcm_otel.export.otlp_wire import Groups
from dcm_otel.export.trace_encoding import TraceEncoder

if TYPE_CHECKING:
    from opentelemetry.exporter.otlp.common._exporter_metrics import ExporterMetricsT
    from opentelemetry.exporter.otlp.common.http import _OTLPHTTPClient

try:  # the exporters' request size limit, with the HTTP client and metrics _send uses: exporters 1.45+
    from opentelemetry.exporter.otlp.proto.http._common import (
        RequestPayloadTooLargeError,
        _is_request_too_large,
    )
except ImportError:  # older exporters: check() fails, and the official exporters are used
    RequestPayloadTooLargeError = _is_request_too_large = None  # type: ignore[assignment,misc]

logger = logging.getLogger("opentelemetry.exporter.otlp.proto.http")  # where the official exporters log

Item = TypeVar("Item", ReadableSpan, ReadableLogRecord)
Result = TypeVar("Result", SpanExportResult, LogRecordExportResult)


class _Encoder(Protocol):
    """:class:`TraceEncoder` or :class:`LogEncoder`: a batch of items, or items already encoded and grouped,
    as one request's bytes."""

    def encode(self, batch: Sequence[Any], /) -> bytes: ...

    def request(self, groups: Groups, /) -> bytes: ...


Encoder = TypeVar("Encoder", bound=_Encoder)


class _EncodingExporter(Generic[Encoder, Item, Result]):
    """Mixed in before the official exporter of a signal: its ``export`` with our ``encoder``, and
    ``send_encoded``. A signal's exporter sets ``encoder``, ``_what`` it sends (as the official exporter's
    log lines name it) and its ``_results`` enum."""

    encoder: Encoder
    _what: str
    _results: type[Result]

    if TYPE_CHECKING:  # the official exporter's, which _send goes on with
        _shutdown: bool
        _metrics: ExporterMetricsT
        _client: _OTLPHTTPClient
        _max_request_size: int

    def export(self, batch: Sequence[Item]) -> Result:
        return self._send(len(batch), lambda: self.encoder.encode(batch))

    def send_encoded(self, count: int, groups: Groups) -> Result:
        """POST ``count`` items already encoded one by one and grouped
        (:class:`~dcm_otel.export.processors.EncodedSpanProcessor`,
        :class:`~dcm_otel.export.processors.EncodedLogRecordProcessor`)."""
        return self._send(count, lambda: self.encoder.request(groups))

    def _send(self, count: int, encode: Callable[[], bytes]) -> Result:
        """What the official ``export`` does after encoding, with ``encode()``'s bytes."""
        if self._shutdown:
            logger.warning("Exporter already shutdown, ignoring batch")
            return self._results.FAILURE
        with self._metrics.export_operation(count) as outcome:
            try:
                data = encode()
            except Exception as error:
                logger.error("Failed to encode %s batch: %s", self._what, error)
                outcome.error = error
                return self._results.FAILURE
            if _is_request_too_large(data, self._max_request_size):
                logger.warning(
                    "Dropping %s batch: serialized size %d bytes exceeds max_request_size %d bytes.",
                    self._what,
                    len(data),
                    self._max_request_size,
                )
                outcome.error = RequestPayloadTooLargeError(
                    f"Serialized {self._what} request size {len(data)} bytes exceeds max_request_size "
                    f"{self._max_request_size} bytes."
                )
                return self._results.FAILURE
            sent = self._client.export(data)
            if not sent.success:
                outcome.error = sent.error
                status = sent.status_code
                outcome.error_attrs = {HTTP_RESPONSE_STATUS_CODE: status} if status is not None else None
                return self._results.FAILURE
        return self._results.SUCCESS


class SpanExporter(_EncodingExporter[TraceEncoder, ReadableSpan, SpanExportResult], OTLPSpanExporter):
    """``OTLPSpanExporter`` with :class:`~dcm_otel.export.trace_encoding.TraceEncoder`."""

    _what, _results = "span", SpanExportResult

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = TraceEncoder()


class LogExporter(_EncodingExporter[LogEncoder, ReadableLogRecord, LogRecordExportResult], OTLPLogExporter):
    """``OTLPLogExporter`` with :class:`~dcm_otel.export.log_encoding.LogEncoder`."""

    _what, _results = "logs", LogRecordExportResult

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = LogEncoder()


def batch_limits(processor: type[BatchSpanProcessor] | type[BatchLogRecordProcessor]) -> BatchLimits:
    """The settings of the SDK's batch ``processor`` as it reads them from ``OTEL_BSP_*`` / ``OTEL_BLRP_*``
    (a bad value is logged and the default taken, as the SDK does); the batch never larger than the queue,
    which the SDK refuses."""
    queue = processor._default_max_queue_size()  # type: ignore[no-untyped-call]
    batch = processor._default_max_export_batch_size()  # type: ignore[no-untyped-call]
    return BatchLimits(
        schedule_delay=processor._default_schedule_delay_millis() / 1000,  # type: ignore[no-untyped-call]
        max_queue_size=queue,
        max_export_batch_size=min(batch, queue),
        export_timeout=processor._default_export_timeout_millis() / 1000,  # type: ignore[no-untyped-call]
    )


PROBE_ATTRIBUTES: dict[str, AnyValue] = {
    "s": "é€😀",
    "e": "",
    "t": True,
    "i": -(2**63),
    "f": float("inf"),
    "b": b"\x00\xff",
    "a": ("x", "y"),
    "n": (1, 2**63 - 1),
}


def probe_span() -> ReadableSpan:
    """A finished span with every field the encoder writes set."""
    tracer = probe_tracer_provider().get_tracer("dcm_otel.probe", "1.0", "https://schema", {"scope": "x"})
    parent = SpanContext(0x1, 0x2, True, TraceFlags(TraceFlags.SAMPLED), TraceState([("k", "v")]))
    linked = SpanContext(0x3, 0x4, is_remote=False)
    span = tracer.start_span(
        "probe",
        set_span_in_context(NonRecordingSpan(parent), Context()),
        SpanKind.CLIENT,
        PROBE_ATTRIBUTES,
        [Link(linked, PROBE_ATTRIBUTES)],
    )
    span.add_event("event", PROBE_ATTRIBUTES)
    span.set_status(Status(StatusCode.ERROR, "failed"))
    span.end()
    if not isinstance(span, ReadableSpan):
        raise TypeError(f"the SDK's tracer makes {type(span).__name__} spans")
    return span


def probe_log_record() -> ReadableLogRecord:
    """A log record with every field the encoder writes set."""
    records = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(resource=Resource({"service.name": "probe"}), shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(records))
    probe = provider.get_logger("dcm_otel.probe", "1.0", "https://schema", {"scope": "x"})
    span = NonRecordingSpan(SpanContext(0x1, 0x2, is_remote=False))
    probe.emit(
        timestamp=1,
        context=set_span_in_context(span, Context()),
        severity_text="WARN",
        body={"message": "é", "list": [1, 2.5]},
        attributes=PROBE_ATTRIBUTES,
        event_name="probe",
    )
    (record,) = records.get_finished_logs()
    return record


def check() -> None:
    """Raise unless the official exporters have what :meth:`_EncodingExporter._send` uses, the SDK's batch
    processors read their settings as :func:`batch_limits` expects, and our encoding of a probe span and
    log record decodes to the official encoder's messages."""
    if _is_request_too_large is None:
        raise ImportError("the OTLP/HTTP exporters predate their request size limit (1.45)")
    for official in (OTLPSpanExporter, OTLPLogExporter):
        exporter = official(endpoint="http://127.0.0.1:9")  # never sends
        try:
            parts = (exporter._client.export, exporter._metrics.export_operation, exporter._max_request_size)
            if not (callable(parts[0]) and callable(parts[1]) and isinstance(parts[2], int)):
                raise TypeError(f"{official.__name__} has no HTTP client, metrics or size limit as expected")
            if exporter._shutdown is not False:
                raise TypeError(f"{official.__name__} has no shutdown flag")
        finally:
            exporter.shutdown()  # type: ignore[no-untyped-call]
    batch_limits(BatchSpanProcessor)
    batch_limits(BatchLogRecordProcessor)
    span, record = probe_span(), probe_log_record()
    if ExportTraceServiceRequest.FromString(TraceEncoder().encode([span])) != encode_spans([span]):
        raise RuntimeError("a probe span is encoded differently from the official encoder's")
    if ExportLogsServiceRequest.FromString(LogEncoder().encode([record])) != encode_logs([record]):
        raise RuntimeError("a probe log record is encoded differently from the official encoder's")
