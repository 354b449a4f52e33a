"""The explorer's reads: recent traces with their summary, and one trace with the traces linked to it.

A job's run is a trace of its own that links the request which queued it (instrumentation/jobs/spans.py);
the trace page follows those links one step each way, so the request, the processor's run and its Docker
calls are one waterfall, the run drawn under the span it links.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Max, Min, Q, QuerySet

from dcm_otel.profiling.sampler import PROFILE_ID
from dcm_otel.profiling.storage import valid_id

from .database import explorer_database
from .models import TraceLog, TraceSpan

LIST_LIMIT = 100


@dataclass(frozen=True)
class Filters:
    route: str = ""
    status: str = ""  # an HTTP status code, or "error"
    job_id: str = ""
    min_duration_ms: float = 0.0


@dataclass(frozen=True)
class TraceSummary:
    trace_id: str
    root: str
    service: str
    start_ns: int
    duration_ms: float
    spans: int
    error: bool


def _spans() -> QuerySet[TraceSpan]:
    return TraceSpan.objects.using(explorer_database())


def _logs() -> QuerySet[TraceLog]:
    return TraceLog.objects.using(explorer_database())


def _ids_where(condition: Q) -> QuerySet[TraceSpan, Any]:
    return _spans().filter(condition).values("trace_id")


def recent_traces(filters: Filters, limit: int = LIST_LIMIT) -> list[TraceSummary]:
    spans = _spans()
    if filters.route:
        spans = spans.filter(trace_id__in=_ids_where(Q(route__icontains=filters.route)))
    if filters.status == "error":
        spans = spans.filter(trace_id__in=_ids_where(Q(error=True)))
    elif filters.status.isdigit():
        spans = spans.filter(trace_id__in=_ids_where(Q(http_status=int(filters.status))))
    if filters.job_id:
        spans = spans.filter(trace_id__in=_ids_where(Q(job_id=filters.job_id)))
    found = (
        spans.values("trace_id")
        .annotate(
            start=Min("start_ns"),
            end=Max("end_ns"),
            count=Count("id"),
            errors=Count("id", filter=Q(error=True)),
        )
        .annotate(duration=F("end") - F("start"))
        .filter(duration__gte=int(filters.min_duration_ms * 1_000_000))
        .order_by("-start")[:limit]
    )
    rows = list(found)
    roots = _roots(row["trace_id"] for row in rows)
    return [
        TraceSummary(
            trace_id=row["trace_id"],
            root=roots.get(row["trace_id"], ("(root not ended yet)", ""))[0],
            service=roots.get(row["trace_id"], ("", ""))[1],
            start_ns=row["start"],
            duration_ms=row["duration"] / 1e6,
            spans=row["count"],
            error=row["errors"] > 0,
        )
        for row in rows
    ]


def _roots(trace_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Each trace's root span (name, service): the earliest span without a parent."""
    roots: dict[str, tuple[str, str]] = {}
    candidates = _spans().filter(trace_id__in=list(trace_ids), parent_id="").order_by("start_ns")
    for trace_id, name, service in candidates.values_list("trace_id", "name", "service"):
        roots.setdefault(trace_id, (name, service))
    return roots


def trace_for_job(job_id: str) -> str | None:
    """The trace of the job's latest run, or None before its run span has ended."""
    found = _spans().filter(job_id=job_id).order_by("-start_ns").values_list("trace_id").first()
    return found[0] if found else None


@dataclass
class SpanView:
    """A span as the waterfall draws it: offsets in percent of the page's window, depth for the indent."""

    row: TraceSpan
    depth: int = 0
    offset: float = 0.0
    width: float = 0.0
    via_link: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    logs: list[TraceLog] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.row.end_ns - self.row.start_ns) / 1e6

    @property
    def profile_id(self) -> str:
        """The id of the span's profile (docs/profiles.md), or empty."""
        value = self.attributes.get(PROFILE_ID)
        return str(value) if valid_id(value) else ""


@dataclass
class TraceView:
    trace_id: str
    traces: list[str]  # this one and the traces linked to it, in the waterfall
    spans: list[SpanView]
    logs: list[TraceLog]
    start_ns: int
    duration_ms: float
    job_ids: list[str]


def _linked_traces(trace_id: str) -> list[str]:
    """The trace, the traces it links (a run's request), and the traces linking either (the runs)."""
    linked = set(
        _spans()
        .filter(trace_id=trace_id)
        .exclude(linked_trace_id="")
        .values_list("linked_trace_id", flat=True)
    )
    heads = {trace_id, *linked}
    linking = _spans().filter(linked_trace_id__in=heads).values_list("trace_id", flat=True)
    return sorted({*heads, *linking} - {trace_id}, key=str)


def trace_view(trace_id: str) -> TraceView | None:
    traces = [trace_id, *_linked_traces(trace_id)]
    rows = list(_spans().filter(trace_id__in=traces).order_by("start_ns", "id"))
    if not rows:
        return None
    logs = list(_logs().filter(trace_id__in=traces).order_by("time_ns", "id"))
    start = min(r.start_ns for r in rows)
    window = max(max(r.end_ns for r in rows) - start, 1)
    views = _tree(rows)
    by_span = {view.row.span_id: view for view in views}
    for log in logs:
        if log.span_id in by_span:
            by_span[log.span_id].logs.append(log)
    for view in views:
        view.offset = 100 * (view.row.start_ns - start) / window
        view.width = max(100 * (view.row.end_ns - view.row.start_ns) / window, 0.2)
        view.attributes = json.loads(view.row.attributes)
        view.events = json.loads(view.row.events)
    job_ids = sorted({r.job_id for r in rows if r.job_id})
    return TraceView(trace_id, traces, views, logs, start, window / 1e6, job_ids)


def _tree(rows: list[TraceSpan]) -> list[SpanView]:
    """Depth-first, children by start time; a span whose parent is not kept hangs under the span it
    links (a job's run under the request that queued it), else at the top."""
    by_id = {r.span_id: r for r in rows}
    children: dict[str, list[TraceSpan]] = {}
    top: list[TraceSpan] = []
    linked: set[str] = set()
    for row in rows:
        if row.parent_id and row.parent_id in by_id:
            children.setdefault(row.parent_id, []).append(row)
        elif not row.parent_id and row.linked_span_id in by_id:
            children.setdefault(row.linked_span_id, []).append(row)
            linked.add(row.span_id)
        else:
            top.append(row)
    ordered: list[SpanView] = []
    stack = [(row, 0) for row in reversed(top)]
    while stack:
        row, depth = stack.pop()
        ordered.append(SpanView(row, depth, via_link=row.span_id in linked))
        stack.extend((child, depth + 1) for child in reversed(children.get(row.span_id, [])))
    return ordered
