"""The request middleware: a SERVER span and the stable HTTP metrics per request, and the /metrics page.

Lean by design, since it runs on every request: instruments and constant attributes are made once,
excluded paths cost one ``startswith``, and the route template is read from Django's own resolver match
(no second URL resolution).
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from django.http import HttpRequest, HttpResponse
from opentelemetry import context, metrics, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode

from dcm_otel import runtime
from dcm_otel.config import Config

# Semantic-convention advice for http.server.request.duration.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
KNOWN_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"))
_EXCEPTION = "_dcm_otel_exception"


class _MetaGetter(Getter[dict[str, Any]]):
    """Reads propagation headers from a WSGI environ (``traceparent`` -> ``HTTP_TRACEPARENT``)."""

    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return None if value is None else [value]

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        return [k[5:].lower().replace("_", "-") for k in carrier if k.startswith("HTTP_")]


_GETTER = _MetaGetter()


def route_of(request: HttpRequest) -> str | None:
    """The matched route template (``jobs/<uuid:pk>/``) with a leading slash, never the raw path."""
    match = request.resolver_match
    if match is None or match.route is None:
        return None
    return "/" + str(match.route).lstrip("^")


class TelemetryMiddleware:
    """First middleware of the chain, so its span and duration cover all the others."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from dcm_otel import __version__

        self.get_response = get_response
        state = runtime.current()
        self.config = state.config if state is not None else Config()
        self.excluded = self.config.excluded_paths
        self.tracer = trace.get_tracer("dcm_otel.django", __version__)
        meter = metrics.get_meter("dcm_otel.django", __version__)
        self.duration = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP server requests.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.active_requests = meter.create_up_down_counter(
            "http.server.active_requests",
            unit="{request}",
            description="Number of active HTTP server requests.",
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path == self.config.metrics_path:
            return metrics_response(request)
        if path.startswith(self.excluded):
            return self.get_response(request)
        return self._traced(request)

    def _traced(self, request: HttpRequest) -> HttpResponse:
        method = request.method if request.method in KNOWN_METHODS else "_OTHER"
        scheme = request.scheme or "http"
        base = {"http.request.method": method, "url.scheme": scheme}
        parent = propagate.extract(request.META, getter=_GETTER)
        span = self.tracer.start_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                **base,
                "url.path": request.path,
                "client.address": request.META.get("REMOTE_ADDR", ""),
            },
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        self.active_requests.add(1, base)
        start = perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            elapsed = perf_counter() - start
            self.active_requests.add(-1, base)
            self._finish(request, span, base, status, elapsed)
            context.detach(token)

    def _finish(
        self, request: HttpRequest, span: trace.Span, base: dict[str, str], status: int, elapsed: float
    ) -> None:
        attributes: dict[str, str | int] = {**base, "http.response.status_code": status}
        route = route_of(request)
        if route is not None:
            attributes["http.route"] = route
            span.update_name(f"{base['http.request.method']} {route}")
        exception: BaseException | None = getattr(request, _EXCEPTION, None)
        if exception is not None:
            attributes["error.type"] = type(exception).__qualname__
            span.record_exception(exception)
        elif status >= 500:
            attributes["error.type"] = str(status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, str(attributes["error.type"])))
        span.set_attributes(attributes)
        span.end()
        self.duration.record(elapsed, attributes)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Django turns a view's exception into a 500 response; keep the exception for the span."""
        setattr(request, _EXCEPTION, exception)


def metrics_response(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition of this server's metrics (every worker's, under gunicorn)."""
    state = runtime.current()
    endpoint = state.telemetry.prometheus if state is not None and state.telemetry is not None else None
    if endpoint is None:
        return HttpResponse(
            "The prometheus metrics exporter is not enabled (DCM_OTEL['metrics_exporter']).\n",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    body, content_type = endpoint.render(request.META.get("HTTP_ACCEPT"))
    return HttpResponse(body, content_type=content_type)
