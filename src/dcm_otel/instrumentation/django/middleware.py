"""The request middleware: a SERVER span and the stable HTTP metrics per request.

Lean by design, since it runs on every request: instruments and constant attributes are made once,
excluded paths cost one ``startswith``, the propagators run only when a request carries one of their
headers, the route template is read from Django's own resolver match (no second URL resolution), and
the span and the duration point take :mod:`dcm_otel._sdk.span_starter` (no sampler call) and
:mod:`dcm_otel._sdk.bound_histograms` (bound attributes). What only some requests have (a query string,
a method Django rewrote) costs the others one check: those span-only attributes go in a copy of the
start attributes, which stay the duration point's. The span-only attributes every request has (``url.path``,
``client.address``, ``server.address``/``server.port`` from the Host header, ``user_agent.original``) are
popped from them before the point is recorded (:data:`SPAN_ONLY`); ``network.protocol.version`` (a dict
lookup of ``SERVER_PROTOCOL``, bounded values) stays on both.
Requests to excluded paths (health checks, static files) set the suppress-instrumentation key, so nothing
below them (DB queries, outgoing calls) starts a trace either. With DB instrumentation on, the request's
query profile (:mod:`dcm_otel.instrumentation.db.query_profile`) is reported when the response is out.

Sync and async capable (Django's ``sync_and_async_middleware`` pattern): under an ASGI server Django builds
it async, and ``__acall__`` runs the same steps (:class:`_Traced`) on the event loop, with no thread hop. A
streaming response ends its request when the stream ends (:mod:`.streaming`). The user's ``request_hook``
and ``response_hook`` run through :func:`~dcm_otel.instrumentation.hooks.run_hook`, so a raising one never
reaches the request.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from opentelemetry import context, metrics, propagate, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode

from dcm_otel._sdk.bound_histograms import BoundHistograms
from dcm_otel._sdk.span_starter import SpanStarter, add_attributes
from dcm_otel._sdk.suppression import SUPPRESS_INSTRUMENTATION_KEY
from dcm_otel.config import DEFAULT_HTTP_KNOWN_METHODS, Config
from dcm_otel.instrumentation.db import query_profile
from dcm_otel.instrumentation.errors import record_exception
from dcm_otel.instrumentation.hooks import run_hook
from dcm_otel.logs.redaction import Redactor
from dcm_otel.profiling import sampler as profiling
from dcm_otel.prometheus.views import metrics_view

from .streaming import end_with_stream

# Semantic-convention advice for http.server.request.duration.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# RFC 9110, PATCH (RFC 5789) and QUERY, the conventions' known methods by default; any other is _OTHER.
# The configured list (``http_known_methods``, OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS) replaces it.
KNOWN_METHODS = DEFAULT_HTTP_KNOWN_METHODS
OTHER_METHOD = "_OTHER"
# SERVER_PROTOCOL -> network.protocol.version: a dict lookup, and a bounded set of values on the metric
# (any other protocol string is left out).
PROTOCOL_VERSIONS = {
    "HTTP/1.0": "1.0", "HTTP/1.1": "1.1", "HTTP/2": "2", "HTTP/2.0": "2", "HTTP/3": "3", "HTTP/3.0": "3",
}  # fmt: skip
DEFAULT_PORTS = {"http": 80, "https": 443}
# Span-only start attributes (client-chosen values: never on a metric), dropped before the duration point.
SPAN_ONLY = ("url.path", "client.address", "server.address", "server.port", "user_agent.original")
# The url conventions' query parameters whose values become REDACTED (keys matched case-sensitively), and
# the older list's AWSAccessKeyId and Signature (presigned S3 URLs of signature version 2).
SENSITIVE_QUERY_PARAMETERS = (
    "AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature",
    "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token",
)  # fmt: skip
_SENSITIVE_QUERY = re.compile(
    rf"(?:^|(?<=[&;]))({'|'.join(map(re.escape, SENSITIVE_QUERY_PARAMETERS))})=[^&;]*"
)
_EXCEPTION = "_dcm_otel_exception"


def _name(method: object) -> str:
    """The span name's method part: ``HTTP`` for ``_OTHER``, as the conventions name such spans."""
    return "HTTP" if method == OTHER_METHOD else str(method)


