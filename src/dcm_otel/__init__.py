"""dcm_otel: OpenTelemetry for Django projects that run jobs with django-container-manager.

Add one line at the end of settings.py::

    import dcm_otel; dcm_otel.init()

or put ``"dcm_otel"`` in INSTALLED_APPS.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter

    from dcm_otel.runtime import State

__all__ = ["init", "meter"]
__version__ = "0.1.0"


def init(settings: Mapping[str, object] | None = None) -> State:
    """Initialise telemetry once for this process (see :func:`dcm_otel.runtime.init`).

    Importing the SDK is deferred to this call, so ``import dcm_otel`` stays cheap.
    """
    from dcm_otel import runtime

    return runtime.init(settings, caller=sys._getframe(1))


def meter(name: str, version: str = "") -> Meter:
    """A meter for the application's own metrics, exported with dcm_otel's to ``/metrics`` and OTLP; its
    instruments' names and units are checked against the project's rules (:mod:`dcm_otel.custom_metrics`,
    docs/extending.md)."""
    from dcm_otel import custom_metrics

    return custom_metrics.meter(name, version)
