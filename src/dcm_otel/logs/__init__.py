"""Structured logs: JSON lines with one field set, correlated with traces, shipped as OTLP logs, with
security and Docker failure events and secrets masked (docs/logging.md)."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor

from dcm_otel.config import Config

from .docker_failures import DockerFailureLog
from .logging_config import structured_logging
from .redaction import RedactingFilter, RedactingSpanProcessor, Redactor

__all__ = ["RedactingFilter", "span_processors", "structured_logging"]


def span_processors(config: Config) -> list[SpanProcessor]:
    """For the tracer provider, ahead of its exporters: masking of span attributes, Docker failure events."""
    return [RedactingSpanProcessor(Redactor(config.redact_keys)), DockerFailureLog()]