def server_of(meta: dict[str, Any], scheme: str) -> tuple[str, int | None]:
    """``server.address`` and ``server.port`` as PEP 3333 reconstructs the URL: the Host header (its port,
    else the scheme's), else ``SERVER_NAME`` and ``SERVER_PORT``. Two string operations, no validation
    (``ALLOWED_HOSTS`` is Django's business; the value is the client's, so it goes on the span only)."""
    host: str | None = meta.get("HTTP_HOST")
    if host:
        if ":" in host and not host.endswith("]"):  # host:port, [v6]:port; not a bare [v6] literal
            host, _, port = host.rpartition(":")
            return host, int(port) if port.isdigit() else None
        return host, DEFAULT_PORTS.get(scheme)
    port = str(meta.get("SERVER_PORT", ""))
    return str(meta.get("SERVER_NAME", "")), int(port) if port.isdigit() else None


def meta_key(header: str) -> str:
    """Where a WSGI environ keeps a header: ``traceparent`` -> ``HTTP_TRACEPARENT``."""
    return "HTTP_" + header.upper().replace("-", "_")


class _MetaGetter(Getter[dict[str, Any]]):
    """Reads propagation headers from a WSGI environ."""

    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        value = carrier.get(meta_key(key))
        return None if value is None else [value]

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        return [k[5:].lower().replace("_", "-") for k in carrier if k.startswith("HTTP_")]


_GETTER = _MetaGetter()


