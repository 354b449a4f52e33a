"""``DjangoInstrumentor``: puts dcm_otel's request middleware in front of every Django request.

It replaces opentelemetry-instrumentation-django's hot path with a leaner middleware that emits the same
stable conventions. The middleware must be in ``settings.MIDDLEWARE`` before Django builds its handler,
which happens after ``django.setup()``; when settings are not loaded yet (the ``init()`` line in
settings.py, or the ``opentelemetry-instrument`` launch), it is inserted right after the app registry is
populated, and the settings-side ``init()`` runs there too so ``DCM_OTEL`` applies.

``instrument(config=..., tracer_provider=..., meter_provider=...)`` binds them on the middleware class,
since Django, not us, builds the middleware; ``request_hook=`` and ``response_hook=`` (contrib's keyword
arguments and signatures) replace the config's ``request_hook`` and ``response_hook``;
``on_apps_ready`` is what :func:`dcm_otel.init` passes to be called again once the app registry is
populated. Without ``config=`` the middleware has ``Config()``'s defaults (``DCM_OTEL`` applies through
``dcm_otel.init()``). ``middleware_spans`` (the setting, or the keyword) adds a span per middleware
(:mod:`.middleware_spans`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from functools import partial
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from dcm_otel.instrumentation import config_of
from dcm_otel.instrumentation.hooks import hook_of

from . import middleware_spans
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


def _after_populate(
    on_apps_ready: Callable[[], object], wrapped: Any, instance: Any, args: Any, kwargs: Any
) -> Any:
    result = wrapped(*args, **kwargs)
    on_apps_ready()
    # DCM_OTEL, read in an AppConfig.ready or on_apps_ready, may have switched this instrumentor off.
    if DjangoInstrumentor().is_instrumented_by_opentelemetry:
        _insert_middleware()
    return result


class DjangoInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments Django's request handling with :class:`~.middleware.TelemetryMiddleware`."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("django >= 4.2",)

    def _instrument(self, **kwargs: Any) -> None:
        from django.conf import settings

        config = config_of(kwargs)
        hooks = replace(
            config,
            request_hook=hook_of(kwargs, config, "request_hook"),
            response_hook=hook_of(kwargs, config, "response_hook"),
        )
        TelemetryMiddleware.bind(hooks, kwargs.get("tracer_provider"), kwargs.get("meter_provider"))
        if kwargs.get("middleware_spans", config.middleware_spans):
            tracer = trace.get_tracer(
                "dcm_otel.django.middleware", tracer_provider=kwargs.get("tracer_provider")
            )
            middleware_spans.install(tracer, skip=MIDDLEWARE)
        if settings.configured:
            _insert_middleware()
        else:
            on_apps_ready: Callable[[], object] = kwargs.get("on_apps_ready") or _nothing
            wrapt.wrap_function_wrapper(
                "django.apps.registry", "Apps.populate", partial(_after_populate, on_apps_ready)
            )

    def _uninstrument(self, **kwargs: Any) -> None:
        from django.apps.registry import Apps

        if isinstance(Apps.populate, wrapt.FunctionWrapper):
            unwrap(Apps, "populate")
        middleware_spans.uninstall()
        _remove_middleware()


def _nothing() -> None:
    return None
