"""``DjangoDbInstrumentor``: a CLIENT span and ``db.client.operation.duration`` for every query Django runs.

One wrapper on ``CursorWrapper._execute_with_wrappers``, the method every ``execute`` and ``executemany`` of
every connection (all aliases, every thread) goes through, so SQLite, PostgreSQL (psycopg 3) and any other
backend look the same and no per-driver instrumentor is needed. Around the driver call the OpenTelemetry
suppress-instrumentation key is set, so a driver instrumentor the user also enabled (dbapi, sqlite3,
psycopg) adds no second span.

Attributes follow the stable database conventions (:mod:`dcm_otel.instrumentation.db.sql`): ``db.query.text``
is a parameterized statement as sent, any other with its literals replaced; ``db.query.summary`` names the
span and labels the duration. Parameter values are never read, and a failed query records the database's
code and the exception type only (:func:`failure`), since drivers echo values in their messages. Everything
derived from a SQL string is cached per (connection settings, SQL string, parameterized or not), so the
wrapper itself is two lookups and two clock reads.
Inside a request the span and duration sample are emitted when the response is out, with the query's own
start, end and parent (see :class:`.query_profile.QueryProfile`); elsewhere right away; both
through :mod:`dcm_otel._sdk.span_starter` and :mod:`dcm_otel._sdk.bound_histograms`.

Optionally (``db_sqlcommenter``) the span's W3C trace context is appended to the SQL as a sqlcommenter
``traceparent`` comment, so the database server's logs and statistics point back to the trace. Not on
SQLite: it has no server log to correlate, and a comment unique to every query defeats its statement cache.
A ``db_hook(span, alias, sql)`` (``instrument(db_hook=...)`` or the ``db_hook`` setting) is called with each
recording query span before it ends, the connection alias and the SQL string as Django passed it to the
driver (placeholders, never the parameters' values), through :func:`~dcm_otel.instrumentation.hooks.run_hook`.
Inside a request that is when the span is made, once the response is out.
``instrument(config=..., tracer_provider=..., meter_provider=..., db_hook=...)``; without ``config=``,
``Config()``'s defaults (no sqlcommenter, no hook).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import lru_cache, partial
from time import time_ns
from typing import Any, NamedTuple

import wrapt
from opentelemetry import context, metrics, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import SpanKind, Status, StatusCode

from dcm_otel._sdk.bound_histograms import BoundHistograms
from dcm_otel._sdk.span_starter import SpanStarter
from dcm_otel._sdk.suppression import SUPPRESS_INSTRUMENTATION_KEY
from dcm_otel.instrumentation import config_of
from dcm_otel.instrumentation.db import query_profile
from dcm_otel.instrumentation.db.sql import CACHE_SIZE, summarize
from dcm_otel.instrumentation.hooks import hook_of, run_hook
from dcm_otel.settings_parsing import Hook

# Semantic-convention advice for db.client.operation.duration.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
# Django's ``connection.vendor`` -> ``db.system.name``.
SYSTEMS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "oracle": "oracle.db",
}
_TARGET = "_dcm_otel_target"


class Target(NamedTuple):
    """What a connection's settings say about where queries go; the same for all its queries."""

    system: str
    namespace: str | None
    address: str | None
    port: int | None


class Shape(NamedTuple):
    """Everything the telemetry of one (target, SQL string) needs, built once."""

    name: str
    text: str
    span_attributes: dict[str, str | int]
    metric_attributes: dict[str, str | int]
    metric_key: tuple[str | int | None, ...]  # stands for metric_attributes


def target_of(connection: Any) -> Target:
    """The connection's :class:`Target`, kept on the connection object after the first query."""
    found: Target | None = connection.__dict__.get(_TARGET)
    if found is None:
        settings = connection.settings_dict
        vendor = connection.vendor
        if vendor == "mysql" and getattr(connection, "mysql_is_mariadb", False):
            vendor = "mariadb"
        port = str(settings.get("PORT") or "")
        found = Target(
            SYSTEMS.get(vendor, "other_sql"),
            str(settings["NAME"]) if settings.get("NAME") else None,
            str(settings["HOST"]) if settings.get("HOST") and vendor != "sqlite" else None,
            int(port) if port.isdigit() else None,
        )
        connection.__dict__[_TARGET] = found
    return found


@lru_cache(maxsize=CACHE_SIZE)
def shape_of(target: Target, sql: str, parameterized: bool) -> Shape:
    statement = summarize(sql, parameterized)
    common: dict[str, str | int] = {"db.system.name": target.system}
    if target.namespace is not None:
        common["db.namespace"] = target.namespace
    if target.address is not None:
        common["server.address"] = target.address
    if target.port is not None:
        common["server.port"] = target.port
    if statement.summary is not None:
        common["db.query.summary"] = statement.summary
    span_attributes = dict(common)
    if statement.text:
        span_attributes["db.query.text"] = statement.text
    key = (*target, statement.summary)
    return Shape(statement.summary or _target_name(target), statement.text, span_attributes, common, key)


def _target_name(target: Target) -> str:
    """The span name of a statement without a summary: its ``{target}``, else ``db.system.name``."""
    if target.namespace is not None:
        return target.namespace
    if target.address is not None:
        return target.address if target.port is None else f"{target.address}:{target.port}"
    return target.system


class Failure(NamedTuple):
    """What a failed query's telemetry says about the error; strings only, so a deferred emit keeps no
    traceback alive."""

    exception_type: str
    attributes: dict[str, str]


