"""The DB profile of one request: the DB instrumentation counts each query into the request's profile, the
request middleware reports it once the response is out.

For a request that ran queries: ``dcm.http.server.db.queries`` (how many, by route) and, for every statement
run at least ``db_repeated_query_threshold`` times (the N+1 pattern), a span event on the request span and
one ``dcm.http.server.db.repeated_queries``. Statements count by their ``db.query.text``: the ORM's
parameterized text is the same for every value (placeholders, not values), any other is sanitized, so a
loop of raw statements differing in literals counts as one. A context variable carries the profile, so queries
from other threads or outside a request are not counted.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from opentelemetry import metrics, trace

from dcm_otel._sdk.bound_histograms import BoundHistograms

QUERY_COUNT_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
REPEATED_QUERY_EVENT = "dcm.db.repeated_query"
MAX_PENDING = 256  # a request running more queries emits them in batches of this size


class QueryProfile:
    """Statement (its ``db.query.text``) -> times run in this request, and the DB telemetry waiting to be
    emitted.

    The DB instrumentation defers each query's span and duration sample to the end of the request (with
    the query's own timestamps and parent): emitted back to back they cost about a third less than
    interleaved with the ORM's work, which keeps the SDK's code out of the processor's caches.
    """

    __slots__ = ("counts", "pending", "total")

    def __init__(self) -> None:
        # Made at the first query: most requests run none, and every container allocated per request
        # brings the next garbage collection nearer.
        self.counts: dict[str, int] | None = None
        self.pending: list[Callable[[], object]] | None = None
        self.total = 0

    def add(self, statement: str) -> None:
        self.total += 1
        counts = self.counts
        if counts is None:
            counts = self.counts = {}
        counts[statement] = counts.get(statement, 0) + 1

    def defer(self, emit: Callable[[], object]) -> None:
        pending = self.pending
        if pending is None:
            pending = self.pending = []
        pending.append(emit)
        if len(pending) >= MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, None
        for emit in pending or ():
            emit()


current: ContextVar[QueryProfile | None] = ContextVar("dcm_otel_query_profile", default=None)


class QueryReporter:
    """Owns the per-request DB instruments; made once by the middleware."""

    def __init__(self, meter: metrics.Meter, threshold: int) -> None:
        self.threshold = threshold
        self.queries = BoundHistograms(
            meter.create_histogram(
                "dcm.http.server.db.queries",
                unit="{query}",
                description="DB queries run while serving one HTTP request.",
                explicit_bucket_boundaries_advisory=list(QUERY_COUNT_BUCKETS),
            )
        )
        self.repeated = meter.create_counter(
            "dcm.http.server.db.repeated_queries",
            unit="{statement}",
            description=(
                "Statements run at least the repeated-query threshold times in one HTTP request (N+1)."
            ),
        )

    def report(self, profile: QueryProfile, span: trace.Span, route: str | None) -> None:
        """Emit the deferred DB telemetry and record the profile of a request to ``route``.

        Called for requests that ran queries only: most routes of an API never touch the database, and a
        histogram of zeros would cost each of their requests a measurement (a fifth of the middleware's
        cost) and say nothing ``http.server.request.duration`` does not."""
        profile.flush()
        attributes = {"http.route": route} if route is not None else {}
        self.queries.record(profile.total, route, attributes)
        if profile.total < self.threshold:
            return
        for statement, count in (profile.counts or {}).items():
            if count >= self.threshold:
                event: dict[str, str | int] = {"db.query.text": statement, "dcm.db.query.count": count}
                span.add_event(REPEATED_QUERY_EVENT, event)
                self.repeated.add(1, attributes)
