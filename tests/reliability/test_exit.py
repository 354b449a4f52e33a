"""(Issue 12.2) A dead or black-holed backend must not hold up the exit: the SDK's flush has no deadline
and used to keep a short process ~7 s and a gunicorn worker ~30 s (until killed) after its last request."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.project_factory import project_env, write_project
from tests.reliability._support import report, seconds_since, wrk
from tests.reliability.conftest import otlp_env
from tests.test_gunicorn import ONE_LINE, gunicorn

EXIT_BOUND_S = 15  # the promise; the default shutdown_timeout (5 s) is what is measured
TRIED = "telemetry flush at exit gave up"  # dcm_otel's warning: the flush ran and hit its deadline


@pytest.mark.parametrize("backend", ["refused", "black-holed"], indirect=True)
def test_short_process_exits_soon_after_its_last_request(tmp_path: Path, backend: tuple[str, str]) -> None:
    state, endpoint = backend
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    process = subprocess.Popen(
        [sys.executable, "requests_script.py", "/", "/boom/"],
        cwd=project,
        env=project_env(project, **otlp_env(endpoint)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines = [process.stdout.readline(), process.stdout.readline()]
    last_request = time.monotonic()
    try:
        errors = process.communicate(timeout=60)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    exit_s = seconds_since(last_request)
    report(f"exit after 2 requests, backend {state}", exit_s=exit_s)
    assert [line.split()[-1] for line in lines] == ["200", "500"]
    assert exit_s < EXIT_BOUND_S
    assert TRIED in errors, errors[-2000:]


@pytest.mark.parametrize("backend", ["refused", "black-holed"], indirect=True)
def test_gunicorn_workers_exit_soon_after_load(tmp_path: Path, backend: tuple[str, str]) -> None:
    state, endpoint = backend
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    with gunicorn(project, "-w", "2", **otlp_env(endpoint)) as (process, base):
        load = wrk(base + "/", seconds=3)
        stop = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
        exit_s = seconds_since(stop)
    report(f"gunicorn -w 2 exit after load, backend {state}", requests=load.requests, exit_s=exit_s)
    assert exit_s < EXIT_BOUND_S
    assert output.count(TRIED) == 2, "each worker tried to flush"
