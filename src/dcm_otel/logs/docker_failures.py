"""A log event for every failed Docker Engine operation, read from the Docker instrumentation's spans.

The span holds all the facts (operation, engine, container or image, error type, duration), so the event
is written when it ends, inside that span's context: the record carries its trace and span ids.
"""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import NonRecordingSpan, StatusCode

from .fields import EVENT_NAME

logger = logging.getLogger("dcm_otel.docker")
_COPIED = (
    "dcm.docker.operation", "error.type", "server.address", "http.response.status_code",
    "container.id", "container.name", "container.image.name",
)  # fmt: skip


def log_docker_failure(span: ReadableSpan) -> None:
    """Called for every ending span: the status test first, since almost every span passes it."""
    if span.status.status_code is not StatusCode.ERROR or not span.name.startswith("docker "):
        return
    attributes = span.attributes or {}
    fields = {key: attributes[key] for key in _COPIED if key in attributes}
    if span.start_time is not None and span.end_time is not None:
        fields["dcm.duration"] = (span.end_time - span.start_time) / 1e9
    if span.context is None:
        return
    with trace.use_span(NonRecordingSpan(span.context)):
        logger.warning(
            "%s failed: %s",
            span.name,
            fields.get("error.type", "error"),
            extra={EVENT_NAME: "dcm.docker.operation.failed", **fields},
        )
