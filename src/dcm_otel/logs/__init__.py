"""Structured logs: JSON lines with one field set, correlated with traces, shipped as OTLP logs, with
security and Docker failure events and secrets masked (docs/logging.md)."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from dcm_otel._sdk.span_chain import reads_only
from dcm_otel.config import Config

from .docker_failures import log_docker_failure
from .logging_config import structured_logging
from .redaction import RedactingFilter, RedactingSpanProcessor, Redactor

__all__ = ["RedactingFilter", "span_processors", "structured_logging"]


@reads_only
class LogsSpanProcessor(RedactingSpanProcessor):
    """Masking of span attributes at start, Docker failure events at end: one processor, since the tracer
    provider calls every processor for every span, in both directions."""

    def on_end(self, span: ReadableSpan) -> None:
        log_docker_failure(span)


def span_processors(config: Config) -> list[SpanProcessor]:
    """For the tracer provider, ahead of its exporters."""
    return [LogsSpanProcessor(Redactor(config.redact_keys))]
