"""Time to detect, measured: each fault the alert catalog covers (processor frozen, hung or killed; Docker
host down; failure burst; queue backlog; database down) is injected into a real stack and the seconds from
the injection to the notification reaching the receiver are recorded, in one table (printed, and written
as time-to-detect.json / .md in this test's tmp dir; docs/alerting.md "Time to detect" shows a run).

The stack, all real processes on 127.0.0.1: a Django project with dcm_otel on PostgreSQL (the database can be
taken down), its web server (``runserver``) and a ``process_container_jobs --legacy-mode`` processor running
jobs on a real Docker Engine, both writing to one ``DCM_OTEL_MULTIPROCESS_DIR`` so that the web ``/metrics``
serves the processor's figures (the embedded path: no collector); a readiness probe asking ``/ready/`` as a
load balancer does; Prometheus scraping ``/metrics`` and evaluating the generator's rules; Alertmanager with
the committed config; the local receivers of test_e2e.py, whose webhook endpoint timestamps each request.

Every time setting is the production one divided by ``SCALE``: the rules' ``for`` and range windows and
duration thresholds, Alertmanager's group timings, the scrape and evaluation interval (15 s -> 1 s here), the
Docker probe interval and the health heartbeat limit. Counts (``min_jobs``, ``queue_capacity``, ratios) are
not time and stay as they are, except ``queue_capacity``, set to what a test burst can exceed. Only the
alerts of these faults are loaded (as in test_e2e.py; the CPU and memory ones would fire on a busy CI
machine). The seconds measured stand for about ``SCALE`` times as many with the production settings
(docs/alerting.md gives the formula). Each fault must be detected within ``bound()``, a deliberately loose
figure derived from those intervals: this is a measurement, not a timing test.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from dcm_otel.alerts import ALERTS
from dcm_otel.alerts.render import duration_seconds
from dcm_otel.prometheus import prepare_multiprocess_dir
from dcm_otel_devtools import IMAGE
from tests.alerts.stack import Delivery, delivery_to_local_receivers, write_prometheus_config, write_rules
from tests.alerts.tools import ALERTMANAGER_CONFIG, Daemon, binary, get_json, prometheus_daemon
from tests.project_factory import project_env, write_project
from tests.services import DockerEngine, Postgres, unavailable
from tests.services._common import free_port, wait_until

pytestmark = [
    pytest.mark.services,
    pytest.mark.timeout(600),
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

DEMO_JOBS = Path(__file__).with_name("demo_jobs.py")
HOST = "ttd-docker"
JOB = "dcm-ttd"
SCALE = 20  # production time settings / test time settings
INTERVAL = 1.0  # scrape and evaluation interval (s): 15 s in deploy/prometheus/prometheus.example.yml
POLL_INTERVAL = 1  # the processor's --poll-interval (its minimum)
MAX_JOBS = 1  # the processor's --max-jobs: at most one launch per poll, so a burst queues up
PROBE_INTERVAL = 15.0 / SCALE  # the Docker host probe, DCM_OTEL_DOCKER_PROBE_INTERVAL (default 15 s)
PROBE_TIMEOUT = 2.0  # DCM_OTEL_DOCKER_PROBE_TIMEOUT (default 5 s; not scaled below a Docker call's time)
HEARTBEAT_MAX_AGE = 120.0 / SCALE  # health heartbeat_max_age (default 120 s)
READY_PERIOD = 1.0  # the load balancer's readiness probe: GET /ready/ this often
WRITE_INTERVAL = 1.0  # each process's multiprocess snapshot (dcm_otel.prometheus)
QUEUE_CAPACITY = 5
HUNG_JOB_SECONDS = 3  # the job whose row is locked while it runs: the processor blocks harvesting it
FAILURE_BURST = 8  # jobs exiting 3, created at once (min_jobs 5 of them must finish to count)
BACKLOG_BURST = QUEUE_CAPACITY + 60  # jobs created at once; drained at most MAX_JOBS per poll
NOISE = 3.0  # bound(): this many times the ideal worst case (a loaded 2-core CI machine) ...
SLACK = 20.0  # ... plus this many seconds

PROCESSOR_STALLED = "DcmJobProcessorHeartbeatMissing"
HOST_DOWN = "DcmDockerHostDown"
FAILURE = "DcmJobFailureRatioHigh"
BACKLOG = "DcmJobQueueBacklogHigh"
HEALTH = "DcmHealthCheckFailing"
DATABASE = "DcmDatabaseUnreachable"
ENABLED = (PROCESSOR_STALLED, HOST_DOWN, FAILURE, BACKLOG, HEALTH, DATABASE)

SETTINGS_TAIL = f"""
import json, os
DATABASES = {{"default": json.loads(os.environ["TTD_DATABASE"])}}
ROOT_URLCONF = "ttd_urls"
DCM_OTEL = {{
    "health": {{"checks": ["database", "queue"], "heartbeat_max_age": {HEARTBEAT_MAX_AGE}, "cache_ttl": 0.5}},
}}
import dcm_otel; dcm_otel.init()
"""
URLS = 'from django.urls import include, path\n\nurlpatterns = [path("", include("dcm_otel.urls"))]\n'
CREATE_HOST = f"""
import os
from container_manager.models import ExecutorHost
ExecutorHost.objects.create(
    name="{HOST}", executor_type="docker", host_type="unix", connection_string=os.environ["DOCKER_HOST"],
    auto_pull_images=False, is_active=True,
)
"""
CANCEL_PENDING = """
from container_manager.models import ContainerJob
print(ContainerJob.objects.filter(status="pending").update(status="cancelled"))
"""


def scaled(duration: str) -> str:
    """A production duration divided by SCALE, in whole seconds (at least 1)."""
    return f"{max(1, round(duration_seconds(duration) / SCALE))}s"


def scaled_thresholds() -> dict[str, Any]:
    """The catalog's defaults with every ``for`` and every duration parameter (windows, thresholds such as
    ``max_age``) divided by SCALE; the alerts of the faults under test only."""
    alerts: dict[str, Any] = {}
    for rule in ALERTS:
        if rule.name not in ENABLED:
            alerts[rule.name] = {"enabled": False}
            continue
        durations = {p.name: scaled(str(p.default)) for p in rule.params if p.kind == "duration"}
        alerts[rule.name] = {"for": scaled(rule.for_), **durations}
    return {"queue_capacity": QUEUE_CAPACITY, "alerts": alerts}


def scaled_group_timings() -> dict[str, str]:
    """The committed Alertmanager route's group_wait, group_interval and repeat_interval divided by SCALE."""
    route = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())["route"]
    return {key: scaled(route[key]) for key in ("group_wait", "group_interval", "repeat_interval")}


