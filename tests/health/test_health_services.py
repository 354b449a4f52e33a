"""Against real services and a real server (gunicorn): PostgreSQL and the Docker Engine going away and
coming back, a check that hangs forever, and 200 concurrent probes sharing one run.

The services are session fixtures: every stop is undone in a ``finally`` (their ``stopped()`` blocks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.health._project import TOKEN, Server, health_project, manage, run_script
from tests.services import DockerEngine, Postgres
from tests.services._common import wait_until

DETAILS = {"X-Health-Token": TOKEN}
# The answer is bounded by the check's timeout (1 s for DB/Docker, 0.3 s for the hanging check) plus the
# request's own cost; the margin absorbs a loaded 2-core machine without hiding an unbounded wait.
BOUND_DB_DOCKER = 3.0
BOUND_HANG = 2.0


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def settings_tail(**health: object) -> str:
    return f"\nDCM_OTEL = {{'health': {{'details_token': {TOKEN!r}, 'cache_ttl': 0, **{health!r}}}}}\n"


def wait_ready(server: Server) -> bool:
    return wait_until(lambda: server.get(**DETAILS)[0] == 200, 30, 0.2)


@pytest.mark.services
def test_postgres_stopped_then_restarted(tmp_path: Path, postgres: Postgres, servers: list[Server]) -> None:
    database = postgres.create_database("dcm_health")
    tail = f"\nDATABASES = {{'default': {database.django_database()!r}}}\n" + settings_tail(
        timeouts={"database": 1.0}
    )
    server = Server.start(health_project(tmp_path, settings_tail=tail))
    servers.append(server)
    status, body, _ = server.get(**DETAILS)
    assert (status, body["checks"]["database"]["status"]) == (200, "ok")
    with postgres.stopped():
        status, body, elapsed = server.get(**DETAILS)
        assert status == 503
        assert elapsed < BOUND_DB_DOCKER
        assert body["checks"]["database"]["status"] == "fail"
        assert body["checks"]["database"]["reason"].startswith("default: OperationalError")
        assert server.get()[:2] == (503, {"status": "fail"})
    assert wait_ready(server)


@pytest.mark.services
def test_docker_engine_stopped_then_restarted(
    tmp_path: Path, docker_engine: DockerEngine, servers: list[Server]
) -> None:
    tail = settings_tail(timeouts={"docker": 1.0}, docker_policy="all")
    project = health_project(tmp_path, settings_tail=tail, installed_apps=("container_manager",))
    assert manage(project, "migrate", "--verbosity=0").returncode == 0
    run_script(
        project,
        f"""
        from container_manager.models import ExecutorHost
        ExecutorHost.objects.create(name="engine", connection_string={docker_engine.base_url!r})
        ExecutorHost.objects.create(name="retired", connection_string="unix:///nonexistent", is_active=False)
        print(json.dumps(None))
        """,
    )
    server = Server.start(project)
    servers.append(server)
    status, body, _ = server.get(**DETAILS)
    assert (status, body["checks"]["docker"]["reason"]) == (200, "1/1 docker hosts up (policy all)")
    with docker_engine.stopped():
        status, body, elapsed = server.get(**DETAILS)
        assert status == 503
        assert elapsed < BOUND_DB_DOCKER
        assert body["checks"]["docker"]["reason"].startswith("0/1 docker hosts up (policy all); engine: ")
    assert wait_ready(server)


COUNTED = """
import os, threading, time
from dcm_otel import health

@health.check("counted")
def counted(timeout):
    with open(os.path.join(os.path.dirname(__file__), "runs.log"), "a") as log:
        log.write(f"{time.time()}\\n")
    time.sleep(0.05)

@health.check("hangs", timeout=0.3)
def hangs(timeout):
    if os.path.exists(os.path.join(os.path.dirname(__file__), "hang")):
        threading.Event().wait()
"""


def project_with_checks(directory: Path, **health: object) -> Path:
    project = health_project(directory, settings_tail="\nimport projchecks\n" + settings_tail(**health))
    (project / "projchecks.py").write_text(COUNTED)
    return project


def test_concurrent_probes_run_each_check_once_per_ttl(tmp_path: Path, servers: list[Server]) -> None:
    project = project_with_checks(tmp_path, cache_ttl=5)
    server = Server.start(project)
    servers.append(server)
    statuses: list[int] = []
    barrier = threading.Barrier(200)

    def probe() -> None:
        barrier.wait()
        statuses.append(server.get()[0])

    start = time.monotonic()
    threads = [threading.Thread(target=probe) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    print(f"200 probes in {elapsed:.2f} s")
    assert elapsed < 5
    assert statuses == [200] * 200
    assert len((project / "runs.log").read_text().splitlines()) == 1


def test_a_check_hanging_forever_answers_503_within_its_timeout_without_leaking_threads(
    tmp_path: Path, servers: list[Server]
) -> None:
    project = project_with_checks(tmp_path)
    (project / "hang").touch()
    server = Server.start(project)
    servers.append(server)
    status, body, elapsed = server.get(**DETAILS)
    assert (status, body["checks"]["hangs"]["reason"]) == (503, "timed out after 0.3 s")
    assert elapsed < BOUND_HANG
    threads = server.worker_threads()
    for _ in range(30):
        status, body, elapsed = server.get(**DETAILS)
        assert status == 503
        assert elapsed < BOUND_HANG
        assert body["checks"]["hangs"]["reason"].startswith("still running since ")
        assert body["checks"]["counted"]["status"] == "ok"
    # A thread per probe would add 30; allow for a lazily started exporter or writer thread or two.
    assert server.worker_threads() <= threads + 2
