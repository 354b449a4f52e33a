"""The endpoints in a real Django project (subprocesses): answers, who sees details, content negotiation,
registered checks, the container_manager checks, the management command, metrics and no traces."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.health._project import TOKEN, health_project, manage, run_script
from tests.otlp_receiver import OtlpReceiver, start_receiver
from tests.project_factory import project_env
from tests.services._common import wait_until
from tests.test_metrics_contract import documented

WITH_TOKEN = f"\nDCM_OTEL = {{'health': {{'details_token': {TOKEN!r}}}}}\n"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


def test_liveness_readiness_details_and_negotiation(tmp_path: Path) -> None:
    project = health_project(tmp_path, settings_tail=WITH_TOKEN)
    live, anonymous, allowed, text, wrong_token, post, headers = run_script(
        project,
        f"""
        token = {TOKEN!r}
        response = client.get("/ready/")
        print(json.dumps([
            probe("/health/"),
            probe(),
            probe(HTTP_X_HEALTH_TOKEN=token),
            probe(HTTP_X_HEALTH_TOKEN=token, HTTP_ACCEPT="text/plain, application/json;q=0.5"),
            probe(HTTP_X_HEALTH_TOKEN="not-the-token-at-all"),
            client.post("/ready/").status_code,
            {{k: response[k] for k in ("Cache-Control", "Vary")}},
        ]))
        """,
    )
    assert live[:2] == [200, {"status": "ok"}]
    assert anonymous[:2] == [200, {"status": "ok"}]
    assert wrong_token[:2] == [200, {"status": "ok"}]
    checks = allowed[1]["checks"]
    assert list(checks) == ["database", "docker", "queue"]
    assert checks["database"]["status"] == "ok"
    assert checks["database"]["duration_s"] > 0
    assert checks["docker"] == {
        "status": "skipped",
        "duration_s": checks["docker"]["duration_s"],
        "reason": "container_manager is not installed",
    }
    assert text[1].splitlines()[0] == "ok"
    assert text[1].splitlines()[1].startswith("database ok ")
    assert post == 405
    assert "no-store" in headers["Cache-Control"]
    assert "X-Health-Token" in headers["Vary"]


@pytest.mark.parametrize(("networks", "expected"), [(["127.0.0.0/8"], True), (["10.0.0.0/8"], False)])
def test_ip_allowlist(tmp_path: Path, networks: list[str], expected: bool) -> None:
    tail = f"\nDCM_OTEL = {{'health': {{'details_ips': {networks!r}}}}}\n"
    status, body, _ = run_script(health_project(tmp_path, settings_tail=tail), "print(json.dumps(probe()))")
    assert status == 200
    assert ("checks" in body) is expected


def test_staff_session_sees_details_other_users_do_not(tmp_path: Path) -> None:
    tail = """
        INSTALLED_APPS += ["django.contrib.sessions"]
        MIDDLEWARE = [
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            *MIDDLEWARE,
        ]
        """
    staff, user = run_script(
        health_project(tmp_path, settings_tail=tail),
        """
        from django.contrib.auth.models import User
        from django.core.management import call_command
        call_command("migrate", verbosity=0)
        client.force_login(User.objects.create(username="ops", is_staff=True))
        staff = probe()
        client.force_login(User.objects.create(username="someone"))
        print(json.dumps([staff, probe()]))
        """,
    )
    assert "checks" in staff[1]
    assert staff[1]["checks"]["database"]["status"] == "ok"
    assert user[1] == {"status": "ok"}


PROJECT_CHECKS = """
from dcm_otel import health

@health.check("payments", timeout=0.5)
def payments(timeout):
    raise ConnectionError("payments API refused the connection")

def search(timeout):
    return True
