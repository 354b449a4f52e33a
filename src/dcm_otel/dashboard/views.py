"""The staff-only dashboard pages and the JSON endpoint their script polls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.template import engines
from django.utils import timezone

from dcm_otel.dashboard.snapshot import snapshot
from dcm_otel.history import report

HERE = Path(__file__).resolve().parent
ASSETS = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "traces.js": "text/javascript",
    "traces.css": "text/css",
}
DEFAULT_POLL_SECONDS = 5


def render_page(request: HttpRequest, name: str, context: dict[str, object]) -> HttpResponse:
    """Render a template of this package with the project's engine, so it can extend the admin's."""
    template = engines["django"].from_string((HERE / "templates" / name).read_text())
    return HttpResponse(template.render({**admin.site.each_context(request), **context}, request))


def bounded_number(value: str | None, default: float, low: float, high: float) -> float:
    try:
        return min(max(float(value or default), low), high)
    except ValueError:
        return default


@staff_member_required
def live(request: HttpRequest) -> HttpResponse:
    poll = bounded_number(request.GET.get("poll"), DEFAULT_POLL_SECONDS, 1, 60)
    return render_page(request, "live.html", {"title": "Jobs dashboard", "poll_ms": int(poll * 1000)})


@staff_member_required
def data(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(snapshot(timezone.now()))
    response["Cache-Control"] = "no-store"
    return response


@staff_member_required
def history(request: HttpRequest) -> HttpResponse:
    days = bounded_number(request.GET.get("days"), 7, 1, 366)
    until = datetime.now(UTC)
    data = report.build(until - timedelta(days=days), until)
    return render_page(request, "history.html", {"title": "Jobs history", "report": data, "days": int(days)})


@staff_member_required
def asset(request: HttpRequest, name: str) -> FileResponse:
    """The page's script and style, straight from the package (no collectstatic, no CDN)."""
    if name not in ASSETS:
        raise Http404(name)
    return FileResponse((HERE / "assets" / name).open("rb"), content_type=ASSETS[name])
