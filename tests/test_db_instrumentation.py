"""DB instrumentation on SQLite and on a real PostgreSQL (psycopg 3), the same way: one CLIENT span per
query with the stable database attributes (named after ``db.query.summary``, nothing parsed into
``db.operation.name``/``db.collection.name``), ``db.client.operation.duration``, a parameterized statement's
text as sent but nothing of a parameter or of another statement's literals in any exported signal, the
database's own code on a failed query, N+1 detection per request, no second span next to a driver
instrumentor, and sqlcommenter only when asked for."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.db.utils import IntegrityError
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from dcm_otel.instrumentation.db.instrumentor import failure
from dcm_otel.instrumentation.db.sql import SUMMARY_LIMIT, summarize
from tests.otlp_receiver import OtlpReceiver, Span, attributes, start_receiver
from tests.project_factory import project_env, write_project
from tests.services import Postgres
from tests.shop_project import (
    JOB,
    LITERAL_SECRET,
    N_PLUS_ONE_ROWS,
    PARAMETER_SECRET,
    request,
    write_shop_project,
)
from tests.test_gunicorn import ONE_LINE
from tests.test_metrics_contract import documented

CLIENT = ProtoSpan.SPAN_KIND_CLIENT
SERVER = ProtoSpan.SPAN_KIND_SERVER


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def database(request: pytest.FixtureRequest) -> Iterator[dict[str, Any] | None]:
    """None for the project's SQLite file, else a fresh PostgreSQL database's ``DATABASES`` entry."""
    if request.param == "sqlite":
        yield None
        return
    server: Postgres = request.getfixturevalue("postgres")
    name = f"dcm_otel_db_{uuid.uuid4().hex[:8]}"
    yield server.create_database(name).django_database()
    server.drop_database(name)


def system_of(database: dict[str, Any] | None) -> str:
    return "sqlite" if database is None else "postgresql"


def request_span(receiver: OtlpReceiver, name: str) -> Span:
    (span,) = [s for s in receiver.spans() if s.kind == SERVER and s.name == name]
    return span


def children(receiver: OtlpReceiver, parent: Span) -> list[Span]:
    return [s for s in receiver.spans() if s.parent_span_id == parent.span_id]


def events(receiver: OtlpReceiver, span_name: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, attributes) of every event of the span(s) named ``span_name``."""
    found = []
    for message in receiver.received.get("/v1/traces", []):
        for resource_spans in message.resource_spans:  # type: ignore[attr-defined]
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    if span.name == span_name:
                        found += [(e.name, attributes(e.attributes)) for e in span.events]
    return found


