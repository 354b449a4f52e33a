"""The field set of every record, shared by the JSON formatter and the OTLP bridge so both carry the same.

Fixed fields come first (see docs/logging.md); event fields are whatever the caller passed in ``extra=``,
minus Django's request object (its repr holds the full URL, query string included).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from opentelemetry.trace import SpanContext

from dcm_otel.config import Config

TIMESTAMP = "timestamp"
LEVEL = "level"
LOGGER = "logger"
MESSAGE = "message"
SERVICE_NAME = "service.name"
ENVIRONMENT = "deployment.environment.name"
TRACE_ID = "trace_id"
SPAN_ID = "span_id"
EVENT_NAME = "event.name"
EXCEPTION = "exception.stacktrace"

STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_NOT_DATA = frozenset({"request", "server_time"})  # Django's: the HttpRequest, runserver's clock text
_NOT_EVENT_FIELDS = STANDARD_ATTRIBUTES | _NOT_DATA


_last_second: tuple[int, str] = (-1, "")


def timestamp(created: float) -> str:
    """RFC 3339 in UTC with microseconds, e.g. ``2026-01-31T12:00:00.123456Z``; the part up to the second
    is formatted once per second (a third of a JSON line's cost otherwise)."""
    global _last_second
    second = int(created)
    if _last_second[0] != second:
        _last_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_last_second[1]}.{int((created - second) * 1e6):06d}Z"


def correlation(context: SpanContext) -> dict[str, str]:
    """A span's ids, as W3C trace context writes them; empty for an invalid (no current span) context."""
    if not context.is_valid:
        return {}
    return {TRACE_ID: format(context.trace_id, "032x"), SPAN_ID: format(context.span_id, "016x")}


def event_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record, in the order given; ``None`` values are left out (OTLP has no
    null attribute)."""
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _NOT_EVENT_FIELDS and value is not None and key[:1] != "_"
    }


def identity(config: Config) -> dict[str, str]:
    """``service.name`` and the deployment environment."""
    fields = {SERVICE_NAME: config.service_name}
    if config.environment:
        fields[ENVIRONMENT] = config.environment
    return fields
