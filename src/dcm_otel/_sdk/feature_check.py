"""The one rule every ``_sdk`` trick follows: check once whether the SDK has what it reads, else fall back."""

from __future__ import annotations

import logging
from collections.abc import Callable

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger("dcm_otel")


class FeatureCheck:
    """Whether the shortcut ``name`` can be taken; ``probe`` raises when the installed SDK lacks what the
    shortcut reads. The probe runs once, at the first :meth:`available`, never on a request or query."""

    def __init__(self, name: str, fallback: str, probe: Callable[[], object]) -> None:
        self.name = name
        self.fallback = fallback
        self._probe = probe
        self._available: bool | None = None

    def available(self) -> bool:
        if self._available is None:
            try:
                self._probe()
            except Exception as error:
                self.disable(f"{type(error).__name__}: {error}")
            else:
                self._available = True
        return self._available is True

    def disable(self, reason: str) -> None:
        """Turn the shortcut off for the rest of the process (an SDK changed underneath), logging it once."""
        if self._available is not False:
            self._available = False
            logger.info("dcm_otel: SDK shortcut %s is off (%s); %s", self.name, reason, self.fallback)


def probe_tracer_provider() -> TracerProvider:
    """A provider that exports nothing, registers no exit hook and records no SDK metrics, for probes."""
    return TracerProvider(shutdown_on_exit=False, meter_provider=NoOpMeterProvider())
