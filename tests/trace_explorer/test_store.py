"""The trace explorer's store against a real database (the project's SQLite): the retention bounds hold under
more traffic than they allow (the newest traces stay, the oldest go first), secrets are masked before a row
is written, log records join their trace, and a slow or missing database never reaches the caller."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from dcm_otel.config import ConfigError, load_config
from tests.project_factory import write_project
from tests.services.postgres import Postgres
from tests.test_init import ONE_LINE, manage
from tests.trace_explorer.scripts import run_script

SCRIPT = """
import json, logging, os, sys, time
import django

django.setup()
logging.basicConfig(level=logging.INFO)
from django.core.management import call_command
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, StatusCode

import dcm_otel.trace_explorer.store as store_module
from dcm_otel.config import load_config

mode = sys.argv[1]
call_command("migrate", verbosity=0)
max_bytes = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
settings = {"trace_explorer": True, "trace_explorer_max_traces": 20, "trace_explorer_max_bytes": max_bytes}
if mode.startswith("default"):  # no trace_explorer key: settings.DEBUG decides
    from django.conf import settings as django_settings

    django_settings.DEBUG = mode == "default-debug"
    del settings["trace_explorer"]
if mode == "full":
    store_module.MAX_QUEUE = 5
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
store = store_module.TraceStore(load_config(settings))
if mode == "decide-fails":
    store = store_module.TraceStore(load_config({}), debug=lambda: 1 / 0)
if mode == "full":  # a writer stuck on a slow database
    import threading
    gate = threading.Event()
    store.write = lambda items: gate.wait(20)
if mode == "broken":
    store.write = lambda items: 1 / 0
provider = TracerProvider(resource=Resource({"service.name": os.environ.get("SERVICE", "test")}))
provider.add_span_processor(store)
tracer = provider.get_tracer("test")
log = logging.getLogger("app")
log.setLevel(logging.INFO)
started = time.perf_counter()
if mode == "polls":  # the job processor's polls: one that saw no job, one that saw one
    with tracer.start_as_current_span("dcm.processor.poll") as idle:
        with tracer.start_as_current_span("SELECT container_manager_containerjob"):
            pass
        store.force_flush()  # the poll's query is kept before the poll ends
        idle.set_attribute("dcm.processor.jobs.seen", 0)
    with tracer.start_as_current_span("dcm.processor.poll") as busy:
        busy.set_attribute("dcm.processor.jobs.seen", 1)
    # housekeeping between polls: queries outside any operation, one failing
    tracer.start_span("SELECT container_manager_executorhost", kind=SpanKind.CLIENT).end()
    failed = tracer.start_span("UPDATE container_manager_containerjob", kind=SpanKind.CLIENT)
    failed.set_status(StatusCode.ERROR)
    failed.end()
for i in range(0 if mode == "polls" else 100):
    with tracer.start_as_current_span(f"trace-{i:03}", attributes={"n": i, "db.password": "hunter2"}) as root:
        child = {"url.full": "https://x/?token=s3cr3t&a=1", "pad": "x" * 500}
        with tracer.start_as_current_span("child", attributes=child):
            log.info("inside %s with password=hunter2", i)
        root.set_attribute("api_key", "late-secret")  # set after start: the export processor cannot mask it
    if i % 10 == 9 and mode != "full":
        store.force_flush()
elapsed = time.perf_counter() - started
if mode == "full":
    gate.set()
store.force_flush()
from dcm_otel.trace_explorer.models import TraceLog, TraceSpan

exported = reader.get_metrics_data()
points = {
    point.attributes["dcm.trace_explorer.reason"]: point.value
    for rm in (exported.resource_metrics if exported else [])
    for sm in rm.scope_metrics
    for metric in sm.metrics
    if metric.name == "dcm.trace_explorer.dropped"
    for point in metric.data.data_points
}
result = {"metric": points, "dropped": store.dropped, "failures": store.failures, "elapsed": elapsed}
result["enabled"] = store.enabled
from django.db import connection

with connection.cursor() as cursor:  # the app's own database: its migration's tables stay empty on SQLite
    cursor.execute("SELECT COUNT(*) FROM dcm_otel_tracespan")
    result["in_app_database"] = cursor.fetchone()[0]
