"""``/health/`` (liveness: the process answers, nothing else is asked) and ``/ready/`` (readiness: the
checks' report, 200 or 503). JSON by default, plain text to a caller that prefers it; never cached."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.views.decorators.http import require_safe

from dcm_otel.health import service
from dcm_otel.health.details_access import TOKEN_HEADER, may_see_details
from dcm_otel.health.render import as_dict, as_text
from dcm_otel.health.results import Report

_ALIVE = Report(())


@require_safe
def liveness(request: HttpRequest) -> HttpResponse:
    return _respond(request, _ALIVE)


@require_safe
def readiness(request: HttpRequest) -> HttpResponse:
    return _respond(request, service.runner().report())


def _respond(request: HttpRequest, report: Report) -> HttpResponse:
    details = may_see_details(request, service.configuration().health)
    status = 200 if report.ok else 503
    response: HttpResponse
    if _prefers_text(request):
        response = HttpResponse(
            as_text(report, details), status=status, content_type="text/plain; charset=utf-8"
        )
    else:
        response = JsonResponse(as_dict(report, details), status=status)
    add_never_cache_headers(response)
    patch_vary_headers(response, ("Accept", TOKEN_HEADER, "Cookie"))
    return response


def _prefers_text(request: HttpRequest) -> bool:
    """The first acceptable type (in the client's order of preference) that we can give decides."""
    for media_type in request.accepted_types:
        if media_type.match("application/json"):
            return False
        if media_type.match("text/plain"):
            return True
    return False
