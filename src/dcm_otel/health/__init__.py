"""Health endpoints for load balancers and Kubernetes probes: ``/health/`` (liveness) and ``/ready/``
(readiness: database, Docker hosts, job queue and registered checks, concurrently, each with a timeout).

Wire them with ``path("", include("dcm_otel.urls"))``; configure with ``DCM_OTEL['health']``; add a check::

    from dcm_otel import health

    @health.check("redis", timeout=0.5)
    def redis_answers(timeout: float) -> health.Outcome | None:
        client.ping()

This package's top level stays free of Django and the SDK: settings.py imports it through the config.
"""

from __future__ import annotations

from dcm_otel.health.heartbeat import set_heartbeat_provider
from dcm_otel.health.registry import check, register
from dcm_otel.health.results import Outcome, failing, ok, skipped

__all__ = ["Outcome", "check", "failing", "ok", "register", "set_heartbeat_provider", "skipped"]
