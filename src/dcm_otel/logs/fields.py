"""The field set of every record, shared by the JSON formatter and the OTLP bridge so both carry the same.

Fixed fields come first (see docs/logging.md); event fields are whatever the caller passed in ``extra=``,
minus Django's request object (its repr holds the full URL, query string included). The JSON line writes
them under the names given; OTLP attributes are names a backend reads as the semantic conventions define
them, so an un-namespaced one is exported under ``dcm.log.`` (:func:`otlp_name`).
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
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
EXTRA_PREFIX = "dcm.log."

STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_NOT_DATA = frozenset({"request", "server_time"})  # Django's: the HttpRequest, runserver's clock text
_NOT_EVENT_FIELDS = STANDARD_ATTRIBUTES | _NOT_DATA
_EXCEPTION_CACHE = "_dcm_otel_exception"
REDACTED = "_dcm_otel_redacted"  # set by the redaction filter on a record it masked
#: Every key of a record logged without ``extra=`` fields, dcm_otel's own marks included.
_PLAIN_RECORD_KEYS = STANDARD_ATTRIBUTES | {_EXCEPTION_CACHE, REDACTED}
#: Django's own un-namespaced ``extra=`` fields that have a semantic-conventions name.
_DJANGO_FIELDS = {"status_code": "http.response.status_code"}


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


def has_extra(record: logging.LogRecord) -> bool:
    """Whether a record may carry ``extra=`` fields; most records carry none, and a subset test of its
    keys answers that in C, where a loop over its two dozen attributes in Python costs ~10k instructions."""
    return not record.__dict__.keys() <= _PLAIN_RECORD_KEYS


def event_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record, in the order given; ``None`` values are left out (OTLP has no
    null attribute)."""
    if not has_extra(record):
        return {}
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _NOT_EVENT_FIELDS and value is not None and key[:1] != "_"
    }


def otlp_name(logger: str, field: str) -> str:
    """The OTLP attribute name of an ``extra=`` field. Namespaced names (``dcm.job.id``, ``url.path``,
    ``shop.order.id``) are the caller's choice and pass; Django's ``status_code`` is the HTTP response
    status code; any other bare name goes under ``dcm.log.``, the namespace the naming conventions ask an
    application to use rather than a name a convention may define later with another meaning."""
    if "." in field[1:-1]:
        return field
    if logger.startswith("django.") and field in _DJANGO_FIELDS:
        return _DJANGO_FIELDS[field]
    return EXTRA_PREFIX + field


def exception_fields(record: logging.LogRecord) -> dict[str, str]:
    """``exception.type`` and ``exception.message`` of the exception a record was logged with (the log
    conventions require one of them beside ``exception.stacktrace``); empty when there is none, as for
    ``logger.exception()`` outside an ``except``. Kept on the record, as ``exc_text`` is, so the redaction
    filter masks the message once for every handler."""
    fields: dict[str, str] | None = record.__dict__.get(_EXCEPTION_CACHE)
    if fields is None:
        fields = record.__dict__[_EXCEPTION_CACHE] = _describe(
            record.exc_info[1] if record.exc_info else None
        )
    return fields


def _describe(error: BaseException | None) -> dict[str, str]:
    if error is None:
        return {}
    cls = type(error)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    try:
        message = str(error)
    except Exception:  # a broken __str__: the type alone satisfies the conventions
        message = ""
    return {EXCEPTION_TYPE: name, EXCEPTION_MESSAGE: message} if message else {EXCEPTION_TYPE: name}


def identity(config: Config) -> dict[str, str]:
    """``service.name`` and the deployment environment."""
    fields = {SERVICE_NAME: config.service_name}
    if config.environment:
        fields[ENVIRONMENT] = config.environment
    return fields
