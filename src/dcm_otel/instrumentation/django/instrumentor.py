"""``DjangoInstrumentor``: puts dcm_otel's request middleware in front of every Django request.

It replaces opentelemetry-instrumentation-django's hot path with a leaner middleware that emits the same
stable conventions. The middleware must be in ``settings.MIDDLEWARE`` before Django builds its handler,
which happens after ``django.setup()``; when settings are not loaded yet (the ``init()`` line in
settings.py, or the ``opentelemetry-instrument`` launch), it is inserted right after the app registry is
populated, and the settings-side ``init()`` runs there too so ``DCM_OTEL`` applies.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from .middleware import TelemetryMiddleware

MIDDLEWARE = f"{TelemetryMiddleware.__module__}.{TelemetryMiddleware.__qualname__}"


def _insert_middleware() -> None:
    from django.conf import settings

    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE not in middleware:
        settings.MIDDLEWARE = [MIDDLEWARE, *middleware]


def _remove_middleware() -> None:
    from django.conf import settings

    if settings.configured and MIDDLEWARE in (getattr(settings, "MIDDLEWARE", None) or []):
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]


def _after_populate(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    result = wrapped(*args, **kwargs)
    from dcm_otel import runtime

    runtime.init()
    _insert_middleware()
    return result


class DjangoInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments Django's request handling with :class:`~.middleware.TelemetryMiddleware`."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("django >= 4.2",)

    def _instrument(self, **kwargs: Any) -> None:
        from django.conf import settings

        if settings.configured:
            _insert_middleware()
        else:
            wrapt.wrap_function_wrapper("django.apps.registry", "Apps.populate", _after_populate)

    def _uninstrument(self, **kwargs: Any) -> None:
        from django.apps.registry import Apps

        if isinstance(Apps.populate, wrapt.FunctionWrapper):
            unwrap(Apps, "populate")
        _remove_middleware()
