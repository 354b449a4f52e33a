"""One-line adoption: a plain Django project plus one line exports request spans and the duration metric;
``opentelemetry-instrument`` gives the same with exactly one span per request; bad settings fail clearly."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from tests.otlp_receiver import OtlpReceiver, start_receiver
from tests.project_factory import project_env, write_project

ONE_LINE = "\nimport dcm_otel; dcm_otel.init()\n"
JOB = "/jobs/6f1c2a43-7d3e-4a4e-9a59-0d8f3f0e1c11/"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


def run_requests(
    project: Path, receiver: OtlpReceiver, *paths: str, launcher: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    environment = project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, **env)
    command = [*launcher, sys.executable, str(project / "requests_script.py"), *paths]
    result = subprocess.run(command, cwd=project, env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result


def server_spans(receiver: OtlpReceiver) -> list[str]:
    return sorted(s.name for s in receiver.spans() if s.kind == ProtoSpan.SPAN_KIND_SERVER)


def duration_counts(receiver: OtlpReceiver) -> Counter[str]:
    """Request count per route from the last export of ``http.server.request.duration`` (cumulative)."""
    counts: Counter[str] = Counter()
    for _, attributes, point in receiver.metric_points("http.server.request.duration"):
        counts[attributes["http.route"]] = max(counts[attributes["http.route"]], point.count)
    return counts


def assert_requests_exported(receiver: OtlpReceiver) -> None:
    assert server_spans(receiver) == ["GET /", "GET /jobs/<uuid:pk>/"]
    (job_span,) = [s for s in receiver.spans() if s.name == "GET /jobs/<uuid:pk>/"]
    assert job_span.attributes["http.route"] == "/jobs/<uuid:pk>/"
    assert job_span.attributes["http.response.status_code"] == 200
    assert job_span.resource["service.name"] == "shop"
    assert duration_counts(receiver) == {"/": 1, "/jobs/<uuid:pk>/": 1}


def test_one_line_in_settings(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    result = run_requests(project, receiver, "/", JOB, OTEL_SERVICE_NAME="shop")
    assert_requests_exported(receiver)
    # One startup line per signal says where it goes.
    assert f"traces -> otlp http/protobuf {receiver.endpoint}" in result.stderr
    assert "metrics -> prometheus /metrics + otlp" in result.stderr


def test_installed_app_and_one_line_together_initialise_once(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_project(tmp_path, settings_tail=ONE_LINE, installed_apps=("dcm_otel",))
    result = run_requests(project, receiver, "/", JOB, OTEL_SERVICE_NAME="shop")
    assert_requests_exported(receiver)
    assert result.stderr.count("traces -> ") == 1


def test_opentelemetry_instrument_launch(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_project(tmp_path)
    run_requests(
        project, receiver, "/", JOB, launcher=("opentelemetry-instrument",), OTEL_SERVICE_NAME="shop"
    )
    assert_requests_exported(receiver)


def test_opentelemetry_instrument_with_the_line_and_contrib_django_gives_one_span(
    tmp_path: Path, receiver: OtlpReceiver
) -> None:
    pytest.importorskip("opentelemetry.instrumentation.django")  # installed by the test extra on purpose
    project = write_project(tmp_path, settings_tail=ONE_LINE, installed_apps=("dcm_otel",))
    run_requests(
        project, receiver, "/", JOB, launcher=("opentelemetry-instrument",), OTEL_SERVICE_NAME="shop"
    )
    assert_requests_exported(receiver)


def test_sdk_disabled_exports_nothing_and_serves(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    result = run_requests(project, receiver, "/", OTEL_SDK_DISABLED="true")
    assert "/ 200" in result.stdout
    assert receiver.received == {}


def test_unhandled_exception_is_an_error_span(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    result = run_requests(project, receiver, "/boom/")
    assert "/boom/ 500" in result.stdout
    (span,) = receiver.spans()
    assert span.name == "GET /boom/"
    assert span.status_code == 2  # STATUS_CODE_ERROR
    assert span.attributes["error.type"] == "RuntimeError"
    assert "exception" in span.events


def manage(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=project,
        env=project_env(project, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("installed_apps", [(), ("dcm_otel",)])
def test_check_names_a_bad_setting(tmp_path: Path, installed_apps: tuple[str, ...]) -> None:
    tail = "\nDCM_OTEL = {'traces_exporter': 'zipkin', 'metrics_path': 'metrics'}\n" + ONE_LINE
    project = write_project(tmp_path, settings_tail=tail, installed_apps=installed_apps)
    result = manage(project, "check")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "dcm_otel.E001" in output
    assert "DCM_OTEL['traces_exporter']='zipkin'" in output
    assert "list of otlp, console, none" in output
    assert "DCM_OTEL['metrics_path']='metrics'" in output
    assert "Traceback" not in output


def test_check_names_a_bad_environment_variable(tmp_path: Path) -> None:
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    result = manage(project, "check", OTEL_EXPORTER_OTLP_PROTOCOL="udp")
    assert result.returncode != 0
    assert "dcm_otel.E002" in result.stderr
    assert "OTEL_EXPORTER_OTLP_PROTOCOL='udp'" in result.stderr


def test_check_names_a_health_check_path_that_does_not_import(tmp_path: Path) -> None:
    tail = "\nDCM_OTEL = {'health': {'checks': ['database', 'myapp.health.redis']}}\n" + ONE_LINE
    project = write_project(tmp_path, settings_tail=tail, installed_apps=("dcm_otel",))
    result = manage(project, "check")
    assert result.returncode != 0
    assert "dcm_otel.E004" in result.stderr
    assert "'myapp.health.redis', which does not import" in result.stderr
    assert "built-in check (database, docker, queue, cache, otlp)" in result.stderr


def test_other_commands_fail_at_startup_naming_the_key(tmp_path: Path) -> None:
    project = write_project(tmp_path, settings_tail="\nDCM_OTEL = {'sampler': 'often'}\n" + ONE_LINE)
    result = manage(project, "migrate")
    assert result.returncode != 0
    assert "ImproperlyConfigured: dcm_otel: DCM_OTEL['sampler']='often' is invalid" in result.stderr


def test_valid_settings_pass_check(tmp_path: Path) -> None:
    project = write_project(tmp_path, settings_tail=ONE_LINE, installed_apps=("dcm_otel",))
    result = manage(project, "check")
    assert result.returncode == 0, result.stderr


APP_OWN_PROVIDER = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
trace.set_tracer_provider(provider)
"""


def test_providers_set_before_init_are_used_not_replaced(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_project(tmp_path, settings_tail=APP_OWN_PROVIDER + ONE_LINE)
    result = run_requests(project, receiver, JOB)
    assert '"name": "GET /jobs/<uuid:pk>/"' in result.stdout  # the app's own console exporter got it
    assert "providers set before dcm_otel (TracerProvider)" in result.stderr
    assert "/v1/traces" not in receiver.received
