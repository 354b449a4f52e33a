"""Entry points for ``opentelemetry-instrument``: the distro and the configurator.

The configurator sets up the same providers and exporters as :func:`dcm_otel.init` (from OTEL_* variables,
since Django's settings are not loaded yet at that moment). The distro declines opentelemetry-
instrumentation-django when it is installed too: our own Django instrumentor covers requests, and both
would give two spans per request.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]

from dcm_otel._sdk.base_configurator import BaseConfigurator

# Entry points of other instrumentors that ours replace.
REPLACED_INSTRUMENTORS = frozenset({"django"})


class DcmOtelDistro(BaseDistro):  # type: ignore[misc]
    """Loads every instrumentor except those dcm_otel replaces."""

    def _configure(self, **kwargs: Any) -> None:
        """Nothing to set: the configurator does the work."""

    def load_instrumentor(self, entry_point: EntryPoint, **kwargs: Any) -> None:
        if entry_point.name in REPLACED_INSTRUMENTORS or _instrumented_by_dcm_otel(entry_point):
            return
        super().load_instrumentor(entry_point, **kwargs)


def _instrumented_by_dcm_otel(entry_point: EntryPoint) -> bool:
    """dcm_otel's own instrumentors, once our configurator has run: it instrumented those its config
    switches on, and the launcher must not switch on the others (``DCM_OTEL_INSTRUMENT_DB=false``)."""
    from dcm_otel import runtime
    from dcm_otel.instrumentation import INSTRUMENTORS

    return runtime.current() is not None and entry_point.name in {r.entry_point for r in INSTRUMENTORS}


class DcmOtelConfigurator(BaseConfigurator):
    """Sets up providers the way ``dcm_otel.init()`` does."""

    def _configure(self, **kwargs: Any) -> None:
        from dcm_otel import runtime

        runtime.init_from_environment()
