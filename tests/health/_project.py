"""A test project with the health URLs wired in one line, run in subprocesses: through Django's test client
(:func:`run_script`) or as a real gunicorn server (:class:`Server`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.project_factory import project_env, write_project
from tests.services._common import free_port, wait_until

URLS_TAIL = '\nfrom django.urls import include\nurlpatterns.append(path("", include("dcm_otel.urls")))\n'
TOKEN = "t0ken-for-health-details"

# Prepended to every script: Django set up, a test client, and `probe` returning (status, body, seconds).
PRELUDE = """\
import json, sys, time
import django
django.setup()
from django.test import Client
client = Client(raise_request_exception=False)

def probe(path="/ready/", **headers):
    start = time.monotonic()
    response = client.get(path, **headers)
    elapsed = time.monotonic() - start
    body = response.content.decode()
    if response["Content-Type"].startswith("application/json"):
        body = json.loads(body)
    return response.status_code, body, elapsed
"""


def health_project(directory: Path, settings_tail: str = "", installed_apps: tuple[str, ...] = ()) -> Path:
    project = write_project(
        directory, settings_tail=settings_tail, installed_apps=("dcm_otel", *installed_apps)
    )
    with (project / "urls.py").open("a") as urls:
        urls.write(URLS_TAIL)
    return project


def run_script(project: Path, body: str, timeout: float = 60, **env: str) -> Any:
    """Run ``body`` after :data:`PRELUDE` in the project; it prints one JSON value as its last line."""
    script = project / "script.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    result = subprocess.run(
        [sys.executable, str(script)],
        env=project_env(project, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def manage(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(project / "manage.py"), *args],
        env=project_env(project, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class Server:
    """gunicorn serving the project (one worker, many threads), started and stopped by PID."""

    project: Path
    port: int
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, project: Path, **env: str) -> Server:
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "64"]
        argv += ["--backlog", "1024", "-b", f"127.0.0.1:{port}", "wsgi:application"]
        log = (project / "server.log").open("ab")
        process = subprocess.Popen(
            argv, cwd=project, env=project_env(project, **env), stdout=log, stderr=subprocess.STDOUT
        )
        server = cls(project, port, process)
        if not wait_until(lambda: server.get("/health/")[0] == 200, 30):
            server.stop()
            raise RuntimeError("gunicorn did not answer:\n" + (project / "server.log").read_text())
        return server

    def get(self, path: str = "/ready/", **headers: str) -> tuple[int, Any, float]:
        """(status, JSON body, seconds); status 0 if the server did not answer."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        except OSError:
            return 0, None, time.monotonic() - start
        return status, json.loads(body), time.monotonic() - start

    def worker_threads(self) -> int:
        """Threads of the worker process (the master's only child)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return len(os.listdir(f"/proc/{children[0]}/task"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
