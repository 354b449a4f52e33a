"""(Issue 22.3) Many processors, many hosts, every process real and on 127.0.0.1: two "nodes", each a web
process serving /metrics (gunicorn) and a `process_container_jobs --host` for its own Docker Engine (two
private dockerd), sharing one PostgreSQL database; one Prometheus scrapes both nodes every second and
evaluates the generated rules (short windows).

- Every job figure in Prometheus (dcm_job_* per host and in total, summed over the nodes) equals the
  database (ContainerJob rows by host and status).
- The queue gauges, which both processors observe for every host (two series per host), are counted once
  by the recording rule and the dashboards' queries, and equal the database.
- A processor killed with SIGKILL mid-job is seen by DcmJobProcessorHeartbeatMissing, for its host only.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcm_otel.alerts import ALERTS, alert_rules, recording_rules
from dcm_otel.alerts.yamlio import dump
from tests.alerts.tools import DEPLOY, Daemon, binary, firing_alerts, get_json, prometheus_daemon, run
from tests.project_factory import project_env, write_project
from tests.services import IMAGE, DockerEngine
from tests.services._common import free_port, wait_until
from tests.services.docker_engine import find_static_busybox, start_private, with_image
from tests.services.postgres import Postgres
from tests.test_gunicorn import gunicorn

pytestmark = [pytest.mark.services, pytest.mark.timeout(420)]

SCRIPT = Path(__file__).with_name("fleet_jobs.py")
HOSTS = ("host-a", "host-b")  # each served by the processor of its node
IDLE = ("idle-1", "idle-2")  # served by no processor: their jobs wait (3 and 2), both processors report them
HEARTBEAT = "DcmJobProcessorHeartbeatMissing"
THRESHOLDS: dict[str, Any] = {
    "alerts": {
        **{rule.name: {"enabled": False} for rule in ALERTS},
        HEARTBEAT: {"max_age": "5s", "forget_after": "2m", "for": "2s"},
    }
}
TERMINAL = ("completed", "failed", "timeout", "cancelled")
RESULTS = {"completed": "success", "failed": "failure", "timeout": "timeout", "cancelled": "cancelled"}
JOBS_TIMEOUT = 180.0
ARRIVAL_TIMEOUT = 60.0  # the processes write their figures every second, Prometheus scrapes every second
FIRE_TIMEOUT = 90.0


@dataclass
class Fleet:
    project: Path
    database: Postgres
    prometheus: Daemon
    processors: dict[str, Daemon]  # by the host each serves
    env: dict[str, str]

    def script(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(self.project / SCRIPT.name), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.strip()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.database.connect() as conn:
            return list(conn.execute(sql).fetchall())

    def jobs(self) -> Counter[tuple[str, str]]:
        """(host, status) -> ContainerJob rows."""
        return Counter({
            (host, status): n
            for host, status, n in self.rows(
                "SELECT h.name, j.status, count(*) FROM container_manager_containerjob j"
                " JOIN container_manager_executorhost h ON h.id = j.docker_host_id GROUP BY h.name, j.status"
            )
        })  # fmt: skip

    def started(self) -> Counter[tuple[str, str]]:
        """(host, result) -> jobs that started and finished: what dcm.job.duration records (and, with no job
        left running, dcm.job.queue.wait_time: one per start)."""
        return Counter({
            (host, RESULTS[status]): n
            for host, status, n in self.rows(
                "SELECT h.name, j.status, count(*) FROM container_manager_containerjob j"
                " JOIN container_manager_executorhost h ON h.id = j.docker_host_id"
                " WHERE j.started_at IS NOT NULL AND j.completed_at IS NOT NULL GROUP BY h.name, j.status"
            )
        })  # fmt: skip

    def query(self, promql: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = get_json(f"{self.prometheus.url}/api/v1/query", query=promql)["data"][
            "result"
        ]
        return result

    def by(self, promql: str, *labels: str) -> Counter[tuple[str, ...]]:
        return Counter({
            tuple(r["metric"].get(label, "") for label in labels): round(float(r["value"][1]))
            for r in self.query(promql)
        })  # fmt: skip


def settings_tail(database: Postgres) -> str:
    return f"\nDATABASES = {{'default': {database.django_database()!r}}}\nimport dcm_otel; dcm_otel.init()\n"


def prometheus_config(base: Path, targets: list[str]) -> Path:
    rules = base / "rules"
    rules.mkdir()
    (rules / "alerts.yml").write_text(dump(alert_rules(THRESHOLDS)))
    (rules / "recording.yml").write_text(dump(recording_rules(THRESHOLDS)))
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules / "*.yml")],
        "scrape_configs": [{"job_name": "dcm", "static_configs": [{"targets": targets}]}],
    }
    path = base / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    checked = run([binary("promtool"), "check", "config", str(path)])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return path


@pytest.fixture(scope="module")
def second_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """A second private dockerd (root), whatever the first is."""
    find_static_busybox()
    with with_image(start_private(tmp_path_factory.mktemp("dockerd-b"))) as engine:
        yield engine


@pytest.fixture(scope="module")
def fleet(
    docker_engine: DockerEngine,
    second_engine: DockerEngine,
    postgres: Postgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    binary("prometheus"), binary("promtool")  # checked now, before anything starts
    base = tmp_path_factory.mktemp("fleet")
    database = postgres.create_database("dcm_otel_fleet")
    project = write_project(base / "app", settings_tail(database), installed_apps=("container_manager",))
    shutil.copy(SCRIPT, project / SCRIPT.name)
    engines = dict(zip(HOSTS, (docker_engine, second_engine), strict=True))
    env = project_env(project)
    fleet_env = {**env, "DCM_OTEL_DOCKER_PROBE_INTERVAL": "1"}
    pairs = [f"{host}={engine.base_url}" for host, engine in engines.items()]
    fleet = Fleet(project, database, prometheus_daemon(base, free_port()), {}, fleet_env)
    idle = [f"{host}={engine.base_url}" for host, engine in zip(IDLE, engines.values(), strict=True)]
    fleet.script("setup", IMAGE, *pairs, *idle)
    with started_nodes(project, base, engines, fleet_env) as (processors, targets):
        fleet.processors = processors
        prometheus_config(base, targets)
        fleet.prometheus.start()
        try:
            yield fleet
        finally:
            fleet.prometheus.stop()
    postgres.drop_database("dcm_otel_fleet")


@contextmanager
def started_nodes(
    project: Path, base: Path, engines: dict[str, DockerEngine], env: dict[str, str]
) -> Iterator[tuple[dict[str, Daemon], list[str]]]:
    """Per host: a multiprocess metrics dir, gunicorn serving its /metrics and a processor for the host."""
    processors, targets = {}, []
    with ExitStack() as stack:
        for host in engines:
            metrics_dir = base / f"metrics-{host}"
            metrics_dir.mkdir(mode=0o700)
            node_env = {**env, "DCM_OTEL_MULTIPROCESS_DIR": str(metrics_dir)}
            _, url = stack.enter_context(gunicorn(project, "-w", "1", **node_env))
            targets.append(url.removeprefix("http://"))
            processor = Daemon(
                f"processor {host}",
                [
                    sys.executable,
                    str(project / "manage.py"),
                    "process_container_jobs",
                    "--legacy-mode",
                    "--poll-interval=1",
                    f"--host={host}",
                ],
                base / f"processor-{host}.log",
                port=0,
            )
            processor.spawn(env=node_env, cwd=project)
            stack.callback(processor.stop)
            processors[host] = processor
        yield processors, targets


def test_every_job_figure_equals_the_database_per_host_and_in_total(fleet: Fleet) -> None:
    def finished() -> bool:
        jobs = fleet.jobs()
        return all(
            sum(n for (host, status), n in jobs.items() if host == name and status not in TERMINAL) == 0
            for name in HOSTS
        )

    assert wait_until(finished, JOBS_TIMEOUT, 1.0), (
        fleet.jobs(),
        {host: processor.log_tail() for host, processor in fleet.processors.items()},
    )
    jobs = fleet.jobs()
    assert {host for host, _ in jobs} == {*HOSTS, *IDLE}
    assert all(jobs[host, "completed"] and jobs[host, "failed"] for host in HOSTS), jobs
    finals = 'dcm_job_transitions_total{dcm_job_status=~"completed|failed|timeout|cancelled"}'
    truth = {
        "transitions": Counter({k: n for k, n in jobs.items() if k[1] in TERMINAL}),
        "durations": fleet.started(),
        "waits": Counter(
            {(host,): sum(fleet.started()[host, r] for r in RESULTS.values()) for host in HOSTS}
        ),
    }
    queries = {
        "transitions": (
            f"sum by (dcm_host_name, dcm_job_status) ({finals})",
            "dcm_host_name",
            "dcm_job_status",
        ),
        "durations": (
            "sum by (dcm_host_name, dcm_job_result) (dcm_job_duration_seconds_count)",
            "dcm_host_name",
            "dcm_job_result",
        ),
        "waits": ("sum by (dcm_host_name) (dcm_job_queue_wait_time_seconds_count)", "dcm_host_name"),
    }
    seen: dict[str, Counter[tuple[str, ...]]] = {}

    def arrived() -> bool:
        seen.update({name: fleet.by(*query) for name, query in queries.items()})
        return all(seen[name] == truth[name] for name in queries)

    assert wait_until(arrived, ARRIVAL_TIMEOUT, 1.0), json.dumps(
        {name: [sorted(seen.get(name, {}).items()), sorted(truth[name].items())] for name in queries},
        default=str,
    )
    in_total = fleet.by(f"sum({finals})")[()]
    assert in_total == sum(truth["transitions"].values()) == 2 * (4 + 2)
    # each node's web process reports only what its own processor did
    per_node = fleet.by(f"sum by (instance, dcm_host_name) ({finals})", "instance", "dcm_host_name")
    assert len(per_node) == len(HOSTS), per_node
    assert len({instance for instance, _ in per_node}) == len(HOSTS), per_node


def test_queue_gauges_reported_by_both_processors_are_counted_once(fleet: Fleet) -> None:
    jobs = fleet.jobs()
    waiting = {host: jobs[host, "pending"] for host in IDLE}
    assert waiting == {"idle-1": 3, "idle-2": 2}
    dashboards = dashboard_queries()
    hosts_up, hosts = dashboards["Hosts up"]
    expected = {
        # both processors report every host's queue and probe every host: two series each
        "pending series per host": {(host,): 2 for host in (*HOSTS, *IDLE)},
        "dcm_host_up series": 8,
        # counted once by the recording rule and the dashboards, as in the database
        "recorded waiting jobs": {(host,): waiting.get(host, 0) for host in (*HOSTS, *IDLE)},
        "dashboard pending": sum(waiting.values()),
        "dashboard hosts up, hosts": (4, 4),
    }

    def observed() -> dict[str, object]:
        return {
            "pending series per host": dict(
                fleet.by(
                    'count by (dcm_host_name) (dcm_queue_depth{dcm_job_status="pending"})', "dcm_host_name"
                )
            ),
            "dcm_host_up series": fleet.by("count(dcm_host_up)")[()],
            "recorded waiting jobs": dict(fleet.by("dcm_host:queue_waiting_jobs:sum", "dcm_host_name")),
            "dashboard pending": fleet.by(dashboards["Queue depth by status"], "dcm_job_status")[
                ("pending",)
            ],
            "dashboard hosts up, hosts": (fleet.by(hosts_up)[()], fleet.by(hosts)[()]),
        }

    wait_until(lambda: observed() == expected, ARRIVAL_TIMEOUT, 1.0)
    assert observed() == expected


def test_a_processor_killed_mid_job_fires_the_heartbeat_alert_for_its_host(fleet: Fleet) -> None:
    victim, survivor = HOSTS
    slow = fleet.script("slow", IMAGE, victim)
    running = wait_until(
        lambda: (
            fleet.rows(f"SELECT status FROM container_manager_containerjob WHERE id = '{slow}'")
            == [("running",)]
        ),
        JOBS_TIMEOUT,
        0.5,
    )
    assert running, fleet.processors[victim].log_tail()
    assert HEARTBEAT not in firing_alerts(fleet.prometheus.url)
    fleet.processors[victim].stop(signal.SIGKILL, 10)
    alerts: list[dict[str, Any]] = []

    def fired() -> bool:
        found = get_json(f"{fleet.prometheus.url}/api/v1/alerts")["data"]["alerts"]
        alerts[:] = [a for a in found if a["labels"]["alertname"] == HEARTBEAT and a["state"] == "firing"]
        return bool(alerts)

    assert wait_until(fired, FIRE_TIMEOUT, 1.0), fleet.query("dcm_processor_last_poll_time_seconds")
    assert [a["labels"].get("dcm_host_name") for a in alerts] == [victim], alerts
    assert alerts[0]["annotations"]["summary"] == f"The job processor of host {victim} stopped polling"
    # the job it was running is still `running` in the database: nobody harvests it
    assert fleet.rows(f"SELECT status FROM container_manager_containerjob WHERE id = '{slow}'") == [
        ("running",)
    ]
    survivor_heartbeat = fleet.by(
        f'dcm_processor_last_poll_time_seconds{{dcm_host_name="{survivor}"}}', "dcm_host_name"
    )
    assert list(survivor_heartbeat) == [(survivor,)], survivor_heartbeat


def dashboard_queries() -> dict[str, Any]:
    """The committed dashboards' queries by panel title ($job: every job), several targets as a list."""
    found: dict[str, Any] = {}
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            exprs = [t["expr"].replace("$job", ".+") for t in panel.get("targets", [])]
            if exprs:
                found[panel["title"]] = exprs[0] if len(exprs) == 1 else exprs
    return found