def points(receiver: OtlpReceiver, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
    """Last exported point of metric ``name`` per attribute set."""
    return {frozenset(a.items()): p for _, a, p in receiver.metric_points(name)}


def test_a_span_and_a_duration_sample_per_query(
    tmp_path: Path, receiver: OtlpReceiver, database: dict[str, Any] | None
) -> None:
    project = write_shop_project(tmp_path, database=database)
    answers = request(project, receiver, "/items/", JOB)
    assert answers["/items/"][0] == 200
    system = system_of(database)
    namespace = str(database["NAME"]) if database else str(project / "db.sqlite3")

    parent = request_span(receiver, "GET /items/")
    (query,) = children(receiver, parent)
    assert query.kind == CLIENT
    assert query.name == 'SELECT "shop_item"'
    assert query.attributes["db.system.name"] == system
    assert query.attributes["db.namespace"] == namespace
    assert query.attributes["db.query.summary"] == 'SELECT "shop_item"'
    # The SQL conventions: operation and collection are not parsed out of the text; the summary is.
    assert "db.operation.name" not in query.attributes
    assert "db.collection.name" not in query.attributes
    alias = ' AS "name"' if django.VERSION >= (5, 2) else ""  # 5.2 aliases values() columns (#28900)
    assert query.attributes["db.query.text"] == (
        f'SELECT "shop_item"."name"{alias} FROM "shop_item" ORDER BY "shop_item"."id" ASC'
    )
    if database is not None:
        assert query.attributes["server.address"] == database["HOST"]
        assert query.attributes["server.port"] == int(database["PORT"])
    assert query.trace_id == parent.trace_id

    (job_query,) = children(receiver, request_span(receiver, "GET /jobs/<uuid:pk>/"))
    assert "%s" in job_query.attributes["db.query.text"]  # placeholder kept, value never read

    durations = points(receiver, "db.client.operation.duration")
    key = {
        ("db.system.name", system),
        ("db.namespace", namespace),
        ("db.query.summary", 'SELECT "shop_item"'),
    }
    if database is not None:
        key |= {("server.address", database["HOST"]), ("server.port", int(database["PORT"]))}
    assert durations[frozenset(key)].count == 2
    assert 0 < durations[frozenset(key)].sum < 5

    per_request = points(receiver, "dcm.http.server.db.queries")
    assert per_request[frozenset({("http.route", "/items/")})].sum == 1
    assert per_request[frozenset({("http.route", "/jobs/<uuid:pk>/")})].sum == 1


def test_parameters_and_literals_never_leave_the_process(
    tmp_path: Path, receiver: OtlpReceiver, database: dict[str, Any] | None
) -> None:
    project = write_shop_project(tmp_path, database=database)
    assert request(project, receiver, "/secrets/")["/secrets/"] == (200, "0")
    queries = children(receiver, request_span(receiver, "GET /secrets/"))
    texts = [s.attributes["db.query.text"] for s in queries]
    assert len(texts) == 3
    assert texts.count("SELECT COUNT(*) FROM shop_item WHERE owner = ?") == 1
    (failed,) = [s for s in queries if "no_such_table" in s.attributes["db.query.text"]]
    assert failed.status_code == 2  # STATUS_CODE_ERROR
    assert failed.events == ["exception"]  # with the exception type only: the message quotes the SQL
    # The database's own code: SQLite's extended result code (SQLITE_ERROR), PostgreSQL's SQLSTATE
    # (undefined_table); error.type matches it, as the conventions advise.
    code = "1" if database is None else "42P01"
    assert failed.attributes["db.response.status_code"] == code
    assert failed.attributes["error.type"] == code
    failures = {
        (dict(k).get("error.type"), dict(k).get("db.response.status_code"))
        for k in points(receiver, "db.client.operation.duration")
    }
    assert failures == {(None, None), (code, code)}
    exported = b"".join(m.SerializeToString() for ms in receiver.received.values() for m in ms)
    assert PARAMETER_SECRET.encode() not in exported
    assert LITERAL_SECRET.encode() not in exported


def test_n_plus_one_is_flagged_and_a_clean_view_is_not(
    tmp_path: Path, receiver: OtlpReceiver, database: dict[str, Any] | None
) -> None:
    project = write_shop_project(tmp_path, database=database)
    request(project, receiver, "/n-plus-one/", "/items/")

    ((name, event),) = events(receiver, "GET /n-plus-one/")
    assert name == "dcm.db.repeated_query"
    assert event["dcm.db.query.count"] == N_PLUS_ONE_ROWS
    assert event["db.query.text"].startswith("SELECT")
    # Parameterized, so as sent: the placeholder, and the ORM's own literal unsanitized.
    assert event["db.query.text"].endswith('"shop_item"."id" = %s LIMIT 21')
    assert events(receiver, "GET /items/") == []

    repeated = points(receiver, "dcm.http.server.db.repeated_queries")
    assert {k: p.as_int for k, p in repeated.items()} == {frozenset({("http.route", "/n-plus-one/")}): 1}
    per_request = points(receiver, "dcm.http.server.db.queries")
    assert per_request[frozenset({("http.route", "/n-plus-one/")})].sum == N_PLUS_ONE_ROWS + 1


def test_exported_db_metrics_match_the_reference_table(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_shop_project(tmp_path)
    request(project, receiver, "/items/", "/n-plus-one/", "/boom/", "/health/")
    exported = receiver.metric_shapes()
    rows = documented()
    mine = {
        "db.client.operation.duration",
        "dcm.http.server.db.queries",
        "dcm.http.server.db.repeated_queries",
    }
    assert mine <= exported.keys()
    for name, (kind, unit, keys) in exported.items():
        assert (kind, unit) == rows[name][:2], name
        assert keys <= rows[name][2], name


def test_repeated_query_threshold_is_a_setting(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_shop_project(tmp_path, dcm_otel={"db_repeated_query_threshold": N_PLUS_ONE_ROWS + 1})
    request(project, receiver, "/n-plus-one/")
    assert events(receiver, "GET /n-plus-one/") == []
    assert points(receiver, "dcm.http.server.db.repeated_queries") == {}


def test_queries_outside_requests_are_traced_too(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_shop_project(tmp_path)
    command = [
        sys.executable,
        "manage.py",
        "shell",
        "-c",
        "from shop.models import Item; Item.objects.count()",
    ]
    env = project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    subprocess.run(command, cwd=project, env=env, check=True, capture_output=True, timeout=60)
    (span,) = [s for s in receiver.spans() if s.attributes.get("db.query.summary") == 'SELECT "shop_item"']
    assert span.name == 'SELECT "shop_item"'
    assert span.parent_span_id == ""


DB_HOOKS = """
def db_hook(span, alias, sql):
    span.set_attribute("test.alias", alias)
    span.set_attribute("test.sql", sql)


def broken_db_hook(span, alias, sql):
    raise RuntimeError("a bug in the user's hook")
"""


def test_the_db_hook_adds_attributes_to_each_query_span(
    tmp_path: Path, receiver: OtlpReceiver, database: dict[str, Any] | None
) -> None:
    (tmp_path / "db_hooks.py").write_text(DB_HOOKS)
    project = write_shop_project(tmp_path, dcm_otel={"db_hook": "db_hooks.db_hook"}, database=database)
    request(project, receiver, "/items/", JOB)
    (items,) = children(receiver, request_span(receiver, "GET /items/"))
    assert items.attributes["test.alias"] == "default"
    assert items.attributes["test.sql"] == items.attributes["db.query.text"]
    (job,) = children(receiver, request_span(receiver, "GET /jobs/<uuid:pk>/"))
    # The SQL as sent to the driver: the placeholder, never the parameter's value.
    assert "%s" in job.attributes["test.sql"]
    assert JOB.split("/")[2] not in job.attributes["test.sql"]


def test_a_raising_db_hook_breaks_no_query_and_warns_once(tmp_path: Path, receiver: OtlpReceiver) -> None:
    (tmp_path / "db_hooks.py").write_text(DB_HOOKS)
    project = write_shop_project(tmp_path, dcm_otel={"db_hook": "db_hooks.broken_db_hook"})
    env = project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    plan = json.dumps([["/items/", {}], ["/n-plus-one/", {}]])
    result = subprocess.run(
        [sys.executable, "shop_requests.py", plan],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)[1] for line in result.stdout.splitlines()] == [200, 200]
    assert result.stderr.count("the db_hook") == 1, result.stderr
    assert "a bug in the user's hook" in result.stderr  # with its traceback
    assert len(children(receiver, request_span(receiver, "GET /n-plus-one/"))) == N_PLUS_ONE_ROWS + 1


def test_a_db_hook_that_cannot_be_imported_fails_at_startup_naming_the_key(tmp_path: Path) -> None:
    project = write_project(
        tmp_path, settings_tail="\nDCM_OTEL = {'db_hook': 'db_hooks.missing'}\n" + ONE_LINE
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=project, env=project_env(project),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "DCM_OTEL['db_hook']='db_hooks.missing' is invalid" in result.stderr, result.stderr


DRIVER_INSTRUMENTOR = """
import sqlite3
from opentelemetry.instrumentation import dbapi
for module in (sqlite3, sqlite3.dbapi2):  # what SQLite3Instrumentor does
    dbapi.wrap_connect("opentelemetry.instrumentation.sqlite3", module, "connect", "sqlite", {})
"""


@pytest.mark.parametrize("instrument_db", [True, False])
def test_a_driver_instrumentor_adds_no_second_span(
    tmp_path: Path, receiver: OtlpReceiver, instrument_db: bool
) -> None:
    pytest.importorskip("opentelemetry.instrumentation.dbapi", reason="in the bench extra, not the test one")
    project = write_shop_project(tmp_path, dcm_otel={"instrument_db": instrument_db})
    settings = project / "settings.py"
    settings.write_text(DRIVER_INSTRUMENTOR + settings.read_text())
    request(project, receiver, "/items/")
    queries = children(receiver, request_span(receiver, "GET /items/"))
    assert len(queries) == 1
    # dcm_otel's span carries the stable attributes; the dbapi instrumentor's the old ones.
    assert ("db.system.name" in queries[0].attributes) is instrument_db
    assert ("db.system" in queries[0].attributes) is not instrument_db


@pytest.mark.services
def test_sqlcommenter_puts_the_trace_context_in_the_sql_when_asked(
    tmp_path: Path, receiver: OtlpReceiver, postgres: Postgres
) -> None:
    name = f"dcm_otel_db_{uuid.uuid4().hex[:8]}"
    database = postgres.create_database(name).django_database()
    try:
        off = write_shop_project(tmp_path / "off", database=database)
        assert "traceparent" not in request(off, receiver, "/current-query/")["/current-query/"][1]

        on = write_shop_project(tmp_path / "on", dcm_otel={"db_sqlcommenter": True}, database=database)
        sent = request(on, receiver, "/current-query/")["/current-query/"][1]
    finally:
        postgres.drop_database(name)
    spans = [s for s in receiver.spans() if s.attributes.get("db.query.text") == "SELECT current_query()"]
    commented = spans[-1]
    prefix = f"SELECT current_query() /*traceparent='00-{commented.trace_id}-{commented.span_id}-"
    assert sent.startswith(prefix)
    assert sent.endswith("'*/")
    assert int(sent[len(prefix) : len(prefix) + 2], 16) & 1  # sampled, as the W3C propagator writes it


@pytest.mark.parametrize(
    ("sql", "text", "summary"),
    [
        (
            'SELECT "t"."id" FROM "shop_item" "t" WHERE "t"."id" = %s LIMIT 21',
            'SELECT "t"."id" FROM "shop_item" "t" WHERE "t"."id" = %s LIMIT ?',
            'SELECT "shop_item"',
        ),
        (
            "select * from t where name = 'O''Brien' and x > 42 and y = -3.5e10 and z = 0xFF and b = true",
            "select * from t where name = ? and x > ? and y = ? and z = ? and b = ?",
            "select t",
        ),
        ('INSERT INTO "a" ("v") VALUES (%s)', 'INSERT INTO "a" ("v") VALUES (%s)', 'INSERT "a"'),
        ('UPDATE "a" SET "v" = 5 WHERE "id" = 7', 'UPDATE "a" SET "v" = ? WHERE "id" = ?', 'UPDATE "a"'),
        (
            "SELECT a FROM t1 JOIN t2 ON t1.id = t2.id",
            "SELECT a FROM t1 JOIN t2 ON t1.id = t2.id",
            "SELECT t1 t2",
        ),
        ("SELECT a FROM t1 AS x, t2 y, t3", "SELECT a FROM t1 AS x, t2 y, t3", "SELECT t1 t2 t3"),
        ("SELECT $$x$$, E'y\\'z', b'01'", "SELECT ?, ?, ?", "SELECT"),
        ('/* app */ SAVEPOINT "s1_x2"', '/* app */ SAVEPOINT "s1_x2"', "SAVEPOINT"),
        # The conventions' examples: every operation and target, in order, names as written.
        (
            "INSERT INTO shipping_details (order_id, address) SELECT order_id, address FROM orders",
            "INSERT INTO shipping_details (order_id, address) SELECT order_id, address FROM orders",
            "INSERT shipping_details SELECT orders",
        ),
        (
            "SELECT d FROM (SELECT * FROM orders o JOIN customers c ON o.id = c.id)",
            "SELECT d FROM (SELECT * FROM orders o JOIN customers c ON o.id = c.id)",
            "SELECT SELECT orders customers",
        ),
        # Keywords that are no operation or no target where they stand.
        (
            'SELECT EXTRACT(YEAR FROM "a"."d") FROM "a" WHERE "x" IS DISTINCT FROM "y" FOR UPDATE',
            'SELECT EXTRACT(YEAR FROM "a"."d") FROM "a" WHERE "x" IS DISTINCT FROM "y" FOR UPDATE',
            'SELECT "a"',
        ),
        (
            'WITH c AS (DELETE FROM "t" RETURNING *) SELECT * FROM c',
            'WITH c AS (DELETE FROM "t" RETURNING *) SELECT * FROM c',
            'DELETE "t" SELECT c',
        ),
        (
            'TRUNCATE "a", "b" RESTART IDENTITY CASCADE',
            'TRUNCATE "a", "b" RESTART IDENTITY CASCADE',
            'TRUNCATE "a" "b"',
        ),
        ("-- nothing", "-- nothing", None),
    ],
)
def test_statement_text_and_summary(sql: str, text: str, summary: str | None) -> None:
    assert tuple(summarize(sql, parameterized=False)) == (text, summary)


def test_a_parameterized_statement_is_not_sanitized() -> None:
    """The conventions: the caller's parameters are the signal that no value is in the text; the summary
    is still made of the sanitized text."""
    sql = "SELECT * FROM t WHERE kind = 'open' AND id = %s LIMIT 21"
    assert tuple(summarize(sql, parameterized=True)) == (sql, "SELECT t")
    assert summarize(sql, parameterized=False).text == "SELECT * FROM t WHERE kind = ? AND id = %s LIMIT ?"


def test_a_summary_is_cut_between_names() -> None:
    tables = [f"table_{i:03}" for i in range(40)]
    summary = summarize(f"SELECT * FROM {', '.join(tables)}", parameterized=False).summary
    assert summary is not None
    assert len(summary) <= SUMMARY_LIMIT
    assert summary == " ".join(["SELECT", *tables[: len(summary.split()) - 1]])


def test_a_failure_reports_the_drivers_code_else_its_class() -> None:
    """Django re-raises the driver's error ``from`` it: the cause holds the database's code."""
    sqlite = sqlite3.connect(":memory:")
    sqlite.execute("CREATE TABLE t (a UNIQUE)")
    sqlite.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError) as raised:
        sqlite.execute("INSERT INTO t VALUES (1)")
    wrapped = IntegrityError("UNIQUE constraint failed: t.a")
    wrapped.__cause__ = raised.value
    assert failure(wrapped) == (
        "sqlite3.IntegrityError",
        {"error.type": "2067", "db.response.status_code": "2067"},  # SQLITE_CONSTRAINT_UNIQUE
    )
    assert failure(ValueError("no code")) == ("ValueError", {"error.type": "ValueError"})
