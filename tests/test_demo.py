"""The demo end to end, the way the README runs it: run_demo.py migrates, creates jobs, runs the job processor
and serves the app; the jobs get processed, /metrics shows the requests by route and every job transition,
the pages link the live dashboard and the trace explorer, a job queued from the page shows its trace from
the request to the container run, and Ctrl-C (or SIGTERM) leaves no process behind, under nox too."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests

from dcm_otel_devtools import remove_dockerd_dir
from tests.services import DockerEngine, unavailable
from tests.services._common import INSTALL_HINT, free_port, is_root, port_open, wait_until
from tests.services.docker_engine import find_static_busybox
from tests.test_readme import readme_commands

ROOT = Path(__file__).resolve().parents[1]
RUN_DEMO = ROOT / "examples" / "demo" / "run_demo.py"
JOB_NAMES = {"hello", "hello-again", "fail", "sleep"}
TERMINAL = {"completed", "failed", "timeout", "cancelled"}
STARTUP_TIMEOUT = 120.0
JOBS_TIMEOUT = 90.0
TRACE_TIMEOUT = 30.0  # a queued job's trace is shown once its run ended: a poll, `echo`, a harvest
STOP_TIMEOUT = 90.0
# nox installs the project into its session virtualenv first: minutes on a first run.
NOX_STARTUP_TIMEOUT = 600.0
# The demo stops itself this long after it is up, should this test die before it sends the signal.
SAFETY_EXIT_AFTER = 240


@dataclass(frozen=True)
class Job:
    id: str
    status: str
    exit_code: int | None
    stdout: str


@dataclass
class Demo:
    proc: subprocess.Popen[bytes]
    port: int
    var_dir: Path
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def explain(self, what: str) -> str:
        return f"{what}; the demo's output:\n{self.log()[-6000:]}"

    def jobs(self) -> dict[str, Job]:
        """The jobs as the job processor left them in the demo's database (this test's own)."""
        db = self.var_dir / "db.sqlite3"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            rows = conn.execute(
                "SELECT id, name, status, exit_code, stdout_log FROM container_manager_containerjob"
            ).fetchall()
        return {
            name: Job(str(uuid.UUID(id_)), status, exit_code, stdout)
            for id_, name, status, exit_code, stdout in rows
        }

    def jobs_done(self) -> bool:
        jobs = self.jobs()
        return set(jobs) >= JOB_NAMES and all(job.status in TERMINAL for job in jobs.values())


@contextmanager
def running_demo(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, launcher: list[str] | None = None
) -> Iterator[Demo]:
    """run_demo.py (or `launcher`, which passes the options on to it) on a free port with a database of its
    own, in a process group of its own as a shell job; interrupted as Ctrl-C does at the end if still
    running."""
    port = free_port()
    var_dir = tmp_path / "var"
    log_path = tmp_path / "demo.log"
    environ = {**os.environ, "DEMO_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1", **(env or {})}
    options = ["--port", str(port), "--exit-after", str(SAFETY_EXIT_AFTER), *args]
    argv = [*(launcher or [sys.executable, str(RUN_DEMO)]), *options]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environ,
            start_new_session=True,
        )
    try:
        yield Demo(proc, port, var_dir, log_path)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_up(demo: Demo, timeout: float = STARTUP_TIMEOUT) -> None:
    up = wait_until(lambda: demo.proc.poll() is not None or "dcm_otel demo is up" in demo.log(), timeout)
    assert up, demo.explain(f"the demo was not up within {timeout:g} s")
    assert demo.proc.poll() is None, demo.explain(f"the demo exited with code {demo.proc.returncode}")


def exercise(demo: Demo) -> dict[str, Job]:
    """Wait for the app, request its pages, wait for the jobs; check /metrics; return the jobs."""
    wait_up(demo)
    home = requests.get(f"{demo.base_url}/", timeout=10)
    assert home.status_code == 200, home.text
    for name in JOB_NAMES:
        assert f">{name}</a>" in home.text
    assert links_to_telemetry(home.text), home.text
    admin_index = admin_session(demo).get(f"{demo.base_url}/admin/", timeout=10)
    assert admin_index.status_code == 200, admin_index.text
    assert links_to_telemetry(admin_index.text), admin_index.text

    processed = wait_until(demo.jobs_done, JOBS_TIMEOUT, interval=0.5)
    assert processed, demo.explain(f"jobs not processed within {JOBS_TIMEOUT:g} s: {demo.jobs()}")
    jobs = demo.jobs()
    detail = requests.get(f"{demo.base_url}/jobs/{jobs['fail'].id}/", timeout=10)
    assert detail.status_code == 200, detail.text
    assert f">{jobs['fail'].status}</td>" in detail.text

    metrics = requests.get(f"{demo.base_url}/metrics", timeout=10)
    assert metrics.status_code == 200, metrics.text
    assert "http_server_request_duration_seconds" in metrics.text
    assert requests.get(f"{demo.base_url}/health/", timeout=10).status_code == 200
    for route in ("/", "/jobs/<uuid:pk>/"):
        assert request_count(metrics.text, route) >= 1, f"no request counted for {route}:\n{metrics.text}"
    # The seed jobs are created by run_demo.py itself, with telemetry on, before the job processor starts.
    created = transition_count(metrics.text, "none", "pending")
    assert created == len(JOB_NAMES), f"{created} jobs created:\n{metrics.text}"
    return jobs


def links_to_telemetry(page: str) -> bool:
    """The page links the live jobs dashboard, the trace explorer and /metrics."""
    links = ('href="/admin/dcm-otel/"', 'href="/admin/dcm-otel/traces/"', 'href="/metrics"')
    return all(link in page for link in links)


def check_job_trace(demo: Demo, docker: bool) -> None:
    """A job queued from the jobs page: its page links its trace, which the explorer shows within seconds,
    the web server's request that queued it and the job processor's run (with its Docker calls) in one
    waterfall."""
    session = admin_session(demo)
    queued = session.post(
        f"{demo.base_url}/jobs/new/",
        data={
            "command": "echo traced",
            "name": "traced",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{demo.base_url}/"},
        timeout=10,
    )
    assert queued.status_code == 200, queued.text
    link = re.search(r'id="job-trace" href="([^"]+)"', queued.text)
    assert link, queued.text
    pages: list[requests.Response] = []

    def shown() -> bool:
        pages.append(session.get(demo.base_url + link.group(1), timeout=10))
        return "/traces/job/" not in pages[-1].url

    assert wait_until(shown, TRACE_TIMEOUT, interval=0.5), demo.explain("the job's trace was never shown")
    page = pages[-1].text
    names = re.findall(r'data-name="([^"]*)"', page)
    processes = set(re.findall(r'data-process="([^"]*)"', page))
    assert "POST /jobs/new/" in names, names
    assert "dcm.job.run" in names, names
    assert names.index("POST /jobs/new/") < names.index("dcm.job.run"), names
    assert len(processes) >= 2, processes  # the web server's and the job processor's
    if docker:
        run = names.index("dcm.job.run")
        assert any(name.startswith("docker ") for name in names[run:]), names
    listing = session.get(f"{demo.base_url}/admin/dcm-otel/traces/", timeout=10).text
    assert "dcm_otel_trace" not in listing, "the explorer's own writes must make no span"


def admin_session(demo: Demo) -> requests.Session:
    """Logged in as the demo's superuser."""
    session = requests.Session()
    login = f"{demo.base_url}/admin/login/"
    session.get(login, timeout=10).raise_for_status()
    form = {
        "username": "admin",
        "password": "admin",
        "csrfmiddlewaretoken": session.cookies["csrftoken"],
        "next": "/admin/",
    }
    session.post(login, data=form, headers={"Referer": login}, timeout=10).raise_for_status()
    return session


