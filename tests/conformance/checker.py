"""Checks an OTLP export against the semantic-conventions model: each finding is a :data:`Deviation`.

What the YAML says is read from it (names, types, instruments, units, enum members, requirement levels,
deprecation, entities); what only the docs say is written here with its source: span name rules
(docs/http/http-spans.md#name, docs/db/database-spans.md#name), status rules (docs/http/http-spans.md#status,
docs/general/recording-errors.md), and the conditions of conditionally required attributes that the
workload makes true. Custom names are ours when under ``dcm.``; any other name the model lacks deviates.

Recommended attributes of every convention matched (HTTP server span and ``http.server.*`` metrics, DB
client span and ``db.client.operation.duration``, process/system/container metrics, resource entities) are
checked too: a missing one deviates ("missing recommended ..."), except those in :data:`UNAVAILABLE`, which
the model recommends only "if available" (or under a condition) that the workload cannot make true. Opt-in
attributes are never asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from .model import Convention, Model, load

#: (signal, subject, what): e.g. ("span", "http", "missing http.request.method_original").
Deviation = tuple[str, str, str]

OURS = "dcm."
ERROR = 2  # Status.STATUS_CODE_ERROR
SERVER, CLIENT = 2, 3  # Span.SpanKind
KINDS = {"server": SERVER, "client": CLIENT, "internal": 1, "producer": 4, "consumer": 5}
#: error.type's enum is only `_OTHER`: its values are exception classes or status codes by design.
OPEN_ENUMS = frozenset({"error.type"})
SQL = frozenset({"sqlite", "postgresql", "mysql", "mariadb", "oracle.db", "other_sql", "mssql"})
#: Routes of the workload whose requests carry a query string (url.query is then conditionally required).
QUERY_ROUTES = frozenset({"/search/"})


#: Recommended attributes not asked for, per convention id (``*``: every convention), each with the reason
#: the workload cannot make them available (the model recommends them "if available" or under a condition
#: the workload never makes true). Others that depend on what a span or point says: :func:`unavailable`.
UNAVAILABLE: dict[str, dict[str, str]] = {
    "*": {
        # http/registry.yaml: "if and only if request was retried"; a server never resends.
        "http.request.resend_count": "no request is retried",
        # db/registry.yaml: "If operation applies to a specific stored procedure"; the workload calls none.
        "db.stored_procedure.name": "the workload calls no stored procedure",
        # db/registry.yaml: "SHOULD NOT be set for non-batch operations"; Django's execute runs one each.
        "db.operation.batch.size": "the workload runs no batch (executemany) operation",
    },
    # The host entity's cloud attributes: "For Cloud, this must be the machine type / image ..." - the
    # workload runs on no cloud instance, so no metadata service can make them available.
    "entity.host": {
        "host.type": "no cloud instance (its machine type)",
        "host.image.name": "no cloud instance (its VM image)",
        "host.image.id": "no cloud instance (its VM image)",
        "host.image.version": "no cloud instance (its VM image)",
    },
    # service.criticality is the operator's judgement of the service: only they can set it
    # (OTEL_RESOURCE_ATTRIBUTES or DCM_OTEL["resource_attributes"]); the workload sets none.
    "entity.service": {"service.criticality": "only the operator knows the service's criticality"},
}
#: Embedded databases: no server, so nothing to address over the network (db/registry.yaml
#: network.peer.address "If applicable for this database system").
EMBEDDED = frozenset({"sqlite"})


def unavailable(convention: Convention, values: dict[str, Any]) -> set[str]:
    """The recommended attributes ``values`` cannot have: :data:`UNAVAILABLE`, a network peer port without
    a network peer address ("If `network.peer.address` is set"), a server of an embedded database."""
    skip = UNAVAILABLE["*"].keys() | UNAVAILABLE.get(convention.id, {}).keys()
    if "network.peer.address" not in values:
        skip |= {"network.peer.port"}
    if values.get("db.system.name") in EMBEDDED:
        skip |= {"server.address", "network.peer.address"}
    return skip


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


def attrs(kvs: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: value_of(kv.value) for kv in kvs}


@dataclass
class Checker:
    model: Model

    def names(self, signal: str, subject: str, keys: Iterable[str]) -> Iterator[Deviation]:
        """Every attribute name is in the model (not deprecated) or under ``dcm.``."""
        for key in keys:
            attribute = self.model.attributes.get(key)
            if key.startswith(OURS):
                continue
            if attribute is None:
                yield signal, subject, f"{key} not in the model"
            elif attribute.deprecated:
                yield signal, subject, f"{key} deprecated ({attribute.deprecated})"

    def values(self, signal: str, subject: str, values: dict[str, Any]) -> Iterator[Deviation]:
        """A value of an enum attribute is one of its members."""
        for key, value in values.items():
            attribute = self.model.attributes.get(key)
            members = attribute.members if attribute and key not in OPEN_ENUMS else None
            if members is not None and str(value) not in members:
                yield signal, subject, f"{key}={value} not in the enum"

    def required(
        self, signal: str, subject: str, convention: Convention, values: dict[str, Any], conditions: set[str]
    ) -> Iterator[Deviation]:
        """Required attributes, the conditionally required ones whose condition ``conditions`` holds, and
        the recommended ones the workload can make available (not in :data:`UNAVAILABLE`)."""
        skip = unavailable(convention, values)
        for key, requirement in convention.attributes.items():
            if key in values:
                continue
            if requirement.level == "required" or (
                requirement.level == "conditionally_required" and key in conditions
            ):
                yield signal, subject, f"missing {key}"
            elif requirement.level == "recommended" and key not in skip:
                yield signal, subject, f"missing recommended {key}"

    # -- metrics ----------------------------------------------------------------------------------------
    def metric(self, metric: Any, resource: dict[str, Any]) -> Iterator[Deviation]:
        name = metric.name
        kind = metric.WhichOneof("data")
        data = getattr(metric, kind)
        instrument = {"histogram": "histogram", "gauge": "gauge"}.get(kind) or (
            "counter" if data.is_monotonic else "updowncounter"
        )
        points = [attrs(p.attributes) for p in data.data_points]
        keys = {k for p in points for k in p}
        yield from self.names("metric", name, keys)
        if name.startswith(OURS):
            return
        convention = self.model.metric(name)
        if convention is None:
            yield "metric", name, "not in the model (custom names belong under dcm.)"
            return
        if convention.deprecated:
            yield "metric", name, f"deprecated ({convention.deprecated})"
        if instrument != convention.instrument:
            yield "metric", name, f"instrument {instrument}, model {convention.instrument}"
        if metric.unit != convention.unit:
            yield "metric", name, f"unit {metric.unit!r}, model {convention.unit!r}"
        for point in points:
            yield from self.entities(name, convention, {**resource, **point})
            yield from self.values("metric", name, point)
            yield from self.required("metric", name, convention, point, metric_conditions(name, point))

    def entities(self, name: str, convention: Convention, values: dict[str, Any]) -> Iterator[Deviation]:
        """A point of a metric with ``entity_associations`` describes one instance of each entity."""
        for entity_name in convention.entity_associations:
            entity = self.model.entity(entity_name)
            if entity is None:
                continue
            identity = {k for k, r in entity.attributes.items() if r.level != "opt_in"}
            if not identity & values.keys():
                yield "metric", name, f"point not associated with one {entity_name} (entity_associations)"

    # -- spans ------------------------------------------------------------------------------------------
    def span(self, span: Any) -> Iterator[Deviation]:
        values = attrs(span.attributes)
        subject, convention = self.classify(span, values)
        yield from self.names("span", subject, values)
        yield from self.values("span", subject, values)
        failed = span.status.code == ERROR
        if failed and "error.type" not in values:
            yield "span", subject, "error span without error.type"
        description = span.status.message
        if description and description in {
            str(values.get("error.type")),
            str(values.get("http.response.status_code")),
        }:
            yield "span", subject, "status description repeats error.type or the status code"
        for event in span.events:
            yield from self.event(subject, event)
        if convention is None:
            return
        if span.kind != KINDS[convention.span_kind]:
            yield "span", subject, f"kind {span.kind}, model {convention.span_kind}"
        conditions = set()
        if failed or "error.type" in values:
            conditions |= {"error.type", "db.response.status_code"}
        if subject == "http":
            yield from self.http_span(span, values, conditions)
        else:
            yield from self.db_span(span, values)
        yield from self.required("span", subject, convention, values, conditions)

    def classify(self, span: Any, values: dict[str, Any]) -> tuple[str, Convention | None]:
        """The convention a span follows: HTTP server, DB client, or none (subject: its name's family)."""
        if "http.request.method" in values and span.kind == SERVER:
            return "http", self.model.convention("span.http.server")
        if "db.system.name" in values:
            return "db", self.model.convention("span.db.client")
        return span.name.split(" ", 1)[0] if span.name.startswith("docker ") else span.name, None

    def http_span(self, span: Any, values: dict[str, Any], conditions: set[str]) -> Iterator[Deviation]:
        method, route, code = (
            values.get(k) for k in ("http.request.method", "http.route", "http.response.status_code")
        )
        conditions.add("http.response.status_code")
        if method == "_OTHER":
            conditions.add("http.request.method_original")
        if route in QUERY_ROUTES:
            conditions.add("url.query")
        if "server.address" in values:  # "If available and `server.address` is set": the Host header has one
            conditions.add("server.port")
        if isinstance(code, int) and code >= 500:
            conditions.add("error.type")
        # docs/http/http-spans.md#name: {method} {target}, {method} is HTTP for _OTHER
        expected = "HTTP" if method == "_OTHER" else str(method)
        if span.name not in {f"{expected} {route}", expected}:
            yield "span", "http", f"name {span.name.split(' ')[0]} for method {method}"
        # docs/http/http-spans.md#status: unset for 1xx-4xx on the server, Error for 5xx
        if isinstance(code, int) and (code >= 500) != (span.status.code == ERROR):
            yield "span", "http", f"status {span.status.code} for a {code // 100}xx response"

    def db_span(self, span: Any, values: dict[str, Any]) -> Iterator[Deviation]:
        # docs/db/database-spans.md#name: {db.query.summary}, {db.operation.name} {target}, {target},
        # or {db.system.name}
        operation, target = (
            values.get("db.operation.name"),
            values.get("db.collection.name") or values.get("db.namespace"),
        )
        names = {
            values.get("db.query.summary"),
            f"{operation} {target}",
            operation,
            target,
            values.get("db.system.name"),
        }
        if span.name not in names:
            yield "span", "db", "name not from db.query.summary/operation/target/system"
        # docs/db/sql.md: SQL operation and collection names SHOULD NOT be parsed from the query text
        if values.get("db.system.name") in SQL and "db.query.text" in values:
            for key in ("db.operation.name", "db.collection.name"):
                if key in values and "db.query.summary" not in values:
                    yield "span", "db", f"{key} parsed from db.query.text (belongs in db.query.summary)"

    def event(self, subject: str, event: Any) -> Iterator[Deviation]:
        values = attrs(event.attributes)
        yield from self.names("span event", f"{subject} {event.name}", values)
        if event.name == "exception" and not {"exception.type", "exception.message"} & values.keys():
            yield "span event", f"{subject} exception", "missing exception.type and exception.message"

    # -- logs -------------------------------------------------------------------------------------------
    def log(self, record: Any, scope: str) -> Iterator[Deviation]:
        values = attrs(record.attributes)
        subject = "log"
        yield from self.names("log", subject, values)
        yield from self.values("log", subject, values)
        if any(k.startswith("exception.") for k in values):
            yield from self.required(
                "log", "exception", self.model.convention("log-exception"), values, set()
            )
            if not {"exception.type", "exception.message"} & values.keys():
                yield "log", "exception", "missing exception.type and exception.message"

    # -- resources --------------------------------------------------------------------------------------
    def resource(self, values: dict[str, Any]) -> Iterator[Deviation]:
        """Known names; each entity with an attribute present has all its required ones."""
        yield from self.names("resource", "resource", values)
        for entity in self.model.groups.values():
            if entity.type == "entity" and entity.attributes.keys() & values.keys():
                yield from self.required("resource", entity.name, entity, values, set())


def metric_conditions(name: str, point: dict[str, Any]) -> set[str]:
    """Conditionally required metric attributes whose condition the workload makes true."""
    conditions = set()
    if name.startswith("http.server."):
        conditions.add("http.response.status_code")
        code = point.get("http.response.status_code")
        if isinstance(code, int) and code >= 500:
            conditions.add("error.type")
    if name == "container.cpu.usage":  # Docker's stats API gives the mode (user/kernel)
        conditions.add("cpu.mode")
    if point.get("error.type"):
        conditions.add("db.response.status_code")
    return conditions


def check(requests: dict[str, list[Message]], model: Model | None = None) -> set[Deviation]:
    """Every deviation in what the receiver got (``OtlpReceiver.received``)."""
    checker = Checker(model or load())
    found: set[Deviation] = set()
    for request in requests.get("/v1/metrics", []):
        for rm in request.resource_metrics:  # type: ignore[attr-defined]
            found.update(checker.resource(attrs(rm.resource.attributes)))
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    found.update(checker.metric(metric, attrs(rm.resource.attributes)))
    for request in requests.get("/v1/traces", []):
        for rs in request.resource_spans:  # type: ignore[attr-defined]
            found.update(checker.resource(attrs(rs.resource.attributes)))
            for ss in rs.scope_spans:
                for span in ss.spans:
                    found.update(checker.span(span))
    for request in requests.get("/v1/logs", []):
        for rl in request.resource_logs:  # type: ignore[attr-defined]
            found.update(checker.resource(attrs(rl.resource.attributes)))
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    found.update(checker.log(record, sl.scope.name))
    found.update(workload(requests))
    return found


#: Methods the workload sends that the conventions know (QUERY included, development since 1.44).
KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "QUERY"})
#: The workload's parameterized failing statement: its literal must survive (Parameterized query text
#: SHOULD NOT be sanitized, model/db/registry.yaml db.query.text).
PARAMETERIZED = ("missing_table", "'conformance'")


def workload(requests: dict[str, list[Message]]) -> Iterator[Deviation]:
    """Checks that need to know what the workload did."""
    spans = [
        attrs(span.attributes)
        for request in requests.get("/v1/traces", [])
        for rs in request.resource_spans  # type: ignore[attr-defined]
        for ss in rs.scope_spans
        for span in ss.spans
    ]
    methods = {s.get("http.request.method") for s in spans} | {
        s.get("http.request.method_original") for s in spans
    }
    for method in sorted(KNOWN_METHODS - methods):
        yield "span", "http", f"known method {method} reported as _OTHER"
    table, literal = PARAMETERIZED
    texts = [str(s["db.query.text"]) for s in spans if table in str(s.get("db.query.text", ""))]
    if not texts:
        yield "span", "db", "no span for the failing parameterized query"
    elif not all(literal in text for text in texts):
        yield "span", "db", "parameterized db.query.text sanitized"
