"""Ended spans and log records as the rows the explorer keeps, masked with the exporters' redactor."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from dcm_otel.logs.redaction import Redactor

from .models import TraceLog, TraceSpan

#: What a row costs beyond its texts (ids, times, columns), counted towards ``trace_explorer_max_bytes``.
ROW_OVERHEAD = 200
MAX_MESSAGE = 2000
# instrumentation/jobs' names, read here rather than imported (the jobs package imports Django's models)
_JOB_ID = "dcm.job.id"
_POLL = "dcm.processor.poll"
_POLL_SEEN = "dcm.processor.jobs.seen"


def idle_poll(span: ReadableSpan) -> bool:
    """A job processor's poll that saw no job: not kept, or one a second would push every other trace out."""
    return (
        span.name == _POLL
        and span.parent is None
        and (span.attributes or {}).get(_POLL_SEEN) == 0
        and span.status.status_code is not StatusCode.ERROR
    )


def background_call(span: ReadableSpan) -> bool:
    """A query or Docker call made outside any request, job or poll (the processor's housekeeping between
    polls, the queue gauges' counts): a trace of one span each, a few a second, which would push every
    other trace out too. Kept when it failed."""
    return (
        span.parent is None
        and span.kind is SpanKind.CLIENT
        and span.status.status_code is not StatusCode.ERROR
    )


def _masked(redactor: Redactor, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """All attributes, masked: attributes set after start (which the export processor cannot change) too."""
    values = dict(attributes or {})
    values.update(redactor.attributes(values) or {})
    return values  # tuple values become JSON arrays as they are


def span_row(span: ReadableSpan, redactor: Redactor) -> TraceSpan:
    context = span.context
    assert context is not None  # an SDK span always has one
    attributes = _masked(redactor, span.attributes)
    events = [
        {"name": e.name, "time_ns": e.timestamp, "attributes": _masked(redactor, e.attributes)}
        for e in span.events
    ]
    link = next((link.context for link in span.links if link.context.is_valid), None)
    resource = span.resource.attributes
    route = attributes.get("http.route")
    status = attributes.get("http.response.status_code")
    attributes_json, events_json = json.dumps(attributes, default=str), json.dumps(events, default=str)
    message = redactor.text(span.status.description or "")
    return TraceSpan(
        trace_id=f"{context.trace_id:032x}",
        span_id=f"{context.span_id:016x}",
        parent_id=f"{span.parent.span_id:016x}" if span.parent is not None else "",
        linked_trace_id=f"{link.trace_id:032x}" if link else "",
        linked_span_id=f"{link.span_id:016x}" if link else "",
        name=span.name[:255],
        kind=span.kind.name.lower(),
        service=str(resource.get("service.name", ""))[:255],
        process=str(resource.get("service.instance.id") or resource.get("process.pid", ""))[:64],
        start_ns=span.start_time or 0,
        end_ns=span.end_time or span.start_time or 0,
        error=span.status.status_code is StatusCode.ERROR,
        status_message=message,
        route=str(route)[:255] if route is not None else "",
        http_status=status if isinstance(status, int) else None,
        job_id=str(attributes.get(_JOB_ID, ""))[:64],
        attributes=attributes_json,
        events=events_json,
        size=ROW_OVERHEAD + len(span.name) + len(attributes_json) + len(events_json) + len(message),
    )


def log_row(
    trace_id: int, span_id: int, time_ns: int, level: str, logger: str, message: str, redactor: Redactor
) -> TraceLog:
    text = redactor.text(message[:MAX_MESSAGE])
    return TraceLog(
        trace_id=f"{trace_id:032x}",
        span_id=f"{span_id:016x}",
        time_ns=time_ns,
        level=level[:16],
        logger=logger[:255],
        message=text,
        size=ROW_OVERHEAD + len(logger) + len(text),
    )