class ActiveRequests:
    """In-flight requests per (method, scheme), read by an observable up-down counter at collection time:
    two synchronous SDK measurements per request would cost about as much as the request's span."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}

    def add(self, key: tuple[str, str], delta: int) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + delta

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            counts = list(self._counts.items())
        return [Observation(n, {"http.request.method": m, "url.scheme": s}) for (m, s), n in counts]


# One per process: the SDK keeps the first callback registered under the instrument's name.
_ACTIVE_REQUESTS = ActiveRequests()


def redacted_query(query: str) -> str:
    """``url.query``: the query string as received, values of sensitive parameters replaced by REDACTED."""
    return _SENSITIVE_QUERY.sub(r"\1=REDACTED", query)


def route_of(request: HttpRequest) -> str | None:
    """The matched route template (``jobs/<uuid:pk>/``) with a leading slash, never the raw path."""
    match = request.resolver_match
    if match is None or match.route is None:
        return None
    route = _ROUTES.get(match.route)
    if route is None:
        route = _ROUTES[match.route] = "/" + str(match.route).lstrip("^")
    return route


# Route pattern -> template: as many entries as the URLconf has routes.
_ROUTES: dict[str, str] = {}


class TelemetryMiddleware:
    """First middleware of the chain, so its span and duration cover all the others.

    Django builds it, so :class:`~.instrumentor.DjangoInstrumentor` binds what it needs on the class first
    (:meth:`bind`); unbound, it has the defaults and the global providers.
    """

    sync_capable = True
    async_capable = True
    config = Config()
    tracer_provider: trace.TracerProvider | None = None
    meter_provider: metrics.MeterProvider | None = None

    @classmethod
    def bind(
        cls,
        config: Config,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        """What the instances Django builds from now on use."""
        cls.config, cls.tracer_provider, cls.meter_provider = config, tracer_provider, meter_provider

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from dcm_otel import __version__

        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        self.config = type(self).config
        self.request_hook, self.response_hook = self.config.request_hook, self.config.response_hook
        self.excluded = self.config.excluded_paths
        self.known_methods = self.config.http_known_methods
        self.spans = SpanStarter(trace.get_tracer("dcm_otel.django", __version__, self.tracer_provider))
        meter = metrics.get_meter("dcm_otel.django", __version__, self.meter_provider)
        self.durations = BoundHistograms(
            meter.create_histogram(
                "http.server.request.duration",
                unit="s",
                description="Duration of HTTP server requests.",
                explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
            )
        )
        meter.create_observable_up_down_counter(
            "http.server.active_requests",
            callbacks=[_ACTIVE_REQUESTS.observe],
            unit="{request}",
            description="Number of active HTTP server requests.",
        )
        self.propagation_keys = frozenset(map(meta_key, propagate.get_global_textmap().fields))
        # Without a proxy header to trust, the scheme is the WSGI one: no settings lookup per request.
        self.scheme_from_proxy = bool(getattr(settings, "SECURE_PROXY_SSL_HEADER", None))
        self.redactor = Redactor(self.config.redact_keys)
        self.queries = (
            query_profile.QueryReporter(meter, self.config.db_repeated_query_threshold)
            if self.config.instrument_db
            else None
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.is_async:
            return self.__acall__(request)  # type: ignore[return-value]
        if request.path_info == self.config.metrics_path:
            return metrics_view(request)
        with self._serve(request) as serving:
            return serving.respond(self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        """The same, on the event loop's thread: Django builds this middleware async when the rest of the
        chain is (an ASGI server), so the request takes no thread hop to pass through it."""
        if request.path_info == self.config.metrics_path:
            return await _async_metrics_view(request)
        with self._serve(request) as serving:
            return serving.respond(await self.get_response(request))  # type: ignore[misc]

    def _serve(self, request: HttpRequest) -> _Untraced | _Traced:
        """What serving the request takes: no trace for an excluded path, else a started SERVER span."""
        if request.path_info.startswith(self.excluded):
            return _Untraced()
        meta = request.META
        method = request.method or ""
        original: str = meta.get("REQUEST_METHOD", method)  # as sent: Django upper-cases request.method
        # Known methods are case-sensitive: the method as sent if known, else Django's canonical upper case.
        known = self.known_methods
        if original in known:
            method = original
        elif method not in known:
            method = OTHER_METHOD
        scheme = None if self.scheme_from_proxy else meta.get("wsgi.url_scheme")  # None under ASGI
        scheme = scheme or request.scheme or "http"
        parent = None
        if not self.propagation_keys.isdisjoint(meta):
            parent = propagate.extract(meta, getter=_GETTER)
        # The SDK copies the attributes: this dict becomes the duration point's attributes at the end.
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "url.scheme": scheme,
            "url.path": request.path,
            "client.address": meta.get("REMOTE_ADDR", ""),
        }
        address, port = server_of(meta, scheme)
        if address:
            attributes["server.address"] = address
            if port is not None:
                attributes["server.port"] = port
        protocol = meta.get("SERVER_PROTOCOL")
        if protocol is None:  # ASGI: Django leaves the scope's version out of META
            protocol = "HTTP/" + str(getattr(request, "scope", {}).get("http_version"))
        version = PROTOCOL_VERSIONS.get(protocol)
        if version is not None:
            attributes["network.protocol.version"] = version
        agent = meta.get("HTTP_USER_AGENT")
        if agent:
            attributes["user_agent.original"] = agent
        query = meta.get("QUERY_STRING")
        if query or original != method:
            on_span = self._with_details(attributes, query, original)
        else:
            on_span = attributes
        span = self.spans.start(_name(method), parent, SpanKind.SERVER, on_span)
        traced = _Traced(self, request, span, parent, attributes, (method, scheme))
        if self.request_hook is not None:
            run_hook("request_hook", self.request_hook, span, request)
        return traced

    def _with_details(
        self, attributes: dict[str, str | int], query: str | None, original: str
    ) -> dict[str, str | int]:
        """The span's start attributes with ``url.query`` and ``http.request.method_original``, the
        span-only attributes few requests have; ``RedactingSpanProcessor`` masks them like the others."""
        details = dict(attributes)
        if query:
            details["url.query"] = redacted_query(query)
        if original != attributes["http.request.method"]:
            details["http.request.method_original"] = original
        return details

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Django turns a view's exception into a 500 response; keep the exception for the span."""
        setattr(request, _EXCEPTION, exception)


async def _async_metrics_view(request: HttpRequest) -> HttpResponse:
    """:func:`metrics_view` off the event loop: a scrape's rendering must not hold up other requests."""
    return await sync_to_async(metrics_view, thread_sensitive=False)(request)


class _Untraced:
    """An excluded path: nothing below it (DB queries, outgoing calls) starts a trace either."""

    __slots__ = ("token",)

    def __enter__(self) -> _Untraced:
        self.token = context.attach(context.set_value(SUPPRESS_INSTRUMENTATION_KEY, True))
        return self

    def __exit__(self, *exc_info: object) -> None:
        context.detach(self.token)

    def respond(self, response: HttpResponse) -> HttpResponse:
        return response


