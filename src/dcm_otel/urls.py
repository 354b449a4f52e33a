"""``path("", include("dcm_otel.urls"))``: the health endpoints at ``DCM_OTEL['health']`` paths.

The paths are absolute: include this at the root so they match the ones the middleware excludes from traces.
"""

from __future__ import annotations

from django.urls import path

from dcm_otel.health import service, views

_health = service.configuration().health

urlpatterns = [
    path(_health.live_path.lstrip("/"), views.liveness, name="dcm_otel_health"),
    path(_health.ready_path.lstrip("/"), views.readiness, name="dcm_otel_ready"),
]