THRESHOLDS = scaled_thresholds()
GROUP_TIMINGS = scaled_group_timings()
MIN_JOBS = next(p.default for r in ALERTS if r.name == FAILURE for p in r.params if p.name == "min_jobs")


def rule_seconds(alertname: str, key: str) -> float:
    return duration_seconds(THRESHOLDS["alerts"][alertname][key])


@dataclass(frozen=True)
class Fault:
    name: str
    alerts: tuple[str, ...]  # any of them notifying detects the fault (the first one is recorded)
    onset: float  # seconds from the injection until the alert's condition can be true (see bound())
    labels: dict[str, str]  # the notified alert must carry these too


def pipeline(wait: str) -> float:
    """Worst case from a condition becoming true to the webhook: the processor's snapshot write, a scrape,
    an evaluation to see it, `for` (added per alert), an evaluation to see `for` passed, then ``wait``:
    group_wait for a new Alertmanager group, group_interval for an alert joining a group that already
    notified (Alertmanager keeps the group of a resolved alert: the processor faults share one)."""
    return WRITE_INTERVAL + INTERVAL + INTERVAL + INTERVAL + duration_seconds(GROUP_TIMINGS[wait])


def ideal(fault: Fault, alertname: str, wait: str = "group_wait") -> float:
    """The worst case on an idle machine: onset + the alert's ``for`` + pipeline."""
    return fault.onset + rule_seconds(alertname, "for") + pipeline(wait)


