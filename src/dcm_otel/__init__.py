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
    from dcm_otel.runtime import State

__all__ = ["init"]
__version__ = "0.1.0"


def init(settings: Mapping[str, object] | None = None) -> State:
    """Initialise telemetry once for this process (see :func:`dcm_otel.runtime.init`).

    Importing the SDK is deferred to this call, so ``import dcm_otel`` stays cheap.
    """
    from dcm_otel import runtime

    return runtime.init(settings, caller=sys._getframe(1))
