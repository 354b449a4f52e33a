"""The demo, its job processor on a real Docker Engine, a scripted user and a real Prometheus scraping it all
with our recording rules (and one alert that fires quickly): what the Grafana dashboards are tested and
previewed against. One stack per session, shared by test_grafana.py and test_preview.py."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import requests

from dcm_otel.alerts import ALERTS, alert_rules, recording_rules
from dcm_otel.alerts.yamlio import dump
from tests.alerts.tools import Daemon, binary, prometheus_daemon
from tests.services import DockerEngine
from tests.services._common import free_port

ROOT = Path(__file__).resolve().parents[2]
COST_RULES = ROOT / "deploy" / "prometheus" / "rules" / "dcm-otel-cost.yml"
FIRING = "DcmJobFailureRatioHigh"
# Only the job failure alert, with windows short enough to fire within the run (its panel annotations).
THRESHOLDS = {
    "alerts": {
        **{rule.name: {"enabled": False} for rule in ALERTS},
        FIRING: {"ratio": 0.1, "window": "1m", "min_jobs": 1, "for": "0s"},
    }
}
# What the scripted user asks the demo to run, in turn: successes, a job that runs a while (so that container
# figures are sampled) and, in every other phase of PHASE_ROUNDS rounds, a failure: the failure alert fires
# and resolves in turn.
COMMANDS = ("echo hello", "sleep 4", "sh -c 'exit 3'", "echo again")
CALM_COMMANDS = ("echo hello", "sleep 4", "echo again")
PHASE_ROUNDS = 120
USER_PERIOD = 1.0  # seconds between two rounds of page views
MAX_ROUNDS = 3000  # the user stops after this many rounds even if the session goes on


@dataclass
class DemoStack:
    prometheus_url: str
    demo_url: str
    started: float = field(default_factory=time.time)


class ScriptedUser(threading.Thread):
    """Views the demo's pages, posts a job every few rounds, logs into the admin and opens its pages, asks
    /ready/ and an unknown path: HTTP, DB and N+1-prone admin traffic for the HTTP & DB dashboard."""

    def __init__(self, base: str) -> None:
        super().__init__(name="scripted-user", daemon=True)
        self.base, self.stop = base, threading.Event()

    def run(self) -> None:
        session = requests.Session()
        # The demo is local; and reading the proxy variables races with tests that change os.environ
        # meanwhile (a KeyError that ended this thread, and the traffic, mid-session).
        session.trust_env = False
        for round_ in range(MAX_ROUNDS):
            if self.stop.is_set():
                return
            # A slow answer (SQLite busy with the processor) only skips the rest of the round.
            with suppress(requests.RequestException):
                self.one_round(session, round_)
            self.stop.wait(USER_PERIOD)

    def one_round(self, session: requests.Session, round_: int) -> None:
        def get(path: str) -> None:
            session.get(f"{self.base}{path}", timeout=10)

        def post(path: str, **data: str) -> None:
            data["csrfmiddlewaretoken"] = session.cookies.get("csrftoken", "")
            session.post(f"{self.base}{path}", data=data, headers={"Referer": self.base + path}, timeout=10)

        get("/")
        if round_ % 3 == 0:
            commands = CALM_COMMANDS if round_ // PHASE_ROUNDS % 2 else COMMANDS
            post("/jobs/new/", command=commands[round_ // 3 % len(commands)], name=f"scripted-{round_}")
        get("/ready/")
        get("/no-such-page/")
        if round_ % 10 == 0 and "sessionid" not in session.cookies:
            get("/admin/login/")
            post("/admin/login/", username="admin", password="admin", next="/admin/")  # the demo's account
        if round_ % 5 == 0:
            get("/admin/container_manager/containerjob/")
            get("/admin/dcm-otel/data/")


def demo_stack(engine: DockerEngine, base: Path) -> Iterator[DemoStack]:
    rules = base / "rules"
    rules.mkdir()
    (rules / "alerts.yml").write_text(dump(alert_rules(THRESHOLDS)))
    (rules / "recording.yml").write_text(dump(recording_rules(THRESHOLDS)))
    shutil.copy(
        COST_RULES, rules / "cost.yml"
    )  # as committed: the cost panel and tests/dashboards/test_cost.py
    binary("prometheus")  # checked now, before anything starts
    demo_port, prometheus_port = free_port(), free_port()
    metrics = base / "metrics"
    metrics.mkdir(mode=0o700)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DCM_OTEL_", "DJANGO_"))},
        "DOCKER_HOST": engine.base_url,
        "DEMO_VAR_DIR": str(base / "demo"),
        "DEMO_JOB_IMAGE": engine.image,
        "DCM_OTEL_MULTIPROCESS_DIR": str(metrics),
        "DCM_OTEL_DOCKER_PROBE_INTERVAL": "2",
        "PYTHONUNBUFFERED": "1",
    }
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules / "*.yml")],
        "scrape_configs": [{"job_name": "demo", "static_configs": [{"targets": [f"127.0.0.1:{demo_port}"]}]}],
    }
    (base / "prometheus.yml").write_text(json.dumps(config))
    demo = Daemon(
        "demo",
        [
            sys.executable,
            str(ROOT / "examples" / "demo" / "run_demo.py"),
            "--port",
            str(demo_port),
            "--no-private-docker",
            "--exit-after",
            "1800",
        ],
        base / "demo.log",
        demo_port,
    )
    prometheus = prometheus_daemon(base, prometheus_port)
    user = ScriptedUser(demo.url)
    try:
        demo.start(env=env, timeout=180.0)
        prometheus.start()
        user.start()
        yield DemoStack(prometheus.url, demo.url)
    finally:
        user.stop.set()
        user.join(30)
        prometheus.stop()
        demo.stop(grace=90.0)