def request_count(exposition: str, route: str) -> float:
    """The http.server.request.duration count of `route`, summed over methods and status codes."""
    prefix, label = "http_server_request_duration_seconds_count{", f'http_route="{route}"'
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith(prefix) and label in line
    )


def transition_count(exposition: str, previous: str, status: str) -> float:
    """The dcm.job.transitions count from `previous` to `status`, summed over hosts."""
    labels = (f'dcm_job_previous_status="{previous}"', f'dcm_job_status="{status}"')
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("dcm_job_transitions_total{") and all(label in line for label in labels)
    )


def stop_and_check_gone(demo: Demo, stop_signal: signal.Signals = signal.SIGINT) -> list[str]:
    """Stop the demo; every process it started must be gone. Returns their command lines."""
    tree = psutil.Process(demo.proc.pid).children(recursive=True)
    cmdlines = [" ".join(p.cmdline()) for p in tree]
    assert any("process_container_jobs" in c for c in cmdlines), cmdlines
    assert any("runserver" in c for c in cmdlines), cmdlines
    demo.proc.send_signal(stop_signal)
    try:
        returncode = demo.proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(demo.explain(f"run_demo.py did not stop within {STOP_TIMEOUT:g} s of {stop_signal.name}"))
    assert returncode == 0, demo.explain(f"run_demo.py exited with code {returncode}")
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive, demo.explain(f"left running: {alive}")
    assert not port_open("127.0.0.1", demo.port)
    return cmdlines