"""


def test_registered_and_dotted_path_checks(tmp_path: Path) -> None:
    checks = ["database", "projchecks.search", "projchecks.missing", "otlp"]
    health = {"details_token": TOKEN, "checks": checks}
    tail = f"\nimport projchecks\nDCM_OTEL = {{'health': {health!r}}}\n"
    project = health_project(tmp_path, settings_tail=tail)
    (project / "projchecks.py").write_text(PROJECT_CHECKS)
    status, body, _ = run_script(project, f"print(json.dumps(probe(HTTP_X_HEALTH_TOKEN={TOKEN!r})))")
    assert status == 503
    checks = body["checks"]
    assert list(checks) == ["database", "search", "missing", "otlp", "payments"]
    assert checks["search"]["status"] == "ok"
    assert checks["missing"]["status"] == "fail"
    assert checks["missing"]["reason"].startswith('ImportError: Module "projchecks" does not define')
    assert checks["otlp"] == {**checks["otlp"], "status": "skipped", "reason": "no OTLP endpoint configured"}
    assert checks["payments"]["reason"] == "ConnectionError: payments API refused the connection"


def test_queue_backlog_and_heartbeat_with_container_manager(tmp_path: Path) -> None:
    tail = WITH_TOKEN.replace("}}", ", 'queue_max_age': 60, 'heartbeat_max_age': 30, 'cache_ttl': 0}}")
    project = health_project(tmp_path, settings_tail=tail, installed_apps=("container_manager",))
    fresh, late, stale_heartbeat = run_script(
        project,
        f"""
        import time
        from datetime import timedelta
        from django.core.management import call_command
        from django.utils import timezone
        from container_manager.models import ContainerJob, ExecutorHost
        from dcm_otel.health import set_heartbeat_provider
        call_command("migrate", verbosity=0)
        host = ExecutorHost.objects.create(name="h", connection_string="unix:///none", is_active=False)
        ContainerJob.objects.create(docker_host=host, name="recent", command="true")
        token = {TOKEN!r}
        fresh = probe(HTTP_X_HEALTH_TOKEN=token)
        late = ContainerJob.objects.create(docker_host=host, name="late", command="true")
        ContainerJob.objects.filter(pk=late.pk).update(created_at=timezone.now() - timedelta(seconds=300))
        late = probe(HTTP_X_HEALTH_TOKEN=token)
        ContainerJob.objects.all().delete()
        set_heartbeat_provider(lambda: time.time() - 100)
        print(json.dumps([fresh, late, probe(HTTP_X_HEALTH_TOKEN=token)]))
        """,
    )
    assert fresh[0] == 200
    assert fresh[1]["checks"]["docker"]["reason"] == "no active docker ExecutorHost"
    assert fresh[1]["checks"]["queue"]["reason"].endswith("processor heartbeat unknown")
    assert late[0] == 503
    assert late[1]["checks"]["queue"]["reason"].startswith("oldest waiting job is 300 s old (limit 60 s)")
    assert stale_heartbeat[0] == 503
    assert stale_heartbeat[1]["checks"]["queue"]["reason"] == "processor last polled 100 s ago (limit 30 s)"


def test_management_command_exits_0_when_ready_and_1_when_not(tmp_path: Path) -> None:
    project = health_project(tmp_path)
    ready = manage(project, "dcm_health", OTEL_SDK_DISABLED="true")
    assert ready.returncode == 0, ready.stderr
    assert ready.stdout.splitlines()[0] == "ok"
    assert ready.stdout.splitlines()[1].startswith("database ok")
    (project / "settings.py").write_text(
        (project / "settings.py").read_text()
        + "\nDATABASES['default']['NAME'] = '/nonexistent/dir/db.sqlite3'\n"
    )
    not_ready = manage(project, "dcm_health", "--json")
    assert not_ready.returncode == 1
    assert '"database": {"status": "fail"' in not_ready.stdout
    assert "not ready: database" in not_ready.stderr


def test_metrics_match_the_reference_and_probes_make_no_spans(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = health_project(tmp_path, settings_tail="\nimport dcm_otel; dcm_otel.init()\n")
    env = project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    paths = ["/ready/", "/health/", "/"]
    subprocess.run(
        [sys.executable, str(project / "requests_script.py"), *paths], env=env, check=True, timeout=60
    )
    exported = receiver.metric_shapes()
    rows = documented()
    for name in ("dcm.health.check.status", "dcm.health.check.duration"):
        kind, unit, keys = exported[name]
        assert (kind, unit) == rows[name][:2], name
        assert keys == rows[name][2] == {"dcm.health.check.name"}
    points = {
        p[1]["dcm.health.check.name"]: p[2].as_int for p in receiver.metric_points("dcm.health.check.status")
    }
    assert points == {"database": 1}  # docker and queue skipped: not reported
    assert receiver.wait_for(lambda: bool(receiver.spans()))
    assert [s.attributes.get("url.path") for s in receiver.spans()] == ["/"]


def test_metrics_view_is_routed_by_the_include_without_the_middleware(tmp_path: Path) -> None:
    """``dcm_otel.urls`` routes ``/metrics`` to the Prometheus view, so it answers with the request
    middleware off; the scrape token applies there too."""
    token = "scrape-token-for-the-routed-view"
    settings = f"\nDCM_OTEL = {{'instrument_django': False, 'metrics_token': {token!r}}}\n"
    project = health_project(tmp_path, settings_tail=settings)
    (status, body, _), (denied, _, _), middleware = run_script(
        project,
        f"""
        from django.conf import settings
        print(json.dumps([
            probe("/metrics", HTTP_AUTHORIZATION="Bearer {token}"),
            probe("/metrics"),
            [m for m in settings.MIDDLEWARE if m.startswith("dcm_otel")],
        ]))
        """,
    )
    assert middleware == []
    assert status == 200
    assert "# TYPE" in body
    assert denied == 403


def test_the_queue_check_reads_the_processors_heartbeat_from_the_shared_directory(tmp_path: Path) -> None:
    """A real ``process_container_jobs`` sharing ``multiprocess_dir`` with the web side: its polls keep the
    check ready, a hung processor (SIGSTOP) fails it, a processor that exited leaves it unknown."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o700)
    tail = (
        f"\nDCM_OTEL = {{'multiprocess_dir': {str(shared)!r}, "
        f"'health': {{'details_token': {TOKEN!r}, 'heartbeat_max_age': 5, 'cache_ttl': 0}}}}\n"
    )
    project = health_project(tmp_path / "app", settings_tail=tail, installed_apps=("container_manager",))
    assert manage(project, "migrate", "--verbosity=0").returncode == 0
    argv = [sys.executable, "manage.py", "process_container_jobs", "--legacy-mode", "--poll-interval=1"]
    processor = subprocess.Popen(
        argv, cwd=project, env=project_env(project), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    reason = f"""
        import time
        print(json.dumps(probe(HTTP_X_HEALTH_TOKEN={TOKEN!r})[1]["checks"]["queue"]["reason"]))
        """
    try:
        assert wait_until(lambda: any(shared.glob("processor-*.heartbeat")), 60)
        polling = run_script(project, reason)
        processor.send_signal(signal.SIGSTOP)
        time.sleep(6.5)  # past heartbeat_max_age: the stopped processor's file ages
        hung = run_script(project, reason)
        processor.send_signal(signal.SIGCONT)
        processor.terminate()
        processor.wait(30)
        exited = run_script(project, reason)
    finally:
        if processor.poll() is None:
            processor.send_signal(signal.SIGCONT)
            processor.kill()
            processor.wait(30)
    assert re.search(r"processor polled \d s ago$", polling), polling
    assert re.fullmatch(r"processor last polled \d+ s ago \(limit 5 s\)", hung), hung
    assert exited.endswith("processor heartbeat unknown")
    assert list(shared.glob("processor-*.heartbeat")) == []
