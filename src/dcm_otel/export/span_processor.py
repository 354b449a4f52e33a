"""The span processor of the fast OTLP/HTTP path: a span is encoded when it ends and shipped in large batches.

It takes the place of ``BatchSpanProcessor`` + exporter when dcm_otel's encoder is used
(:mod:`dcm_otel._sdk.otlp_http_encoding`), with its semantics: only sampled spans; the
``OTEL_BSP_*`` settings; ``on_end`` never blocks or raises; ``force_flush`` and ``shutdown`` deliver what is
buffered within their timeouts; a forked child starts empty with its own thread. The POST stays the
official exporter's (:meth:`~dcm_otel._sdk.otlp_http_exporters.SpanExporter.send_encoded`).
"""

from __future__ import annotations

from typing import Protocol

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from dcm_otel.export.encoded_batches import BatchLimits, EncodedBatches
from dcm_otel.export.otlp_wire import Groups
from dcm_otel.export.trace_encoding import TraceEncoder


class EncodedSpanExporter(Protocol):
    """What the processor needs of the exporter: its encoder, a POST of encoded spans, its shutdown."""

    encoder: TraceEncoder

    def send_encoded(self, count: int, data: bytes) -> object: ...

    def shutdown(self) -> None: ...


class EncodedSpanProcessor(SpanProcessor):
    def __init__(self, exporter: EncodedSpanExporter, limits: BatchLimits) -> None:
        self._exporter = exporter
        self._encode = exporter.encoder.span
        self._limits = limits
        self._batches = EncodedBatches("spans", limits, self._send)

    @property
    def dropped(self) -> int:
        """Spans dropped because the queue was full (or they failed to encode)."""
        return self._batches.dropped

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags.sampled:
            return
        try:
            encoded = self._encode(span)
        except Exception as error:
            self._batches.drop(f"a span failed to encode ({type(error).__name__}: {error})")
            return
        self._batches.add(span.resource, span.instrumentation_scope, encoded)

    def _send(self, groups: Groups, count: int) -> None:
        self._exporter.send_encoded(count, self._exporter.encoder.request(groups))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batches.force_flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        """Within ``OTEL_BSP_EXPORT_TIMEOUT``; then the exporter's shutdown ends any retry."""
        self._batches.shutdown(self._limits.export_timeout)
        self._exporter.shutdown()