def bound(fault: Fault, alertname: str, wait: str = "group_wait") -> float:
    """Seconds within which ``fault`` must notify through ``alertname``: NOISE x ideal + SLACK."""
    return NOISE * ideal(fault, alertname, wait) + SLACK


# The last poll passes the rule's max_age (at most a poll interval after the processor last polled).
HEARTBEAT_ONSET = rule_seconds(PROCESSOR_STALLED, "max_age") + POLL_INTERVAL
# Onsets: how long after the injection each condition can first hold at the source, from the settings.
FAULTS = {
    "frozen": Fault("processor frozen (SIGSTOP)", (PROCESSOR_STALLED,), HEARTBEAT_ONSET, {}),
    "hung": Fault(
        "processor hung (its job's row locked)",
        (PROCESSOR_STALLED,),
        # It blocks once the job ends and it harvests it.
        HUNG_JOB_SECONDS + POLL_INTERVAL + HEARTBEAT_ONSET,
        {},
    ),
    "killed": Fault("processor killed (SIGKILL)", (PROCESSOR_STALLED,), HEARTBEAT_ONSET, {}),
    "host_down": Fault(
        "Docker host down", (HOST_DOWN,), PROBE_INTERVAL + PROBE_TIMEOUT, {"dcm_host_name": HOST}
    ),
    "failure_burst": Fault(
        f"failure burst ({FAILURE_BURST} jobs exit 3)",
        (FAILURE,),
        # min_jobs failed jobs launched (MAX_JOBS a poll) and harvested (a poll later); 2 s a launch.
        math.ceil(MIN_JOBS / MAX_JOBS) * (POLL_INTERVAL + 2.0) + POLL_INTERVAL,
        {"dcm_host_name": HOST},
    ),
    "backlog": Fault(
        f"queue backlog ({BACKLOG_BURST} jobs at once)", (BACKLOG,), POLL_INTERVAL, {"dcm_host_name": HOST}
    ),
    "db_down": Fault("database down", (DATABASE,), READY_PERIOD + 0.5, {"dcm_health_check_name": "database"}),
}


@dataclass(frozen=True)
class Detection:
    fault: str
    alert: str
    for_: str  # the alert's scaled `for`
    wait: str  # group_wait, or group_interval when the alert's group had notified before
    ideal: float
    seconds: float  # measured: from the fault in place to the webhook request
    bound: float


class ReadinessProbe(threading.Thread):
    """GET /ready/ every READY_PERIOD, as a load balancer or Kubernetes does (bounded in count)."""

    def __init__(self, url: str) -> None:
        super().__init__(name="readiness-probe", daemon=True)
        self.url, self.stop = url, threading.Event()

    def run(self) -> None:
        for _ in range(3600):
            if self.stop.is_set():
                return
            with suppress(requests.RequestException):
                requests.get(self.url, timeout=5)
            self.stop.wait(READY_PERIOD)