def check_docker_jobs(jobs: dict[str, Job]) -> None:
    """A real engine ran the commands: exit codes and output are the containers' own."""
    assert jobs["hello"].status == "completed", jobs
    assert jobs["hello"].exit_code == 0
    assert "hello" in jobs["hello"].stdout
    assert jobs["hello-again"].status == "completed", jobs
    assert jobs["sleep"].status == "completed", jobs
    assert jobs["fail"].status == "failed", jobs
    assert jobs["fail"].exit_code == 3


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_demo_with_mock_executor(tmp_path: Path, stop_signal: signal.Signals) -> None:
    with running_demo(tmp_path, "--no-docker") as demo:
        jobs = exercise(demo)
        # The mock runs no command and draws exit codes at random: only check that every job was harvested.
        assert {job.status for job in jobs.values()} <= {"completed", "failed"}, jobs
        assert "mock executor" in demo.log()
        check_job_trace(demo, docker=False)
        stop_and_check_gone(demo, stop_signal)


def require_private_docker() -> None:
    if shutil.which("dockerd") is None:
        unavailable(f"dockerd not installed (not on PATH): {INSTALL_HINT}")
    if not is_root():
        unavailable("the demo's private dockerd needs root")
    find_static_busybox()


def private_dockerd_root(demo: Demo) -> str:
    found = re.search(r"private dockerd at unix://(\S+)/docker\.sock", demo.log())
    assert found, demo.explain("no private dockerd announced")
    return found.group(1)


@pytest.mark.services
def test_demo_with_private_dockerd(tmp_path: Path) -> None:
    require_private_docker()
    with running_demo(tmp_path, "--private-docker") as demo:
        jobs = exercise(demo)
        root = private_dockerd_root(demo)
        check_docker_jobs(jobs)
        # The engine not answering yet and the image not imported yet are what the demo expects here.
        startup = demo.log().split("dcm_otel demo is up")[0]
        assert '"level":"WARNING"' not in startup, demo.explain("a WARNING at startup")
        cmdlines = stop_and_check_gone(demo)
    assert any(c.startswith("dockerd ") for c in cmdlines), cmdlines
    leftovers = [" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])]
    assert not [c for c in leftovers if root in c], (
        "processes of the private dockerd (containerd, shims) remain"
    )
    assert not Path(root).exists()
    assert root not in Path("/proc/self/mountinfo").read_text()


@pytest.mark.services
def test_demo_with_running_engine(tmp_path: Path, docker_engine: DockerEngine) -> None:
    """The common case on a workstation: an engine already runs, so the demo starts none."""
    env = {"DOCKER_HOST": docker_engine.base_url}
    with running_demo(tmp_path, "--no-private-docker", env=env) as demo:
        jobs = exercise(demo)
        assert f"the Docker Engine at {docker_engine.base_url} answers" in demo.log()
        check_docker_jobs(jobs)
        check_job_trace(demo, docker=True)
        cmdlines = stop_and_check_gone(demo)
    assert not [c for c in cmdlines if "dockerd" in c], cmdlines


@pytest.mark.services
@pytest.mark.timeout(NOX_STARTUP_TIMEOUT + 2 * STOP_TIMEOUT)
def test_ctrl_c_through_nox_leaves_no_process_and_no_mount(tmp_path: Path) -> None:
    """The README's demo command, interrupted as a terminal does: SIGINT to nox's process group. nox kills a
    command 0.5 s after an interrupt unless told to wait, and the demo's cleanup takes longer than that
    (dockerd stops the containers still running, then unmounts)."""
    require_private_docker()
    (command,) = (c for c in readme_commands() if c.endswith(" -s demo"))
    # `python3 -m nox -s demo`, with this interpreter, which has nox (the test extra); `--` passes on.
    _, *nox = shlex.split(command.split(" && ")[-1])
    launcher = [sys.executable, *nox, "--"]
    with running_demo(tmp_path, "--private-docker", launcher=launcher) as demo:
        wait_up(demo, NOX_STARTUP_TIMEOUT)
        root = private_dockerd_root(demo)
        started = psutil.Process(demo.proc.pid).children(recursive=True)
        cmdlines = " | ".join(" ".join(p.cmdline()) for p in started)
        for program in ("run_demo.py", "dockerd ", "containerd ", "process_container_jobs", "runserver"):
            assert program in cmdlines, cmdlines
        alive = started
        try:
            os.killpg(demo.proc.pid, signal.SIGINT)
            try:
                returncode = demo.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail(demo.explain(f"nox did not stop within {STOP_TIMEOUT:g} s of SIGINT"))
            _, alive = psutil.wait_procs(started, timeout=10)
            assert not alive, demo.explain(f"left running: {alive}")
            assert returncode == 0, demo.explain(f"nox exited with code {returncode}")
            assert "stopped the private dockerd" in demo.log(), demo.explain("dockerd not stopped in order")
            mountinfo = Path("/proc/self/mountinfo").read_text()
            assert root not in mountinfo, mountinfo
            assert str(tmp_path) not in mountinfo, mountinfo
            assert not Path(root).exists()
        finally:
            for proc in alive:
                with suppress(psutil.Error):
                    proc.kill()
            psutil.wait_procs(alive, timeout=10)  # a dockerd still dying keeps its data root busy
            if Path(root).exists():
                remove_dockerd_dir(Path(root))