class _Traced:
    """One request in flight, from its span's start to its end: when the view's response is out, or when
    its stream ends (:mod:`.streaming`). Made current as it is made, and left by the ``with`` block around
    the view; its span is current while the view runs (and while the stream makes each chunk), its query
    profile counts the view's queries."""

    __slots__ = (
        "active", "attributes", "context", "middleware", "profile", "profile_token", "request", "span",
        "start", "status", "streaming", "token",
    )  # fmt: skip

    def __init__(
        self,
        middleware: TelemetryMiddleware,
        request: HttpRequest,
        span: trace.Span,
        parent: context.Context | None,
        attributes: dict[str, str | int],
        active: tuple[str, str],
    ) -> None:
        self.middleware, self.request, self.span, self.attributes = middleware, request, span, attributes
        self.context = trace.set_span_in_context(span, parent)
        self.token = context.attach(self.context)
        self.profile = query_profile.QueryProfile() if middleware.queries is not None else None
        self.profile_token = query_profile.current.set(self.profile) if self.profile is not None else None
        self.active: tuple[str, str] | None = active  # None once ended
        _ACTIVE_REQUESTS.add(active, 1)
        self.status = 500
        self.streaming = False
        self.start = perf_counter()

    def __enter__(self) -> _Traced:
        return self

    def respond(self, response: HttpResponse) -> HttpResponse:
        self.status = response.status_code
        hook = self.middleware.response_hook
        if hook is not None:
            run_hook("response_hook", hook, self.span, self.request, response)
        if response.streaming:
            self.streaming = True
            end_with_stream(response, self.end, self.context)  # type: ignore[arg-type]
        return response

    def __exit__(self, kind: object, failure: BaseException | None, traceback: object) -> None:
        """Leaves the request's context; ends it unless its stream is still to be sent. ``failure`` is a
        BaseException (a cancellation, an interrupt): Django makes a view's exception a 500 response."""
        try:
            if self.profile_token is not None:
                query_profile.current.reset(self.profile_token)
            if failure is not None or not self.streaming:
                self.end(failure)
        finally:
            context.detach(self.token)

    def end(self, failure: BaseException | None) -> None:
        """Ends the span and records the duration, once; the span's start attributes become the duration
        point's. ``failure``: what was raised past the view (by a stream, a cancellation), whatever the
        status."""
        active, self.active = self.active, None
        if active is None:
            return
        elapsed = perf_counter() - self.start
        _ACTIVE_REQUESTS.add(active, -1)
        middleware, request, span, attributes, status = (
            self.middleware, self.request, self.span, self.attributes, self.status,
        )  # fmt: skip
        for span_only in SPAN_ONLY:
            attributes.pop(span_only, None)
        outcome: dict[str, str | int] = {"http.response.status_code": status}
        route = route_of(request)
        if route is not None:
            outcome["http.route"] = route
            span.update_name(f"{_name(attributes['http.request.method'])} {route}")
        error = description = None
        exception: BaseException | None = failure or getattr(request, _EXCEPTION, None)
        if exception is not None:
            error = outcome["error.type"] = type(exception).__qualname__
            description = record_exception(span, exception, middleware.redactor) or None
        elif status >= 500:
            error = outcome["error.type"] = str(status)
        if error is not None and (status >= 500 or failure is not None):
            # The exception's message, else nothing: the status code and error.type are attributes already.
            span.set_status(Status(StatusCode.ERROR, description))
        add_attributes(span, outcome)
        profile = self.profile
        if middleware.queries is not None and profile is not None and profile.total:
            middleware.queries.report(profile, span, route)
        span.end()
        key = (
            attributes["http.request.method"],
            attributes["url.scheme"],
            attributes.get("network.protocol.version"),
            status,
            route,
            error,
        )
        attributes.update(outcome)
        middleware.durations.record(elapsed, key, attributes)


def _span_of(serving: object) -> trace.Span | None:
    return serving.span if isinstance(serving, _Traced) else None


def _queries_of(serving: _Traced) -> int:
    return serving.profile.total if serving.profile is not None else 0


# A sync request past profile_threshold (or profile_db_queries) is profiled from outside (docs/profiles.md).
profiling.watch(
    TelemetryMiddleware.__call__, profiling.WatchPoint("request", "serving", _span_of, _queries_of)
)
