"""(Issue 22.2) Gateway failover, every process real: two apps (gunicorn, the one-line init, OTLP/HTTP) -> an
agent collector (base + agent.yaml: the load_balancing exporter, DNS resolver) -> two gateway collectors
(base + prometheus + jaeger) -> Prometheus (remote write) and Jaeger v2. One gateway is killed (SIGKILL, by
PID) mid-load, or stopped (SIGTERM, as a rolling upgrade does), and its address leaves the name the agent
resolves, as a Kubernetes headless Service drops a pod that is gone.

On one machine the name is resolved from a hosts file of the agent's own (a private mount namespace binds it
over /etc/hosts for the agent alone); the gateways listen on 127.0.0.2 and 127.0.0.3, one port.

What the design guarantees, asserted exactly: every request counted in Prometheus (cumulative counters: the
next export after the failover carries the totals), and the agent drops nothing (its queue and retries are
the load balancer's: a batch the dead gateway did not take is routed again). What it does not: the spans the
killed gateway had accepted but not yet exported to Jaeger are lost; that loss is measured against the
gateway's own figures (otelcol_receiver_accepted_spans - otelcol_exporter_sent_spans when last read) and
must stay within them. docs/scaling.md has the figures of a run.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import pytest

from tests.project_factory import write_project
from tests.reliability._support import report
from tests.services._common import free_port, is_root, unavailable, wait_until
from tests.test_gunicorn import ONE_LINE, gunicorn

from .backends import Jaeger, Prometheus
from .configs import Collector

SERVICES = ("failover-a", "failover-b")
REQUESTS = 600  # per service
RATE = 30.0  # requests per second and service: the load lasts about 20 s
CLIENTS = 4  # per service
KILL_AFTER = 100  # spans a gateway has taken before it dies (the SDKs export every 500 ms)
ROUTE = "/jobs/<uuid:pk>/"
OPERATION = f"GET {ROUTE}"
GATEWAYS = ("127.0.0.2", "127.0.0.3")
NAME = "dcm-gateways"  # what the agent resolves
LOAD_TIMEOUT = 240.0
ARRIVAL_TIMEOUT = 120.0
ACCEPTED = "otelcol_receiver_accepted_spans_total"
SENT = "otelcol_exporter_sent_spans_total"


def count(service: str) -> str:
    return f'sum(http_server_request_duration_seconds_count{{job="{service}", http_route="{ROUTE}"}})'


def write_hosts(path: Path, addresses: tuple[str, ...]) -> None:
    """Rewritten in place: the bind mount shows the agent this same inode."""
    with path.open("r+" if path.exists() else "w") as hosts:
        hosts.truncate(0)
        hosts.write("127.0.0.1 localhost\n" + "".join(f"{address} {NAME}\n" for address in addresses))


def private_hosts(hosts: Path) -> list[str]:
    """argv prefix: run the command in a mount namespace of its own where `hosts` is /etc/hosts."""
    unshare = shutil.which("unshare")
    if unshare is None or not is_root():
        unavailable(
            "the failover test resolves the gateways from a private /etc/hosts: needs root and unshare"
        )
    return [
        unshare,
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        f'mount --bind {hosts} /etc/hosts && exec "$0" "$@"',
    ]


def gateway_agent(binary: Path, port: int, tmp_path: Path) -> tuple[Collector, Path]:
    """An agent (base + agent.yaml, not started) resolving NAME to the GATEWAYS on `port` every second, from
    a hosts file of its own: the agent and that file (rewrite it with write_hosts to move the gateways)."""
    hosts = tmp_path / "hosts"
    write_hosts(hosts, GATEWAYS)
    agent_dir = tmp_path / "agent"
    agent_dir.mkdir()
    agent = Collector(
        binary,
        ["base", "agent"],
        {
            "OTELCOL_GATEWAY_HOSTNAME": NAME,
            "OTELCOL_GATEWAY_PORT": str(port),
            "OTELCOL_GATEWAY_INSECURE": "true",
            "OTELCOL_GATEWAY_RESOLVE_INTERVAL": "1s",
        },
        agent_dir,
    )
    agent.argv = [*private_hosts(hosts), *agent.argv]
    return agent, hosts


@dataclass
class Load:
    """REQUESTS requests to each app at RATE a second, CLIENTS at a time per app, in a thread of its own."""

    bases: dict[str, str]
    answered: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=CLIENTS * len(self.bases)) as pool:
            for i in range(REQUESTS):
                for service, base in self.bases.items():
                    pool.submit(self.get, service, f"{base}/jobs/{uuid.uuid4()}/")
                time.sleep(max(0.0, started + (i + 1) / RATE - time.monotonic()))

    def get(self, service: str, url: str) -> None:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                response.read()
        except OSError as error:
            with self.lock:
                self.failed.append(f"{url}: {error}")
            return
        with self.lock:
            self.answered[service] = self.answered.get(service, 0) + 1


@dataclass
class Snapshot:
    at: float
    accepted: float
    exported: float


def snapshot(gateway: Collector) -> Snapshot:
    return Snapshot(
        time.monotonic(),
        gateway.figure(ACCEPTED, receiver="otlp"),
        gateway.figure(SENT, exporter="otlp_grpc/jaeger"),
    )


@pytest.fixture
def gateways(
    collector_binary: Path, prometheus: Prometheus, jaeger: Jaeger, tmp_path: Path
) -> Iterator[tuple[int, list[Collector]]]:
    port = free_port()
    env = {
        "PROMETHEUS_REMOTE_WRITE_ENDPOINT": prometheus.remote_write_url,
        "JAEGER_OTLP_ENDPOINT": jaeger.otlp_grpc_endpoint,
        "JAEGER_OTLP_INSECURE": "true",
    }
    with ExitStack() as stack:
        started = []
        for address in GATEWAYS:
            log_dir = tmp_path / f"gateway-{address}"
            log_dir.mkdir()
            gateway = Collector(
                collector_binary,
                ["base", "prometheus", "jaeger"],
                {**env, "OTELCOL_OTLP_GRPC_ENDPOINT": f"{address}:{port}"},
                log_dir,
            )
            gateway.run()
            stack.callback(gateway.stop)
            started.append(gateway)
        yield port, started


@pytest.mark.services
@pytest.mark.timeout(900)
@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_gateways_share_goes_to_the_other(
    stop_signal: signal.Signals,
    collector_binary: Path,
    gateways: tuple[int, list[Collector]],
    prometheus: Prometheus,
    jaeger: Jaeger,
    tmp_path: Path,
) -> None:
    port, pair = gateways
    agent, hosts = gateway_agent(collector_binary, port, tmp_path)
    project = write_project(tmp_path / "app", settings_tail=ONE_LINE)
    with ExitStack() as stack:
        agent.run()
        stack.callback(agent.stop)
        assert wait_until(lambda: agent.figure("otelcol_loadbalancer_num_backends") == 2, 30, 0.5), (
            agent.log_tail()
        )
        bases = {}
        for service in SERVICES:
            app_env = {
                "OTEL_SERVICE_NAME": service,
                "OTEL_EXPORTER_OTLP_ENDPOINT": agent.otlp_http,
                "OTEL_METRIC_EXPORT_INTERVAL": "1000",
                "OTEL_BSP_SCHEDULE_DELAY": "500",
            }
            _, bases[service] = stack.enter_context(gunicorn(project, "-w", "1", **app_env))
        load = Load(bases)
        loader = threading.Thread(target=load.run, name="load")
        started = time.monotonic()
        loader.start()
        # The gateway to kill: the first to have taken KILL_AFTER spans (so it surely carries a share).
        snapshots: dict[int, list[Snapshot]] = {0: [], 1: []}
        while time.monotonic() - started < LOAD_TIMEOUT:
            for i, gateway in enumerate(pair):
                snapshots[i].append(snapshot(gateway))
            if max(taken[-1].accepted for taken in snapshots.values()) >= KILL_AFTER:
                break
            time.sleep(0.25)
        assert loader.is_alive(), "the load ended before a gateway took its share: no failover mid-load"
        victim_index = max((0, 1), key=lambda i: snapshots[i][-1].accepted)
        victim, survivor = pair[victim_index], pair[1 - victim_index]
        last = snapshot(victim)
        victim.stop(stop_signal, 30)
        killed_at = time.monotonic()
        write_hosts(hosts, tuple(a for i, a in enumerate(GATEWAYS) if i != victim_index))
        survivor_before = survivor.figure(ACCEPTED, receiver="otlp")
        one_backend = wait_until(lambda: agent.figure("otelcol_loadbalancer_num_backends") == 1, 60, 0.25)
        failover_s = round(time.monotonic() - killed_at, 1)
        loader.join(LOAD_TIMEOUT)
        load_s = round(time.monotonic() - started, 1)
        assert not loader.is_alive(), "the load did not finish"

        def counted() -> bool:
            return all(prometheus.scalar(count(service)) == REQUESTS for service in SERVICES)

        def stored() -> dict[str, list[str]]:
            return {service: jaeger.span_ids(service, OPERATION, 2 * REQUESTS) for service in SERVICES}

        all_counted = wait_until(counted, ARRIVAL_TIMEOUT, 1.0)
        # spans: until Jaeger's stops moving
        readings: list[dict[str, list[str]]] = []

        def steady() -> bool:  # the same spans in Jaeger three reads (2 s apart) in a row
            readings.append(stored())
            return len(readings) >= 3 and readings[-1] == readings[-2] == readings[-3]

        wait_until(steady, ARRIVAL_TIMEOUT, 2.0)
        spans = readings[-1]
        agent_queue = agent.figure("otelcol_exporter_queue_size")
        agent_accepted = agent.figure(ACCEPTED, receiver="otlp")
        agent_sent = agent.figure(SENT, exporter="load_balancing")
        agent_failed = agent.figure("otelcol_exporter_send_failed_spans_total", exporter="load_balancing")
        survivor_after = survivor.figure(ACCEPTED, receiver="otlp")
        in_prometheus = {service: prometheus.scalar(count(service)) for service in SERVICES}

    sent = REQUESTS * len(SERVICES)
    distinct = sum(len(set(ids)) for ids in spans.values())
    duplicates = sum(len(ids) - len(set(ids)) for ids in spans.values())
    lost = sent - distinct
    held = last.accepted - last.exported  # accepted by the victim, not yet exported to Jaeger, when last read
    intakes = [b.accepted - a.accepted for a, b in pairwise([*snapshots[victim_index], last])]
    bound = held + max(intakes, default=0)  # plus what it can take between that read and the kill
    report(
        f"gateway failover ({stop_signal.name}), 2 apps -> agent -> 2 gateways -> Prometheus + Jaeger",
        requests=sent,
        failed_requests=len(load.failed),
        load_s=load_s,
        failover_s=failover_s,
        victim_accepted=last.accepted,
        victim_unexported_when_last_read=held,
        loss_bound=bound,
        survivor_took=survivor_after - survivor_before,
        # spans the gateways took more than once (a retried batch is sent whole, also its part that arrived)
        resent_to_gateways=survivor_after + last.accepted - agent_accepted,
        agent_accepted=agent_accepted,
        agent_sent=agent_sent,
        agent_send_failed=agent_failed,
        agent_queue_left=agent_queue,
        spans_in_jaeger=distinct,
        duplicates_in_jaeger=duplicates,
        lost=lost,
        counted_in_prometheus=in_prometheus,
    )
    assert not load.failed, load.failed[:5]
    assert one_backend, agent.log_tail()
    assert all_counted, (in_prometheus, agent.log_tail(), survivor.log_tail())
    assert agent_accepted >= sent, "every span reached the agent (and the readiness probes' GET /)"
    assert agent_sent == agent_accepted, "the agent delivered every span it took"
    assert agent_failed == 0, "the agent dropped nothing: the dead gateway's share was routed again"
    assert survivor_after > survivor_before, "the survivor took the traffic after the kill"
    if stop_signal == signal.SIGTERM:  # it stops taking data, then exports what it holds
        assert lost == 0, (lost, victim.log_tail())
    assert 0 <= lost <= bound, (lost, bound)
