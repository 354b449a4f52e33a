"""Instrumentation of Django's request handling: a SERVER span and the stable HTTP metrics per request.

:class:`DjangoInstrumentor` puts :class:`~.middleware.TelemetryMiddleware` first in ``settings.MIDDLEWARE``;
the middleware replaces opentelemetry-instrumentation-django's hot path with a leaner one that emits the
same stable conventions.
"""

from .instrumentor import DjangoInstrumentor

__all__ = ["DjangoInstrumentor"]
