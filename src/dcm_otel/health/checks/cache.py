"""Every configured Django cache stores and returns a value (a set/get/delete round trip)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.cache import caches

from dcm_otel.config import Config
from dcm_otel.health.results import CheckFunction, Outcome, describe, failing, ok

_KEY = "dcm_otel:health"


def build(config: Config) -> CheckFunction:
    return check_caches


def check_caches(timeout: float) -> Outcome:
    failures = []
    for alias in settings.CACHES:
        try:
            cache = caches[alias]
            token = uuid.uuid4().hex
            cache.set(_KEY, token, timeout=max(1, round(timeout * 10)))
            if cache.get(_KEY) != token:
                failures.append(f"{alias}: the value read back differs")
            cache.delete(_KEY)
        except Exception as exc:
            failures.append(f"{alias}: {describe(exc)}")
    return failing("; ".join(failures)) if failures else ok()