def failure(error: BaseException) -> Failure:
    """The exception's class and the ``error.type`` and ``db.response.status_code`` of a failed query.

    Django re-raises the driver's exception as its own (``raise ... from``), so the cause is the one that
    knows the database's code: the SQLSTATE of psycopg 3 (``sqlstate``) or psycopg2 (``pgcode``), SQLite's
    extended result code (``sqlite_errorcode``), recorded as a string. ``error.type`` is that code, as the
    conventions advise, else the driver's exception class; never the message, which quotes values.
    """
    cause = error.__cause__ if isinstance(error.__cause__, Exception) else error
    cls = type(cause)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    for attribute in ("sqlstate", "pgcode", "sqlite_errorcode"):
        code = getattr(cause, attribute, None)
        if code is not None:
            return Failure(name, {"error.type": str(code), "db.response.status_code": str(code)})
    return Failure(name, {"error.type": name})


def traceparent_comment(span: trace.Span) -> str:
    """A sqlcommenter comment carrying the span's W3C trace context, or "" for an invalid span."""
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return ""
    return f" /*traceparent='00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}'*/"


class QueryTracer:
    """The wrapt wrapper: ``(sql, params, many, executor)`` in, the driver's result out."""

    def __init__(
        self,
        tracer: trace.Tracer,
        meter: metrics.Meter,
        sqlcommenter: bool = False,
        hook: Hook | None = None,
    ) -> None:
        self.sqlcommenter = sqlcommenter
        self.hook = hook
        self.spans = SpanStarter(tracer)
        self.duration = meter.create_histogram(
            "db.client.operation.duration",
            unit="s",
            description="Duration of database client operations.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.durations = BoundHistograms(self.duration)
        # The last parent context and the same with instrumentation suppressed: a request's queries share it.
        self._suppressed = (context.Context(), context.Context())

    def __call__(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        parent = context.get_current()
        if not args or parent.get(SUPPRESS_INSTRUMENTATION_KEY):
            return wrapped(*args, **kwargs)
        sql = args[0]
        target = target_of(instance.db)
        # Parameters passed separately (any in ``params``) mark the text as safe to export unsanitized.
        shape = shape_of(target, sql if isinstance(sql, str) else "", len(args) > 1 and bool(args[1]))
        statement = (instance.db.alias, sql) if self.hook is not None else None  # what the hook gets
        span = None
        if target.system != "sqlite" and self.sqlcommenter and isinstance(sql, str):
            # The comment needs the span's id before the query runs, so this span cannot wait.
            span = self.spans.start(shape.name, parent, SpanKind.CLIENT, shape.span_attributes)
            args = (sql + traceparent_comment(span), *args[1:])
        suppressed = self._suppressed
        if suppressed[0] is not parent:
            suppressed = self._suppressed = (
                parent,
                context.set_value(SUPPRESS_INSTRUMENTATION_KEY, True, parent),
            )
        token = context.attach(suppressed[1])
        error = None
        start = time_ns()
        try:
            return wrapped(*args, **kwargs)
        except Exception as exc:
            error = failure(exc)
            raise
        finally:
            end = time_ns()
            context.detach(token)
            profile = query_profile.current.get()
            if profile is not None:
                profile.add(shape.text)
            if profile is not None and span is None:
                profile.defer(partial(self.emit, shape, parent, start, end, error, statement))
            else:
                self.emit(shape, parent, start, end, error, statement, span)

    def emit(
        self,
        shape: Shape,
        parent: context.Context,
        start: int,
        end: int,
        error: Failure | None,
        statement: tuple[str, object] | None,
        span: trace.Span | None = None,
    ) -> None:
        """The query's span and duration sample, with the times the query really ran; ``error`` is
        :func:`failure`'s attributes of a failed one, ``statement`` the (alias, SQL) of ``db_hook``."""
        if span is None:
            span = self.spans.start(shape.name, parent, SpanKind.CLIENT, shape.span_attributes, start)
        if error is not None:
            span.set_attributes(error.attributes)
            span.add_event("exception", {"exception.type": error.exception_type}, timestamp=end)
            span.set_status(Status(StatusCode.ERROR))  # no description: it would repeat error.type
        if statement is not None and span.is_recording():
            run_hook("db_hook", self.hook, span, *statement)
        span.end(end_time=end)
        if error is None:
            self.durations.record((end - start) / 1e9, shape.metric_key, shape.metric_attributes)
        else:
            self.duration.record((end - start) / 1e9, {**shape.metric_attributes, **error.attributes})


class DjangoDbInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces every Django DB query, whatever the backend, with :class:`QueryTracer`."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("django >= 4.2",)

    def _instrument(self, **kwargs: Any) -> None:
        from dcm_otel import __version__

        tracer = trace.get_tracer(__name__, __version__, kwargs.get("tracer_provider"))
        meter = metrics.get_meter(__name__, __version__, kwargs.get("meter_provider"))
        config = config_of(kwargs)
        query_tracer = QueryTracer(tracer, meter, config.db_sqlcommenter, hook_of(kwargs, config, "db_hook"))
        wrapt.wrap_function_wrapper(
            "django.db.backends.utils", "CursorWrapper._execute_with_wrappers", query_tracer
        )

    def _uninstrument(self, **kwargs: Any) -> None:
        from django.db.backends.utils import CursorWrapper

        unwrap(CursorWrapper, "_execute_with_wrappers")
