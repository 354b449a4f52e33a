#!/usr/bin/env python3
"""Run the dcm_otel demo: migrate, create an executor host and a few jobs, run the job processor and serve
the app on 127.0.0.1, until Ctrl-C (or SIGTERM, or --exit-after) stops everything this script started.

    python examples/demo/run_demo.py [--port 8000] [--no-docker] [--[no-]private-docker]
                                     [--exit-after SECONDS]

Jobs run on a Docker Engine that answers (DOCKER_HOST, else /var/run/docker.sock), else on a private
dockerd this script starts (as root, with dockerd and a static busybox installed), else on
container_manager's mock executor. The job image is imported from the local busybox, so no registry is
needed; the private dockerd and the image come from dcm_otel_devtools. The SQLite database is kept in
$DEMO_VAR_DIR (default examples/demo/var).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import django
import docker
import docker.errors
import docker.utils
from django.core.management import call_command
from django.db import connections
from opentelemetry.instrumentation.utils import suppress_instrumentation

from dcm_otel.prometheus import prepare_multiprocess_dir
from dcm_otel_devtools import (
    IMAGE,
    STOP_TIMEOUT,
    DockerdError,
    dockerd_argv,
    dockerd_url,
    import_busybox_image,
    make_dockerd_dir,
    ping,
    remove_dockerd_dir,
    static_busybox,
    wait_for_dockerd,
    wait_until,
)

if TYPE_CHECKING:
    from container_manager.models import ExecutorHost

HERE = Path(__file__).resolve().parent
MANAGE = HERE / "manage.py"
# Only for an engine found running on a machine without a static busybox to build IMAGE from.
REGISTRY_IMAGE = "busybox:latest"
SYSTEM_SOCKET = "unix:///var/run/docker.sock"
JOBS = (
    ("hello", "echo hello"),
    ("hello-again", "echo hello again"),
    ("fail", "sh -c 'exit 3'"),
    ("sleep", "sleep 5"),
)
PING_TIMEOUT = 2
DOCKERD_STARTUP_TIMEOUT = 60.0
SERVER_STARTUP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Engine:
    """Where the Docker jobs run, and their image (pulled by the engine only if it could not be imported)."""

    url: str
    image: str
    auto_pull: bool
    private: bool


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8000, help="port of the web server on 127.0.0.1")
    parser.add_argument("--no-docker", action="store_true", help="use the mock executor even if Docker runs")
    parser.add_argument(
        "--private-docker",
        action=argparse.BooleanOptionalAction,
        help="start a private dockerd (default: only when no engine answers and root, dockerd and a static "
        "busybox are there); --private-docker starts one even when an engine answers",
    )
    parser.add_argument(
        "--exit-after", type=float, metavar="SECONDS", help="stop everything this long after the server is up"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM stops the demo the way Ctrl-C does, through the same cleanup. SIGINT is set too, since a
    # shell ignores it for a command started with `&`, and the children would inherit that (runserver
    # stops on SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    children = Children()
    try:
        return run(args, children)
    except KeyboardInterrupt:
        say("stopping ...")
        return 0
    finally:
        # A second Ctrl-C must not cut the cleanup short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        children.stop_all()


def run(args: argparse.Namespace, children: Children) -> int:
    if not port_free(args.port):
        raise SystemExit(f"demo: port {args.port} on 127.0.0.1 is in use; choose another with --port")
    share_metrics_dir()
    os.environ["DJANGO_SETTINGS_MODULE"] = "demo.settings"
    django.setup()
    from django.conf import settings

    say(f"migrating the SQLite database in {settings.VAR_DIR}")
    call_command("migrate", verbosity=0)
    ensure_superuser()
    # The launcher's own probes expect failures (no engine, a dockerd still starting, the image not
    # imported yet) and say what they found: they are not the application's Docker operations.
    with suppress_instrumentation():
        engine = choose_engine(args, children, settings.VAR_DIR)
    image = engine.image if engine else IMAGE
    create_jobs(configure_host(engine), image)
    connections.close_all()  # the children open their own; this process only supervises from here on

    env = {**os.environ, "DEMO_JOB_IMAGE": image, "PYTHONUNBUFFERED": "1"}
    # --legacy-mode launches *and* harvests jobs; queue mode (the default) only launches queued ones.
    processor = [sys.executable, str(MANAGE), "process_container_jobs", "--legacy-mode", "--poll-interval=1"]
    server = [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{args.port}", "--noreload"]
    children.spawn("job processor", processor, stop_signal=signal.SIGTERM, env=env)
    # SIGINT is runserver's clean exit (KeyboardInterrupt); --noreload keeps it a single process.
    web = children.spawn("web server", server, stop_signal=signal.SIGINT, env=env)
    if not wait_until(lambda: web.poll() is not None or port_open(args.port), SERVER_STARTUP_TIMEOUT, 0.2):
        raise SystemExit(f"demo: the web server did not listen on 127.0.0.1:{args.port} in time")
    if web.poll() is not None:
        raise SystemExit(f"demo: the web server exited with code {web.returncode}")

    base = f"http://127.0.0.1:{args.port}"
    stopped = "the web server and the job processor"
    if engine is not None and engine.private:
        stopped = "the web server, the job processor and the private dockerd"
    print(
        f"\ndcm_otel demo is up:\n"
        f"  jobs     {base}/\n"
        f"  admin    {base}/admin/   (user admin, password admin)\n"
        f"  metrics  {base}/metrics\n"
        f"  health   {base}/health/  {base}/ready/\n"
        f"  live     {base}/admin/dcm-otel/   (the jobs dashboard)\n"
        f"  traces   {base}/admin/dcm-otel/traces/   (the trace explorer; each job's page links its trace)\n"
        f"Ctrl-C stops {stopped}.\n",
        flush=True,
    )
    deadline = None if args.exit_after is None else time.monotonic() + args.exit_after
    while deadline is None or time.monotonic() < deadline:
        children.check()
        time.sleep(0.5)
    say(f"--exit-after {args.exit_after:g} s elapsed; stopping ...")
    return 0


def share_metrics_dir() -> None:
    """The web server's /metrics also shows the figures of the job processor (jobs, queue, hosts) and of
    this process (the seed jobs' creation): all write their snapshots to one directory, as the workers of
    one gunicorn server do. Set before django.setup() starts this process's telemetry."""
    if "DCM_OTEL_MULTIPROCESS_DIR" not in os.environ:
        var_dir = Path(os.environ.setdefault("DEMO_VAR_DIR", str(HERE / "var")))  # read by demo.settings
        metrics_dir = str(var_dir / "metrics")
        prepare_multiprocess_dir(metrics_dir)
        os.environ["DCM_OTEL_MULTIPROCESS_DIR"] = metrics_dir


def say(message: str) -> None:
    """Flushed at once, so that it keeps its place among the children's output on the same terminal."""
    print(f"demo: {message}", flush=True)


def ensure_superuser() -> None:
    from django.contrib.auth.models import User

    if not User.objects.filter(username="admin").exists():
        User.objects.create_superuser("admin", "admin@example.com", "admin")
        say("created the superuser admin, password admin (a local demo account)")


def choose_engine(args: argparse.Namespace, children: Children, var_dir: Path) -> Engine | None:
    """A running engine, else a private one, else None for the mock executor (see the module docstring)."""
    if args.no_docker:
        say("--no-docker: jobs run on container_manager's mock executor")
        return None
    if args.private_docker is not True:
        for url, client_kwargs in running_engine_candidates():
            if ping(url, client_kwargs, timeout=PING_TIMEOUT):
                say(f"the Docker Engine at {url} answers; jobs run there")
                return prepare_engine(url, client_kwargs, private=False)
    missing = private_docker_missing()
    if args.private_docker is True and missing:
        raise SystemExit(f"demo: --private-docker: cannot start a private dockerd: {missing}")
    if args.private_docker is False or missing:
        say(
            f"no Docker Engine answers and no private dockerd ({missing or '--no-private-docker'}): jobs run "
            "on container_manager's mock executor, which runs no command and picks random exit codes"
        )
        return None
    return prepare_engine(start_private_dockerd(children, var_dir), {}, private=True)


def running_engine_candidates() -> list[tuple[str, dict[str, Any]]]:
    """DOCKER_HOST (with its TLS settings), then the system socket."""
    kwargs: dict[str, Any] = dict(docker.utils.kwargs_from_env())
    url = kwargs.pop("base_url", None)
    candidates = [(url, kwargs)] if url else []
    if url != SYSTEM_SOCKET:
        candidates.append((SYSTEM_SOCKET, {}))
    return candidates


def private_docker_missing() -> str:
    """Why a private dockerd cannot be started here, or "" when it can."""
    if shutil.which("dockerd") is None:
        return "dockerd is not installed"
    if os.geteuid() != 0:
        return "dockerd needs root"
    if static_busybox() is None:
        return "no static busybox (Debian: busybox-static) to build the job image from"
    return ""


def start_private_dockerd(children: Children, var_dir: Path) -> str:
    """Start dockerd in a short dir under /tmp (a unix socket path must fit in ~107 bytes)."""
    root = make_dockerd_dir(prefix="dcm-demo-")
    children.at_stop(remove_dockerd_dir, root)  # registered first: runs after dockerd stops
    url = dockerd_url(root)
    log_path = var_dir / "dockerd.log"
    with log_path.open("wb") as log:
        proc = children.spawn(
            "private dockerd", dockerd_argv(root), stop_signal=signal.SIGTERM, stdout=log, grace=STOP_TIMEOUT
        )
    say(f"private dockerd at {url}, log in {log_path}")
    try:
        wait_for_dockerd(proc, url, DOCKERD_STARTUP_TIMEOUT)
    except DockerdError as error:
        why = "did not answer in time" if error.returncode is None else f"exited with code {error.returncode}"
        raise SystemExit(f"demo: the private dockerd {why}; see {log_path}") from None
    return url


def prepare_engine(url: str, client_kwargs: dict[str, Any], *, private: bool) -> Engine:
    """Make sure the job image is there: import it from the local busybox, else let the engine pull one."""
    client = docker.DockerClient(base_url=url, version="auto", timeout=60, **client_kwargs)
    try:
        with suppress(docker.errors.ImageNotFound):
            client.images.get(IMAGE)
            return Engine(url, IMAGE, auto_pull=False, private=private)
        busybox = static_busybox()
        if busybox is None:
            say(f"no static busybox to build {IMAGE} from: jobs use {REGISTRY_IMAGE}, pulled by the engine")
            return Engine(url, REGISTRY_IMAGE, auto_pull=True, private=private)
        import_busybox_image(client, busybox, IMAGE)
        say(f"imported the job image {IMAGE} from {busybox}")
        return Engine(url, IMAGE, auto_pull=False, private=private)
    finally:
        client.close()


def configure_host(engine: Engine | None) -> ExecutorHost:
    """The demo's one active ExecutorHost, pointed at this run's engine (a private one moves every run)."""
    from container_manager.models import ContainerJob, ExecutorHost

    if engine is None:
        # "mock" is not among the model's executor_type choices, but the executor factory accepts it.
        name = "demo-mock"
        fields: dict[str, Any] = {
            "executor_type": "mock",
            "host_type": "unix",
            "connection_string": "mock://",
        }
    else:
        name = "demo-docker"
        fields = {
            "executor_type": "docker",
            "host_type": "unix" if engine.url.startswith("unix://") else "tcp",
            "connection_string": engine.url,
            "auto_pull_images": engine.auto_pull,
        }
    # The processor serves every active host; the demo's other host points at an engine that is gone,
    # and the jobs an earlier run left pending there would never start.
    others = ExecutorHost.objects.filter(name__startswith="demo-").exclude(name=name)
    others.update(is_active=False)
    ContainerJob.objects.filter(docker_host__in=others, status="pending").update(status="cancelled")
    host, _ = ExecutorHost.objects.update_or_create(
        name=name, defaults={**fields, "is_active": True, "max_concurrent_jobs": 5}
    )
    say(f"executor host {host.name}: {host.executor_type} {host.connection_string}")
    return host


def create_jobs(host: ExecutorHost, image: str) -> None:
    from container_manager.models import ContainerJob

    for name, command in JOBS:
        ContainerJob.objects.create_job(
            image=image, command=command, name=name, docker_host=host, timeout_seconds=120
        )
    say(f"created the jobs {', '.join(name for name, _ in JOBS)} ({image})")


class Children:
    """The processes this script started: watched while the demo runs, stopped in reverse order at the end
    (server, processor, then dockerd, which the jobs need until the processor is gone)."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(
        self,
        name: str,
        argv: list[str],
        *,
        stop_signal: signal.Signals,
        env: dict[str, str] | None = None,
        stdout: IO[bytes] | None = None,
        grace: float = 15.0,
    ) -> subprocess.Popen[bytes]:
        """Start a child in a session of its own, so that Ctrl-C reaches this script alone, which then
        stops the children in order; its stop is registered at once."""
        proc = subprocess.Popen(
            argv,
            cwd=HERE,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout is not None else None,
            start_new_session=True,
        )
        self._stack.callback(stop, name, proc, stop_signal, grace)
        self._procs[name] = proc
        say(f"started the {name} (pid {proc.pid})")
        return proc

    def at_stop(self, callback: Callable[..., object], *args: object) -> None:
        self._stack.callback(callback, *args)

    def check(self) -> None:
        """The demo is broken once any child has gone: say which, and stop the rest."""
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                raise SystemExit(f"demo: the {name} exited with code {proc.returncode}; stopping")

    def stop_all(self) -> None:
        self._stack.close()


def stop(name: str, proc: subprocess.Popen[bytes], stop_signal: signal.Signals, grace: float) -> None:
    """Ask the child to stop; after `grace` seconds kill its process group: the child and what it spawned
    in that group, since the child has a session of its own (dockerd's containerd dies with dockerd)."""
    if proc.poll() is None:
        proc.send_signal(stop_signal)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            say(f"the {name} did not stop within {grace:g} s; killing it")
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    say(f"stopped the {name} (pid {proc.pid})")


def port_free(port: int) -> bool:
    """Checked before anything starts, since runserver only says so once the rest is up."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as runserver binds
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
