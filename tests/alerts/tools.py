"""Paths of the deployment assets, the Prometheus / Alertmanager binaries (skip-or-fail when missing) and
small helpers to run them and their HTTP APIs."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.services._common import INSTALL_HINT, log_tail, port_open, unavailable, wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES_DIR = DEPLOY / "prometheus" / "rules"
RULE_TESTS_DIR = DEPLOY / "prometheus" / "tests"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
TEMPLATES_DIR = DEPLOY / "alertmanager" / "templates"
STARTUP_TIMEOUT = 60.0

# Debian names Alertmanager's binary prometheus-alertmanager; upstream tarballs call it alertmanager.
BINARIES = {
    "promtool": ("promtool",),
    "amtool": ("amtool",),
    "prometheus": ("prometheus",),
    "alertmanager": ("prometheus-alertmanager", "alertmanager"),
}
PACKAGES = {"promtool": "prometheus", "prometheus": "prometheus"}


def binary(name: str) -> str:
    for candidate in BINARIES[name]:
        found = shutil.which(candidate)
        if found:
            return found
    package = PACKAGES.get(name, "prometheus-alertmanager")
    unavailable(f"{name} not installed (Debian package {package}): {INSTALL_HINT}")


def run(argv: Sequence[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class Daemon:
    """A process this test started (in a session of its own), stopped by its PID with bounded waits."""

    name: str
    argv: list[str]
    log_path: Path
    port: int
    ready_path: str | None = None  # an HTTP path answering 200 once the daemon serves (after the port opens)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(
        self, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = STARTUP_TIMEOUT
    ) -> None:
        """Spawn, then return once the port accepts connections (stopped and raised if it never does)."""
        self.spawn(env, cwd)
        up = wait_until(lambda: self.exited() or self.ready(), timeout, 0.1)
        if not up or self.exited():
            self.stop()
            raise RuntimeError(f"{self.name} did not start on 127.0.0.1:{self.port}:\n{self.log_tail()}")

    def spawn(self, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )

    def ready(self) -> bool:
        if not port_open("127.0.0.1", self.port):
            return False
        if self.ready_path is None:
            return True
        try:
            return requests.get(f"{self.url}{self.ready_path}", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def stop(self, stop_signal: signal.Signals = signal.SIGTERM, grace: float = 30.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(stop_signal)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                proc.kill()
            proc.wait(10)

    def log_tail(self) -> str:
        return log_tail(self.log_path, 40)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def prometheus_daemon(base: Path, port: int, *flags: str) -> Daemon:
    """A private Prometheus on 127.0.0.1:``port`` with ``base``/prometheus.yml and its data under ``base``."""
    return Daemon(
        "prometheus",
        [
            binary("prometheus"),
            f"--config.file={base / 'prometheus.yml'}",
            f"--storage.tsdb.path={base / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            *flags,
        ],
        base / "prometheus.log",
        port,
        ready_path="/-/ready",
    )


def get_json(url: str, **params: str) -> Any:
    response = requests.get(url, params=params, timeout=5)
    response.raise_for_status()
    return response.json()


def firing_alerts(prometheus_url: str) -> dict[str, dict[str, Any]]:
    """Prometheus's firing alerts by name (the last of a name wins; the e2e rules give one series each)."""
    alerts = get_json(f"{prometheus_url}/api/v1/alerts")["data"]["alerts"]
    return {a["labels"]["alertname"]: a for a in alerts if a["state"] == "firing"}


def series_names(expr: str) -> set[str]:
    """Names of the series a PromQL expression reads, dcm_otel's and recorded ones (label lists, matchers and
    ranges removed first; functions and keywords are not in our namespaces)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {w for w in words if re.match(r"(?:dcm|http|db|docker|system|container)_", w)}
