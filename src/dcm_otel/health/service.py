"""The process's readiness runner, built on first use from the configuration and the check registry."""

from __future__ import annotations

import threading

from dcm_otel import handover
from dcm_otel.config import Config
from dcm_otel.health.registry import resolve
from dcm_otel.health.runner import Runner
from dcm_otel.health.telemetry import HealthTelemetry

_lock = threading.Lock()
_runner: Runner | None = None


def configuration() -> Config:
    """The config ``init()`` handed over; or, in a process that never called it, ``DCM_OTEL`` read now."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from dcm_otel.config import ConfigError, load_config

    config = handover.handed_over()
    if config is not None:
        return config
    try:
        return load_config(getattr(settings, "DCM_OTEL", {}))
    except ConfigError as exc:
        raise ImproperlyConfigured(f"dcm_otel: {exc}") from None


def runner() -> Runner:
    global _runner
    with _lock:
        if _runner is None:
            config = configuration()
            _runner = Runner(resolve(config), config.health.cache_ttl, HealthTelemetry())
        return _runner