@dataclass
class Stack:
    base: Path
    project: Path
    env: dict[str, str]
    engine: DockerEngine
    database: Postgres
    processor: Daemon
    prometheus: Daemon
    delivery: Delivery

    def manage(self, *args: str) -> None:
        run_checked([sys.executable, str(self.project / "manage.py"), *args], self.env)

    def create_jobs(self, count: int, command: str) -> None:
        """``count`` jobs at once on the stack's host (demo_jobs.py, a process of its own)."""
        argv = [sys.executable, str(DEMO_JOBS), "--every", "0", "--count", str(count), "--host-prefix", HOST]
        run_checked([*argv, "--command", command], self.env)

    def alerts(self) -> list[dict[str, Any]]:
        return list(get_json(f"{self.prometheus.url}/api/v1/alerts")["data"]["alerts"])

    def wait_quiet(self, names: tuple[str, ...]) -> None:
        """Until none of ``names`` is pending or firing (a fault is injected into a calm stack only), and the
        webhook's last word on each of their alerts is "resolved": one that fires again before Alertmanager
        sent its resolution (at the group's next group_interval) is to Alertmanager the same alert still
        firing, and is not notified again before repeat_interval."""

        def quiet() -> bool:
            if any(a["labels"]["alertname"] in names for a in self.alerts()):
                return False
            last: dict[tuple[tuple[str, str], ...], str] = {}
            for request in self.delivery.http.requests("/webhook"):
                for alert in request.body["alerts"]:
                    if alert["labels"]["alertname"] in names:
                        last[tuple(sorted(alert["labels"].items()))] = alert["status"]
            return all(status == "resolved" for status in last.values())

        assert wait_until(quiet, 120.0, 0.5), (self.alerts(), self.delivery.daemon.log_tail())

    def measure(self, key: str, inject: Callable[[], AbstractContextManager[object]]) -> Detection:
        """Inject the fault, wait for its first notification at the webhook, undo the fault. The clock starts
        once the fault is in place (the processor stopped, dockerd exited, the jobs created, PostgreSQL
        stopped)."""
        fault = FAULTS[key]
        self.wait_quiet(fault.alerts)
        waits = {
            name: "group_interval" if self.notified_before(name) else "group_wait" for name in fault.alerts
        }
        longest = max(bound(fault, name, waits[name]) for name in fault.alerts)
        found: list[tuple[float, str]] = []
        with inject():
            start = time.monotonic()

            def notified() -> bool:
                found.extend(self.notifications(fault, start))
                return bool(found)

            assert wait_until(notified, longest, 0.2), (
                f"{fault.name}: none of {fault.alerts} notified within {longest:.0f} s; firing: "
                f"{[(a['labels']['alertname'], a['state']) for a in self.alerts()]}\n"
                f"{self.delivery.daemon.log_tail()}\n{self.processor.log_tail()}"
            )
        at, alert = min(found)
        return Detection(
            fault.name,
            alert,
            THRESHOLDS["alerts"][alert]["for"],
            waits[alert],
            round(ideal(fault, alert, waits[alert]), 1),
            round(at - start, 1),
            round(bound(fault, alert, waits[alert]), 1),
        )

    def notified_before(self, alertname: str) -> bool:
        return any(
            alert["labels"]["alertname"] == alertname
            for request in self.delivery.http.requests("/webhook")
            for alert in request.body["alerts"]
        )

    def restart_processor(self) -> None:
        """A new processor (the old one was killed): the next fault finds one polling."""
        self.processor.spawn(env=self.env, cwd=self.project)
        wait_ready(self)

    def assert_inhibited(self, alertname: str, labels: dict[str, str], by: str) -> None:
        """``alertname`` (with ``labels``) fires in Prometheus, and Alertmanager holds it suppressed by the
        alert ``by`` and has not notified it."""
        alertmanager = f"{self.delivery.daemon.url}/api/v2/alerts"

        def firing() -> bool:
            return any(a["state"] == "firing" and carries(a, alertname, labels) for a in self.alerts())

        assert wait_until(firing, bound(FAULTS["db_down"], alertname), 0.5), self.alerts()

        def held() -> list[dict[str, Any]]:
            return [a["status"] for a in get_json(alertmanager) if carries(a, alertname, labels)]

        assert wait_until(lambda: bool(held()), 30.0, 0.5), self.delivery.daemon.log_tail()
        sources = {a["fingerprint"] for a in get_json(alertmanager, filter=f'alertname="{by}"')}
        for status in held():
            assert status["state"] == "suppressed", status
            assert status["inhibitedBy"], status
            assert set(status["inhibitedBy"]) <= sources, (status, sources)
        notified = [
            alert
            for request in self.delivery.http.requests("/webhook")
            for alert in request.body["alerts"]
            if carries(alert, alertname, labels)
        ]
        assert notified == []

    def notifications(self, fault: Fault, since: float) -> list[tuple[float, str]]:
        """(arrival, alertname) of the webhook requests since ``since`` that carry one of the fault's alerts
        firing, with the fault's labels."""
        out = []
        for request in self.delivery.http.requests("/webhook"):
            if request.received < since:
                continue
            for alert in request.body["alerts"]:
                name = alert["labels"]["alertname"]
                if (
                    alert["status"] == "firing"
                    and name in fault.alerts
                    and carries(alert, name, fault.labels)
                ):
                    out.append((request.received, name))
        return out


