"""The trace explorer's pages (staff only): recent traces, one trace as a waterfall, a job's trace."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from dcm_otel import handover
from dcm_otel.dashboard.snapshot import job_admin_url
from dcm_otel.dashboard.views import bounded_number, render_page
from dcm_otel.trace_explorer import queries

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
NOT_MIGRATED = (
    "The trace explorer keeps traces in the app's database: add 'dcm_otel' to INSTALLED_APPS and run "
    "manage.py migrate."
)


def _start(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


@staff_member_required
def trace_list(request: HttpRequest) -> HttpResponse:
    filters = queries.Filters(
        route=request.GET.get("route", "").strip(),
        status=request.GET.get("status", "").strip().lower(),
        job_id=request.GET.get("job", "").strip(),
        min_duration_ms=bounded_number(request.GET.get("min_ms"), 0, 0, 86_400_000),
    )
    try:
        traces = [(t, _start(t.start_ns)) for t in queries.recent_traces(filters)]
        problem = ""
    except DatabaseError:
        traces, problem = [], NOT_MIGRATED
    context = {"title": "Traces", "traces": traces, "filters": filters, "problem": problem}
    wanted = handover.config().trace_explorer
    context["enabled"] = settings.DEBUG if wanted is None else wanted
    return render_page(request, "traces.html", context)


@staff_member_required
def trace_detail(request: HttpRequest, trace_id: str) -> HttpResponse:
    if not TRACE_ID.match(trace_id):
        raise Http404(trace_id)
    try:
        view = queries.trace_view(trace_id)
    except DatabaseError:
        return render_page(request, "traces.html", {"title": "Traces", "problem": NOT_MIGRATED})
    if view is None:
        raise Http404(f"trace {trace_id} is not kept (any more)")
    tracing_url = handover.config().tracing_url
    context = {
        "title": f"Trace {trace_id}",
        "trace": view,
        "started": _start(view.start_ns),
        "jobs": [(job_id, job_admin_url(job_id)) for job_id in view.job_ids],
        "tracing_url": tracing_url.format(trace_id=trace_id) if tracing_url else "",
    }
    return render_page(request, "trace.html", context)


@staff_member_required
def job_trace(request: HttpRequest, job_id: str) -> HttpResponse:
    """The trace of the job's run; until it is kept, a page that reloads itself (the run ends first)."""
    try:
        trace_id = queries.trace_for_job(job_id)
    except DatabaseError:
        trace_id = None
    if trace_id is not None:
        return HttpResponseRedirect(reverse("dcm_otel_dashboard:trace", args=[trace_id]))
    context: dict[str, object] = {"title": "Job trace", "job_id": job_id, "job_url": job_admin_url(job_id)}
    return render_page(request, "job_trace_pending.html", context)
