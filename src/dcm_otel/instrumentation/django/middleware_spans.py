"""Opt-in (``middleware_spans``) INTERNAL spans, one per middleware of ``settings.MIDDLEWARE``, nested as the
chain is: each covers its middleware's own work and, inside it, the rest of the chain (contrib issue 3723).

Django builds the chain in ``BaseHandler.load_middleware``, importing each entry with the ``import_string``
that ``django.core.handlers.base`` holds. That name is wrapped (wrapt): a middleware factory comes back
wrapped, and what it builds comes back in a proxy whose call runs in the span. The proxy forwards every
attribute, so Django sees the same ``sync_capable``/``async_capable``, the same ``process_view``,
``process_exception`` and ``process_template_response`` (which run outside the nesting, as Django calls
them from the handler) and the same coroutine-function mark of an async instance: the chain is built as
without the spans, no adapter (no thread hop) is added, and an async instance gets an async proxy.

A span is made only under a recording span (the request's), so excluded paths, ``/metrics`` and sampled-out
requests cost one check per middleware. Its name and ``code.function.name`` are the middleware's dotted
path as written in ``MIDDLEWARE``; an exception out of the middleware sets the error status and
``error.type`` (its class), never its message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import wrapt
from asgiref.sync import iscoroutinefunction
from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import SpanKind, Status, StatusCode

from dcm_otel._sdk.span_starter import SpanStarter

_MODULE = "django.core.handlers.base"


class _Traced(NamedTuple):
    """What the spans of one middleware share."""

    spans: SpanStarter
    path: str
    attributes: dict[str, str | int]


@contextmanager
def _middleware_span(traced: _Traced) -> Iterator[None]:
    parent = context.get_current()
    if not trace.get_current_span(parent).is_recording():
        yield
        return
    span = traced.spans.start(traced.path, parent, SpanKind.INTERNAL, traced.attributes)
    token = context.attach(trace.set_span_in_context(span, parent))
    try:
        yield
    except Exception as error:
        span.set_attribute("error.type", type(error).__qualname__)
        span.set_status(Status(StatusCode.ERROR))
        raise
    finally:
        context.detach(token)
        span.end()


class _SyncMiddleware(wrapt.ObjectProxy):  # type: ignore[type-arg]
    def __init__(self, middleware: Callable[[Any], Any], traced: _Traced) -> None:
        super().__init__(middleware)
        self._self_traced = traced

    def __call__(self, request: Any) -> Any:
        with _middleware_span(self._self_traced):
            return self.__wrapped__(request)


class _AsyncMiddleware(_SyncMiddleware):
    async def __call__(self, request: Any) -> Any:
        with _middleware_span(self._self_traced):
            awaitable: Awaitable[Any] = self.__wrapped__(request)
            return await awaitable


class _TracedFactory:
    """Wraps a middleware factory (a class or a function): what it builds is traced."""

    def __init__(self, spans: SpanStarter, path: str) -> None:
        self.traced = _Traced(spans, path, {"code.function.name": path})

    def __call__(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        middleware = wrapped(*args, **kwargs)  # MiddlewareNotUsed passes through, as without us
        if middleware is None:  # Django's own error follows
            return None
        proxy = _AsyncMiddleware if iscoroutinefunction(middleware) else _SyncMiddleware
        return proxy(middleware, self.traced)


class _TracedImport:
    """Wraps ``django.core.handlers.base.import_string``: every ``MIDDLEWARE`` entry but ``skip``."""

    def __init__(self, tracer: trace.Tracer, skip: str) -> None:
        self.spans = SpanStarter(tracer)
        self.skip = skip

    def __call__(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        from django.conf import settings

        found = wrapped(*args, **kwargs)
        path = args[0] if args else kwargs.get("dotted_path")
        if path == self.skip or path not in getattr(settings, "MIDDLEWARE", ()):
            return found
        return wrapt.FunctionWrapper(found, _TracedFactory(self.spans, path))


def install(tracer: trace.Tracer, skip: str) -> None:
    """Trace each middleware of the chains Django builds from now on, but ``skip`` (the request
    middleware, whose span is the parent)."""
    wrapt.wrap_function_wrapper(_MODULE, "import_string", _TracedImport(tracer, skip))


def uninstall() -> None:
    import django.core.handlers.base as base

    if isinstance(vars(base).get("import_string"), wrapt.FunctionWrapper):
        unwrap(base, "import_string")
