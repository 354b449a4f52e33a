"""``path("", include("dcm_otel.urls"))``: the health endpoints at ``DCM_OTEL['health']`` paths and the
Prometheus ``/metrics`` at ``DCM_OTEL['metrics_path']``.

The paths are absolute: include this at the root so they match the ones the middleware excludes from traces.
"""

from __future__ import annotations

from django.urls import path

from dcm_otel.health import service, views
from dcm_otel.prometheus.views import metrics_view

_config = service.configuration()

urlpatterns = [
    path(_config.health.live_path.lstrip("/"), views.liveness, name="dcm_otel_health"),
    path(_config.health.ready_path.lstrip("/"), views.readiness, name="dcm_otel_ready"),
    path(_config.metrics_path.lstrip("/"), metrics_view, name="dcm_otel_metrics"),
]