def carries(alert: dict[str, Any], alertname: str, labels: dict[str, str]) -> bool:
    """An alert (Prometheus's, Alertmanager's or a webhook's: each has ``labels``) of that name and labels."""
    mine = alert["labels"]
    return bool(mine["alertname"] == alertname and all(mine.get(k) == v for k, v in labels.items()))


def run_checked(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@contextmanager
def stack_of(docker_engine: DockerEngine, postgres: Postgres, base: Path) -> Iterator[Stack]:
    database = postgres.create_database("dcm_otel_ttd")
    project = write_project(
        base / "project", settings_tail=SETTINGS_TAIL, installed_apps=("container_manager",)
    )
    (project / "ttd_urls.py").write_text(URLS)
    metrics = str(base / "metrics")
    prepare_multiprocess_dir(metrics)
    web_port, prometheus_port, alertmanager_port = (free_port() for _ in range(3))
    env = project_env(
        project,
        TTD_DATABASE=json.dumps(database.django_database()),
        DOCKER_HOST=docker_engine.base_url,
        DEMO_JOB_IMAGE=IMAGE,
        DCM_OTEL_MULTIPROCESS_DIR=metrics,
        DCM_OTEL_DOCKER_PROBE_INTERVAL=str(PROBE_INTERVAL),
        DCM_OTEL_DOCKER_PROBE_TIMEOUT=str(PROBE_TIMEOUT),
    )
    manage = [sys.executable, str(project / "manage.py")]
    for args in (["migrate", "--verbosity=0"], ["shell", "-c", CREATE_HOST]):
        run_checked([*manage, *args], env)
    rules = write_rules(base / "rules", THRESHOLDS)
    write_prometheus_config(base, rules, JOB, web_port, alertmanager_port, f"{INTERVAL:g}s")

    web = Daemon(
        "web", [*manage, "runserver", f"127.0.0.1:{web_port}", "--noreload"], base / "web.log", web_port
    )
    processor = Daemon(
        "processor",
        [
            *manage,
            "process_container_jobs",
            "--legacy-mode",
            f"--poll-interval={POLL_INTERVAL}",
            f"--max-jobs={MAX_JOBS}",
        ],
        base / "processor.log",
        port=0,
    )
    probe = ReadinessProbe(f"http://127.0.0.1:{web_port}/ready/")
    started: list[tuple[Daemon, signal.Signals]] = []
    try:
        with delivery_to_local_receivers(base / "alertmanager", alertmanager_port, GROUP_TIMINGS) as delivery:
            web.start(env=env, cwd=project, timeout=120.0)
            started.append((web, signal.SIGINT))
            processor.spawn(env=env, cwd=project)
            started.append((processor, signal.SIGTERM))
            delivery.start_alertmanager()
            prometheus = prometheus_daemon(base, prometheus_port, "--rules.alert.resend-delay=1s")
            prometheus.start()
            started.append((prometheus, signal.SIGTERM))
            probe.start()
            yield Stack(base, project, env, docker_engine, database, processor, prometheus, delivery)
    finally:
        probe.stop.set()
        for daemon, stop_signal in reversed(started):
            if daemon.proc is not None:
                with suppress(ProcessLookupError):
                    daemon.proc.send_signal(signal.SIGCONT)
            daemon.stop(stop_signal, 30.0)
        postgres.drop_database(database.dbname)


@pytest.fixture
def stack(docker_engine: DockerEngine, postgres: Postgres, tmp_path: Path) -> Iterator[Stack]:
    binary("prometheus"), binary("alertmanager")  # checked now, before anything starts
    if not (docker_engine.owned and postgres.owned):
        unavailable("time to detect stops the Docker Engine and PostgreSQL: it needs the private ones")
    with stack_of(docker_engine, postgres, tmp_path) as stack:
        yield stack


def wait_ready(stack: Stack) -> None:
    """The processor polls, the host is up and the web /metrics carries both, scraped by Prometheus."""

    def present(query: str) -> bool:
        return bool(get_json(f"{stack.prometheus.url}/api/v1/query", query=query)["data"]["result"])

    for query in (
        f'time() - dcm_processor_last_poll_time_seconds{{job="{JOB}"}} < {HEARTBEAT_MAX_AGE}',
        f'dcm_host_up{{dcm_host_name="{HOST}"}} == 1',
        'dcm_health_check_status{dcm_health_check_name="database"} == 1',
    ):
        assert wait_until(lambda query=query: present(query), 120.0, 0.5), (query, stack.processor.log_tail())


def test_time_to_detect_each_fault(stack: Stack) -> None:
    wait_ready(stack)
    pid = stack.processor.proc.pid if stack.processor.proc else 0

    @contextmanager
    def frozen() -> Iterator[None]:
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    @contextmanager
    def hung() -> Iterator[None]:
        """A transaction holds the row of a running job: the processor blocks when it writes the job's end
        (as behind a stuck migration or a forgotten transaction), its other threads still run."""
        stack.create_jobs(1, f"sleep {HUNG_JOB_SECONDS}")
        with stack.database.connect() as conn:

            def locked() -> bool:
                rows = conn.execute(
                    "SELECT id FROM container_manager_containerjob WHERE status = 'running' FOR UPDATE"
                ).fetchall()
                return bool(rows)

            assert wait_until(locked, 60.0, 0.1), stack.processor.log_tail()
            yield

    @contextmanager
    def killed() -> Iterator[None]:
        """Its series leaves /metrics at once (a finished process's gauges are dropped); Prometheus still
        has its last poll time."""
        assert stack.processor.proc is not None
        stack.processor.proc.kill()
        stack.processor.proc.wait(30)
        try:
            yield
        finally:
            stack.restart_processor()

    @contextmanager
    def db_down() -> Iterator[None]:
        with stack.database.stopped():
            yield
            # The readiness check's own alert fires later (its `for` is longer) and is inhibited.
            stack.assert_inhibited(HEALTH, {"dcm_health_check_name": "database"}, by=DATABASE)

    @contextmanager
    def failure_burst() -> Iterator[None]:
        stack.create_jobs(FAILURE_BURST, "sh -c 'exit 3'")
        yield

    @contextmanager
    def backlog() -> Iterator[None]:
        stack.create_jobs(BACKLOG_BURST, "echo backlog")
        try:
            yield
        finally:
            stack.manage("shell", "-c", CANCEL_PENDING)

    detections = [
        stack.measure("frozen", frozen),
        stack.measure("hung", hung),
        stack.measure("host_down", stack.engine.stopped),
        stack.measure("failure_burst", failure_burst),
        stack.measure("backlog", backlog),
        stack.measure("killed", killed),
        # Last, so that the processor's database errors cannot touch the other faults.
        stack.measure("db_down", db_down),
    ]
    report(stack.base, detections)
    for detection in detections:
        assert detection.seconds <= detection.bound, detection


def report(base: Path, detections: list[Detection]) -> None:
    """time-to-detect.json and .md in the tmp dir, and the table on stdout (pytest -s shows it)."""
    (base / "time-to-detect.json").write_text(
        json.dumps(
            {
                "scale": SCALE,
                "interval": INTERVAL,
                "group_timings": GROUP_TIMINGS,
                "detections": [asdict(d) for d in detections],
            },
            indent=1,
        )
    )
    lines = [
        "| fault | first alert notified | its `for` | then | ideal worst case (s) | measured (s) "
        "| bound (s) |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {d.fault} | `{d.alert}` | {d.for_} | {d.wait} | {d.ideal:g} | {d.seconds:g} | {d.bound:g} |"
            for d in detections
        ),
    ]
    table = "\n".join(lines) + "\n"
    (base / "time-to-detect.md").write_text(table)
    print(f"\ntime to detect (test settings = production / {SCALE}):\n{table}")
