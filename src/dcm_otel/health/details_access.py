"""Who may see the per-check details (names, latencies, reasons): a caller presenting the token, one from
an allowed network, or a logged-in staff user. Everyone else gets the bare status."""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest

from dcm_otel.access_control import from_networks, token_matches
from dcm_otel.health.settings import HealthSettings

TOKEN_HEADER = "X-Health-Token"  # noqa: S105 (a header name)


def may_see_details(request: HttpRequest, health: HealthSettings) -> bool:
    if token_matches(request.headers.get(TOKEN_HEADER), health.details_token):
        return True
    if from_networks(request.META.get("REMOTE_ADDR", ""), health.details_ips):
        return True
    return health.details_staff and _is_staff(request)


def _is_staff(request: HttpRequest) -> bool:
    """Only a request carrying a session cookie loads its user: a probe must not touch the session store."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES or not hasattr(request, "user"):
        return False
    try:
        return bool(request.user.is_active and getattr(request.user, "is_staff", False))
    except DatabaseError:  # the session or user table is unreachable: no details, still an answer
        return False
