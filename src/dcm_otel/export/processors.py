"""The span and log record processors of the fast OTLP/HTTP path: each item is encoded as it ends (a span)
or is emitted (a log record), and shipped in large batches (:mod:`dcm_otel.export.encoded_batches`).

They take the place of the SDK's batch processor + exporter when dcm_otel's encoder is used
(:mod:`dcm_otel._sdk.otlp_http_encoding`), with its semantics: only sampled spans; the ``OTEL_BSP_*`` /
``OTEL_BLRP_*`` settings; ``on_end`` / ``on_emit`` never block or raise; ``force_flush`` and ``shutdown``
deliver what is buffered within their timeouts; a forked child starts empty with its own thread. The POST
stays the official exporter's (``send_encoded`` of :mod:`dcm_otel._sdk.otlp_http_exporters`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from dcm_otel._sdk.logs_sdk import LogRecordProcessor
from dcm_otel._sdk.processor_metrics import processor_metrics
from dcm_otel._sdk.span_chain import reads_only
from dcm_otel.export.encoded_batches import BatchLimits, EncodedBatches
from dcm_otel.export.log_encoding import LogEncoder, LogFields
from dcm_otel.export.otlp_wire import Groups
from dcm_otel.export.trace_encoding import TraceEncoder

if TYPE_CHECKING:
    from dcm_otel._sdk.logs_sdk import ReadWriteLogRecord


Item = TypeVar("Item")


class EncodedExporter(Protocol):
    """What a processor needs of the exporter: a POST of grouped encoded items, and its shutdown."""

    def send_encoded(self, count: int, groups: Groups) -> object: ...

    def shutdown(self) -> None: ...


class EncodedSpanExporter(EncodedExporter, Protocol):
    encoder: TraceEncoder


class EncodedLogExporter(EncodedExporter, Protocol):
    encoder: LogEncoder


class _Shipping:
    """What both processors share: the batches, what was dropped, flush and shutdown."""

    def __init__(
        self,
        exporter: EncodedExporter,
        signal: Literal["traces", "logs"],
        limits: BatchLimits,
        queue_setting: str,
    ) -> None:
        self._exporter = exporter
        self._limits = limits
        what = "spans" if signal == "traces" else "log records"
        metrics = processor_metrics(signal, limits.max_queue_size)
        self._batches = EncodedBatches(what, limits, exporter.send_encoded, queue_setting, metrics)

    @property
    def dropped(self) -> int:
        """Items dropped because the queue was full (or they failed to encode)."""
        return self._batches.dropped

    def _add(
        self,
        encode: Callable[[Item], bytes],
        item: Item,
        resource: Resource,
        scope: InstrumentationScope | None,
    ) -> None:
        try:
            encoded = encode(item)
        except Exception as error:
            self._batches.drop(f"one failed to encode ({type(error).__name__}: {error})")
            return
        self._batches.add(resource, scope, encoded)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batches.force_flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        """Within the export timeout setting; then the exporter's shutdown ends any retry. Once."""
        if self._batches.shutdown(self._limits.export_timeout):
            self._exporter.shutdown()


@reads_only
class EncodedSpanProcessor(_Shipping, SpanProcessor):
    def __init__(self, exporter: EncodedSpanExporter, limits: BatchLimits) -> None:
        super().__init__(exporter, "traces", limits, "OTEL_BSP_MAX_QUEUE_SIZE")
        self._encode = exporter.encoder.span

    def on_end(self, span: ReadableSpan) -> None:
        if span.context.trace_flags.sampled:
            self._add(self._encode, span, span.resource, span.instrumentation_scope)


class EncodedLogRecordProcessor(_Shipping, LogRecordProcessor):
    def __init__(self, exporter: EncodedLogExporter, limits: BatchLimits) -> None:
        super().__init__(exporter, "logs", limits, "OTEL_BLRP_MAX_QUEUE_SIZE")
        self._encode = exporter.encoder.record
        self._encode_fields = exporter.encoder.fields
        self._no_resource = Resource.create({})  # what the SDK's processor gives a record without one

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        resource = log_record.resource or self._no_resource
        self._add(self._encode, log_record, resource, log_record.instrumentation_scope)

    def on_fields(self, fields: LogFields, resource: Resource, scope: InstrumentationScope) -> None:
        """A record the log bridge hands over without an SDK record (:mod:`dcm_otel._sdk.log_fast_path`):
        queued, counted and dropped as :meth:`on_emit` does."""
        self._add(self._encode_fields, fields, resource or self._no_resource, scope)
