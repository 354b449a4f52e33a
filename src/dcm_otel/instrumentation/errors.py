"""Exceptions on spans as the semantic conventions (v1.44.0) record them.

The SDK's ``Span.record_exception`` adds ``exception.escaped``, deprecated in the conventions (recording
handled exceptions is no longer recommended, so every recorded one escapes); :func:`record_exception`
adds the same ``exception`` event with ``exception.type``, ``exception.message`` and
``exception.stacktrace`` only. An exception's text is free text that may carry a secret, so it is masked
like a log record's (:class:`~dcm_otel.logs.redaction.Redactor`): the span processor only masks the
attributes a span starts with, never its events or status.
"""

from __future__ import annotations

import traceback

from opentelemetry.trace import Span

from dcm_otel.logs.redaction import Redactor


def exception_type(exception: BaseException) -> str:
    """The fully-qualified class name the conventions ask for (``OSError``, ``django.http.Http404``)."""
    kind = type(exception)
    module = kind.__module__
    return kind.__qualname__ if module in (None, "builtins") else f"{module}.{kind.__qualname__}"


def record_exception(span: Span, exception: BaseException, redactor: Redactor) -> str:
    """Adds the ``exception`` event; returns its masked message, what a status description may show."""
    message = redactor.text(str(exception))
    span.add_event(
        "exception",
        {
            "exception.type": exception_type(exception),
            "exception.message": message,
            "exception.stacktrace": redactor.text("".join(traceback.format_exception(exception))),
        },
    )
    return message
