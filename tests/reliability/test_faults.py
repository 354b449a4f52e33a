"""(Issue 12.5) A Docker Engine that hangs (SIGSTOP) or goes away mid-job, and a PostgreSQL connection
terminated mid-request: the app sees exactly what it sees without dcm_otel (same job status, same results
and exceptions, same HTTP statuses), so nothing of ours raises into it; and the instrumented run did record
the fault. Real private dockerd and PostgreSQL (tests/services)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.otlp_receiver import OtlpReceiver
from tests.project_factory import project_env, write_project
from tests.reliability._support import report
from tests.services import DockerEngine, Postgres, unavailable
from tests.test_gunicorn import ONE_LINE, receiver

__all__ = ["receiver"]  # the fixture

HERE = Path(__file__).resolve().parent / "faults_project"
DOCKER_TIMEOUT_S = 3  # container_manager's client timeout: a hung engine costs each call this much
INSTRUMENTATION = {"off": "", "on": ONE_LINE}


def fault_project(directory: Path, instrumentation: str, tail: str, apps: tuple[str, ...] = ()) -> Path:
    project = write_project(
        directory, settings_tail=tail + INSTRUMENTATION[instrumentation], installed_apps=apps
    )
    for name in ("urls_faults.py", "db_fault.py", "docker_fault.py"):
        shutil.copy(HERE / name, project / name)
    return project


def last_json(output: str) -> Any:
    return json.loads(output.strip().splitlines()[-1])


# ---- PostgreSQL: the backend of a running query is terminated


def db_run(tmp_path: Path, postgres: Postgres, instrumentation: str, receiver: OtlpReceiver) -> Any:
    tail = f'\nROOT_URLCONF = "urls_faults"\nDATABASES = {{"default": {postgres.django_database()!r}}}\n'
    project = fault_project(tmp_path / instrumentation, instrumentation, tail)
    done = subprocess.run(
        [sys.executable, "db_fault.py", postgres.dsn],
        cwd=project,
        env=project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return last_json(done.stdout)


@pytest.mark.services
def test_db_connection_dropped_mid_request(
    tmp_path: Path, postgres: Postgres, receiver: OtlpReceiver
) -> None:
    seen = {mode: db_run(tmp_path, postgres, mode, receiver) for mode in INSTRUMENTATION}
    report("PostgreSQL backend terminated mid-request", **{mode: seen[mode] for mode in seen})
    assert seen["on"] == seen["off"]
    statuses = [status for _, status, _ in seen["on"]["responses"]]
    assert statuses == [200, 500, 200], "caught, let out, and the next request reconnects"
    assert seen["on"]["responses"][0][2] == "django.db.utils.OperationalError"
    assert seen["on"]["raised"] == ["OperationalError"]
    failed_queries = [
        s
        for s in receiver.spans()
        if "pg_sleep" in str(s.attributes.get("db.query.text", "")) and s.status_code == 2
    ]
    assert len(failed_queries) == 2, "the instrumented run recorded both failed queries"


# ---- Docker Engine: hung or gone between a job's launch and its harvest


@contextmanager
def hung(engine: DockerEngine) -> Iterator[None]:
    """dockerd stopped by SIGSTOP (it accepts connections and never answers), resumed after the block."""
    assert engine.pid is not None
    os.kill(engine.pid, signal.SIGSTOP)  # the private dockerd this session started
    try:
        yield
    finally:
        os.kill(engine.pid, signal.SIGCONT)


FAULTS: dict[str, Callable[[DockerEngine], AbstractContextManager[None]]] = {
    "hung": hung,
    "gone": DockerEngine.stopped,
}


def docker_run(tmp_path: Path, engine: DockerEngine, fault: str, instrumentation: str, endpoint: str) -> Any:
    tail = f'\nCONTAINER_MANAGER = {{"DOCKER_TIMEOUT": {DOCKER_TIMEOUT_S}}}\n'
    project = fault_project(
        tmp_path / f"{fault}-{instrumentation}", instrumentation, tail, ("container_manager",)
    )
    process = subprocess.Popen(
        [sys.executable, "docker_fault.py", engine.base_url, engine.image],
        cwd=project,
        env=project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        assert process.stdout.readline().strip() == "launched"
        with FAULTS[fault](engine):
            process.stdin.write("go\n")
            process.stdin.flush()
            out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err[-3000:]
    return last_json(out)


@pytest.mark.services
@pytest.mark.parametrize("fault", list(FAULTS))
def test_docker_engine_fault_mid_job(
    tmp_path: Path, docker_engine: DockerEngine, receiver: OtlpReceiver, fault: str
) -> None:
    if not docker_engine.owned:
        unavailable(
            "the Docker Engine at DOCKER_HOST is not ours to stop: unset DOCKER_HOST to start a private one"
        )
    seen = {
        mode: docker_run(tmp_path, docker_engine, fault, mode, receiver.endpoint) for mode in INSTRUMENTATION
    }
    report(f"Docker Engine {fault} mid-job", **seen)
    assert seen["on"] == seen["off"]
    assert seen["on"]["launched"] is True
    assert seen["on"]["status"] == "failed", "check_status could not reach the engine"
    assert not str(seen["on"]["harvested"]).startswith("raised"), "container_manager handles it itself"
    docker_errors = [s for s in receiver.spans() if s.name.startswith("docker ") and s.status_code == 2]
    assert docker_errors, "the instrumented run recorded the failed Docker calls"