if mode.startswith(("bound", "default", "polls")):
    from dcm_otel.trace_explorer.database import explorer_database

    spans = list(TraceSpan.objects.using(explorer_database()).values())
    logs = list(TraceLog.objects.using(explorer_database()).values())
    result.update(
        roots=sorted(s["name"] for s in spans if not s["parent_id"]),
        traces=len({s["trace_id"] for s in spans}),
        bytes=sum(s["size"] for s in spans) + sum(l["size"] for l in logs),
        text=json.dumps(spans + logs),
        logs=[(l["trace_id"], l["message"]) for l in logs],
        span_traces={s["trace_id"]: s["name"] for s in spans if not s["parent_id"]},
        services=sorted({s["service"] for s in spans}),
    )
print(json.dumps(result))
"""


def run(tmp_path: Path, mode: str, *args: str, settings: str = "", **env: str) -> Any:
    tail = 'DCM_OTEL = {"sdk_disabled": True}\n' + settings
    project = write_project(tmp_path, settings_tail=tail, installed_apps=("dcm_otel",))
    return run_script(project, "store_script.py", SCRIPT, mode, *args, **env)


def newest_first_kept(result: dict[str, Any]) -> list[str]:
    """The kept traces' root names, checked to be the newest run of traces, ending with the last one."""
    assert result["dropped"] == result["failures"] == 0
    kept = result["roots"]
    assert kept == [f"trace-{i:03}" for i in range(100 - len(kept), 100)]
    assert result["traces"] == len(kept)
    return kept


def test_more_traces_than_the_count_bound_keeps_the_newest(tmp_path: Path) -> None:
    result, _ = run(tmp_path, "bound")
    assert len(newest_first_kept(result)) == 20


def test_more_bytes_than_the_byte_bound_keeps_the_newest_within_it(tmp_path: Path) -> None:
    result, _ = run(tmp_path, "bound", "15000")  # a trace is about 1.4 kB: about ten fit
    kept = newest_first_kept(result)
    assert 5 <= len(kept) < 20
    assert result["bytes"] <= 15_000


def test_secrets_are_masked_before_they_are_stored_and_logs_join_their_trace(tmp_path: Path) -> None:
    result, _ = run(tmp_path, "bound")
    for secret in ("hunter2", "s3cr3t", "late-secret"):
        assert secret not in result["text"]
    assert "***" in result["text"]
    assert result["logs"], "log records made inside spans are kept"
    for trace_id, message in result["logs"]:
        number = message.split()[1]
        assert result["span_traces"][trace_id] == f"trace-{int(number):03}"
        assert message.endswith("password=***")


def test_a_stuck_database_drops_spans_and_counts_them_without_blocking(tmp_path: Path) -> None:
    result, _ = run(tmp_path, "full")
    # 200 spans: one taken by the stuck writer, five queued, the rest dropped.
    assert result["dropped"] >= 190
    assert result["metric"] == {"queue_full": result["dropped"], "store_failed": 0}
    assert result["elapsed"] < 5, "ending a span must not wait for the database"


def test_a_failing_database_is_logged_once_and_never_raises(tmp_path: Path) -> None:
    result, stderr = run(tmp_path, "broken")
    assert result["failures"] >= 2
    assert result["metric"]["store_failed"] == 300  # the refused batches' 200 spans and 100 log records
    said = [line for line in stderr.splitlines() if line.startswith("ERROR:dcm_otel.trace_explorer:")]
    assert said == [
        "ERROR:dcm_otel.trace_explorer:dcm_otel: the trace explorer could not store spans (logged once)"
    ]


