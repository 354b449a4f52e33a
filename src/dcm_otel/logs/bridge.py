"""Python logging records as OTLP log records, with the attributes and trace context of the JSON lines.

Our own handler rather than the SDK's ``LoggingHandler`` (deprecated in 1.45): that one exports every
attribute of the record as it is, the unredacted request object and the code location included; this one
exports the fields of :mod:`dcm_otel.logs.fields`, rendered as the JSON formatter renders them, under
the names the semantic conventions expect (un-namespaced ``extra=`` names under ``dcm.log.``).

Where dcm_otel's log processor is the provider's only one, the same fields go to it without the SDK's
record objects (:mod:`dcm_otel._sdk.log_fast_path`); everything else goes through ``Logger.emit``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from time import time_ns
from typing import Any

from opentelemetry.context import get_current
from pythonjsonlogger.json import JsonEncoder

from dcm_otel._sdk import current_span, log_fast_path
from dcm_otel._sdk.logs_api import LoggerProvider, LogRecord
from dcm_otel._sdk.logs_sdk import std_to_otel
from dcm_otel.export.log_encoding import LogFields

from . import fields as f

_ENCODER = JsonEncoder()
_SEVERITY_TEXT = {"WARNING": "WARN", "CRITICAL": "FATAL"}  # the OTel names of Python's levels


class OtlpLogHandler(logging.Handler):
    def __init__(self, logger_provider: LoggerProvider, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._provider = logger_provider
        self._fast = log_fast_path.FEATURE.available()
        self._shortcut = log_fast_path.Shortcut(logger_provider)
        self._span_ids = current_span.span_ids_reader()

    def handle(self, record: logging.LogRecord) -> logging.LogRecord | bool:  # type: ignore[override]
        """``Handler.handle`` without the handler's lock, which only serialises ``emit``: the loggers,
        processors and batches ``emit`` reaches take their own locks (typeshed's ``bool`` is 3.11's;
        3.12 returns the record a filter handed back)."""
        kept = self.filter(record)
        if isinstance(kept, logging.LogRecord):  # Python 3.12+: a filter may hand back another record
            record = kept
        if kept:
            self.emit(record)
        return kept

    def emit(self, record: logging.LogRecord) -> None:
        try:
            attributes, event = record_attributes(record)
            timestamp = int(record.created * 1e9)
            severity_text = _SEVERITY_TEXT.get(record.levelname, record.levelname)
            severity = std_to_otel(record.levelno)
            body = record.getMessage()
            route = self._shortcut.route(record.name, attributes) if self._fast else None
            if route is None:
                self._provider.get_logger(record.name).emit(
                    LogRecord(
                        timestamp=timestamp,
                        observed_timestamp=time_ns(),
                        context=get_current(),
                        severity_text=severity_text,
                        severity_number=severity,
                        body=body,
                        attributes=attributes,
                        event_name=event,
                    )
                )
            else:
                trace_flags, trace_id, span_id = self._span_ids()
                log_fast_path.emit(
                    route.logger,
                    route.target,  # type: ignore[arg-type]  # route() returns none without one
                    LogFields(
                        timestamp,
                        time_ns(),
                        severity,
                        severity_text,
                        body,
                        attributes,
                        0,  # route() takes only what the SDK's attribute limits would keep whole
                        trace_flags,
                        trace_id,
                        span_id,
                        event,
                    ),
                )
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Nothing to do: the log record processor batches and flushes on its own thread."""


def record_attributes(record: logging.LogRecord) -> tuple[dict[str, Any], str | None]:
    """The OTLP attributes of a record, and its event name (an ``event.name`` in ``extra=``)."""
    event_name = None
    if f.has_extra(record):
        name = record.name
        attributes = {
            f.otlp_name(name, key): attribute(value) for key, value in f.event_fields(record).items()
        }
        event_name = attributes.pop(f.EVENT_NAME, None)
    else:  # most records: no extra= fields, and no dict comprehension to make an empty dict
        attributes = {}
    if record.exc_info:
        exception = f.exception_fields(record)
        if exception:  # a traceback without an exception ("NoneType: None") is not one
            attributes.update(exception)
            if record.exc_text:
                attributes[f.EXCEPTION] = record.exc_text
    return attributes, event_name if isinstance(event_name, str) else None


def attribute(value: Any) -> Any:
    """An OTLP attribute value: primitives and maps/lists of them; anything else as JSON would render it."""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(key): attribute(item) for key, item in value.items() if item is not None}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [attribute(item) for item in value]
    rendered = _ENCODER.default(value)
    return rendered if isinstance(rendered, str | bool | int | float) else str(rendered)


_installed: OtlpLogHandler | None = None


def install(logger_provider: LoggerProvider, *filters: logging.Filter) -> OtlpLogHandler:
    """Put the bridge on the root logger, with the redaction and event filters of the JSON handler."""
    global _installed
    from .redaction import RedactingFilter
    from .security import RefusedRequestFilter

    handler = OtlpLogHandler(logger_provider)
    for log_filter in (*filters, RefusedRequestFilter(), RedactingFilter()):
        handler.addFilter(log_filter)
    logging.getLogger().addHandler(handler)
    _installed = handler
    return handler


def installed_handler() -> logging.Handler:
    """For a ``LOGGING`` dict: the bridge that :func:`install` put on the root logger (``dictConfig``
    removes the root's handlers before it sets its own), or a handler that does nothing."""
    return _installed if _installed is not None else logging.NullHandler()
