"""``/metrics``: the Prometheus exposition of this server's metrics, routed by ``dcm_otel.urls`` like
``/health/``. The request middleware answers the same path through this view when no URL line routes it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from dcm_otel import handover
from dcm_otel.access_control import from_networks, token_matches
from dcm_otel.config import Config


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition of this server's metrics (every worker's, under gunicorn), to the callers
    ``metrics_token`` / ``metrics_ips`` allow when either is set; config and endpoint as ``init()`` handed
    them over (:mod:`dcm_otel.handover`)."""
    if not may_scrape(request, handover.config()):
        return HttpResponse(
            "Forbidden\n",
            status=403,
            content_type="text/plain; charset=utf-8",
            headers={"WWW-Authenticate": "Bearer"},
        )
    endpoint = handover.prometheus()
    if endpoint is None:
        return HttpResponse(
            "The prometheus metrics exporter is not enabled (DCM_OTEL['metrics_exporter']).\n",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    body, content_type = endpoint.render(request.META.get("HTTP_ACCEPT"))
    return HttpResponse(body, content_type=content_type)


def may_scrape(request: HttpRequest, config: Config) -> bool:
    """Open when neither is set; else ``Authorization: Bearer <metrics_token>`` or a ``metrics_ips`` address
    (Prometheus sends the token with ``authorization: {credentials: ...}`` in its scrape config)."""
    if config.metrics_token is None and not config.metrics_ips:
        return True
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token_matches(presented.strip(), config.metrics_token):
        return True
    return from_networks(request.META.get("REMOTE_ADDR", ""), config.metrics_ips)