def test_on_sqlite_the_traces_are_kept_in_a_file_of_their_own(tmp_path: Path) -> None:
    """The app's transactions never wait for (or fail on) the explorer's writes."""
    result, _ = run(tmp_path, "bound")
    assert result["traces"] == 20
    assert result["in_app_database"] == 0
    assert (tmp_path / "db-traces.sqlite3").is_file()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("trace_explorer", "sometimes"),
        ("trace_explorer_max_traces", 0),
        ("trace_explorer_max_bytes", "lots"),
        ("tracing_url", "http://jaeger:16686/trace/"),
        ("tracing_url", "jaeger/{trace_id}"),
        ("tracing_url", "http://jaeger/{trace_id}/{span_id}"),
    ],
)
def test_a_wrong_explorer_setting_fails_at_startup_naming_it(key: str, value: object) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({key: value})
    (problem,) = raised.value.problems
    assert key in problem.key
    assert problem.value == value


def test_explorer_settings_from_the_environment() -> None:
    env = {
        "DCM_OTEL_TRACE_EXPLORER": "true",
        "DCM_OTEL_TRACE_EXPLORER_MAX_TRACES": "7",
        "DCM_OTEL_TRACING_URL": "http://jaeger:16686/trace/{trace_id}",
    }
    config = load_config({}, env)
    assert (config.trace_explorer, config.trace_explorer_max_traces) == (True, 7)
    assert config.tracing_url == "http://jaeger:16686/trace/{trace_id}"
    assert load_config({}, {}).trace_explorer is None  # follows settings.DEBUG


def test_by_default_the_explorer_follows_settings_debug(tmp_path: Path) -> None:
    off, _ = run(tmp_path / "off", "default")
    assert off["enabled"] is False
    assert off["traces"] == 0
    on, _ = run(tmp_path / "on", "default-debug")
    assert on["enabled"] is True
    assert on["traces"] == 20


def test_check_names_an_explorer_asked_for_without_its_app(tmp_path: Path) -> None:
    tail = "\nDCM_OTEL = {'trace_explorer': True}\n" + ONE_LINE
    result = manage(write_project(tmp_path / "without", settings_tail=tail), "check")
    assert result.returncode != 0
    assert "dcm_otel.E005" in result.stderr
    assert "'dcm_otel' is not in INSTALLED_APPS" in result.stderr
    installed = write_project(tmp_path / "with", settings_tail=tail, installed_apps=("dcm_otel",))
    assert manage(installed, "check").returncode == 0


def test_a_failing_decision_leaves_the_explorer_off_without_raising(tmp_path: Path) -> None:
    result, stderr = run(tmp_path, "decide-fails")
    assert result["enabled"] is False
    said = [line for line in stderr.splitlines() if line.startswith("ERROR:dcm_otel.trace_explorer:")]
    assert len(said) == 1, stderr[-3000:]
    assert said[0].endswith("the trace explorer could not start; it stays off in this process")


@pytest.mark.services
def test_processes_sharing_a_postgresql_database_share_one_store(tmp_path: Path, postgres: Postgres) -> None:
    """The web server and the job processor in containers of their own, sharing the database alone: the
    second process's traces join the first's in the app's own tables, under the same bounds."""
    name = f"dcm_otel_explorer_{uuid.uuid4().hex[:8]}"
    database = postgres.create_database(name).django_database()
    settings = f"DATABASES = {{'default': {database!r}}}\n"
    try:
        web, _ = run(tmp_path / "web", "bound", settings=settings, SERVICE="web")
        processor, _ = run(tmp_path / "processor", "bound", settings=settings, SERVICE="processor")
    finally:
        postgres.drop_database(name)
    assert web["services"] == ["web"]
    assert web["in_app_database"] == 2 * 20  # PostgreSQL: the migration's own tables
    # The processor's newer traces pushed the web server's out: one store, one bound, oldest first.
    assert newest_first_kept(processor) == [f"trace-{i:03}" for i in range(80, 100)]
    assert processor["services"] == ["processor"]
    assert not (tmp_path / "web" / "db-traces.sqlite3").exists()


def test_a_poll_that_saw_no_job_is_not_kept(tmp_path: Path) -> None:
    """One a second would push every other trace out; its query, kept before it ended, goes with it. So
    would the processor's queries between polls, each a trace of its own: kept only when they fail."""
    result, _ = run(tmp_path, "polls")
    assert sorted(result["roots"]) == ["UPDATE container_manager_containerjob", "dcm.processor.poll"]
    assert result["traces"] == 2
