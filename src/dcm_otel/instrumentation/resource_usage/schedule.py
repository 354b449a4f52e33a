"""The background schedule: each active host is probed every ``docker_probe_interval`` and its running job
containers are read every ``container_stats_interval``, each Engine call bounded by ``docker_probe_timeout``.

At most one probe and one round of reads are in flight per host (a round still running when the next is
due is skipped), each in a daemon thread of its own: a hung Engine costs its own thread the timeout and
holds up nothing else, not even process exit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import docker.errors
from django.apps import apps

from dcm_otel._container_manager import JobStatus, own_connections
from dcm_otel.config import Config
from dcm_otel.engine_client import HostRef, engine_client

from .container_stats import reading
from .container_usage import ContainerUsage
from .docker_host_probes import HostGauges, HostStatus, probe

logger = logging.getLogger("dcm_otel.resources")


def read_hosts() -> list[HostRef]:
    """Active hosts we can say something about: Docker Engines, and the mock executor (always up)."""
    from container_manager.models import ExecutorHost

    rows = ExecutorHost.objects.filter(is_active=True, executor_type__in=("docker", "mock")).order_by("name")
    return [HostRef.of(host) for host in rows]


def read_running() -> list[tuple[int, str, str, str, float | None]]:
    """(host pk, container id, job id, image, started_at) of each running Docker job."""
    from container_manager.models import ContainerJob

    rows = (
        ContainerJob.objects.filter(status=JobStatus.RUNNING, docker_host__executor_type="docker")
        .exclude(execution_id="")
        .values_list("docker_host_id", "execution_id", "pk", "docker_image", "started_at")
    )
    return [(host, cid, str(pk), image, at.timestamp() if at else None) for host, cid, pk, image, at in rows]


class Monitor:
    def __init__(self, config: Config, hosts: HostGauges, usage: ContainerUsage) -> None:
        self._probe_interval = config.docker_probe_interval
        self._stats_interval = config.container_stats_interval
        self._timeout = config.docker_probe_timeout
        self._hosts = hosts
        self._usage = usage
        self._lock = threading.Lock()
        self._busy: set[tuple[int, str]] = set()
        self._known: dict[int, HostRef] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stop.is_set()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="dcm-otel-resources", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def launched(self, job: Any, container_id: str) -> None:
        """Read a just-started container at once, so a job that ends before the next round has a reading."""
        host = HostRef.of(job.docker_host)
        started = job.started_at.timestamp() if job.started_at else time.time()
        self._usage.track(container_id, str(job.pk), host.name, job.docker_image or "", started)
        self._submit(host, "stats", self._read, host, [container_id])

    def _run(self) -> None:
        next_probe = next_read = time.monotonic()
        while not self._stop.is_set():
            if not apps.ready:  # started while Django loads the apps (``resource_metrics`` = all)
                self._stop.wait(0.2)
                continue
            now = time.monotonic()
            if now >= next_probe:
                next_probe = now + self._probe_interval
                self._safely(self._probe_all)
            if now >= next_read:
                next_read = now + self._stats_interval
                self._safely(self._read_all)
            self._stop.wait(max(0.0, min(next_probe, next_read) - time.monotonic()))

    def _safely(self, step: Callable[[], None]) -> None:
        try:
            with own_connections():
                step()
        except Exception:  # the database may be down too; try again next time
            logger.debug("dcm_otel: resource monitoring step failed", exc_info=True)

    def _probe_all(self) -> None:
        hosts = read_hosts()
        self._known = {host.pk: host for host in hosts}
        self._hosts.set_hosts(hosts)
        for host in hosts:
            if host.executor_type == "mock":  # no Engine behind it: up while it is active
                self._hosts.set_status(host, HostStatus(up=True))
            else:
                self._submit(
                    host, "probe", lambda h: self._hosts.set_status(h, probe(h, self._timeout)), host
                )

    def _read_all(self) -> None:
        per_host: dict[int, list[str]] = defaultdict(list)
        for host_pk, container_id, job_id, image, started in read_running():
            host = self._known.get(host_pk)
            if host is not None:
                self._usage.track(container_id, job_id, host.name, image, started or time.time())
                per_host[host_pk].append(container_id)
        for host_pk, container_ids in per_host.items():
            self._submit(self._known[host_pk], "stats", self._read, self._known[host_pk], container_ids)

    def _read(self, host: HostRef, container_ids: list[str]) -> None:
        """One non-streaming stats call per container that is due; the round ends at the first failure
        other than a container that has just gone (a host that fails once would fail for every one)."""
        with engine_client(host, self._timeout) as client:
            for container_id in container_ids:
                if not self._usage.due(container_id, time.time()):
                    continue
                try:
                    raw = client.api.stats(container_id, stream=False, one_shot=True)
                except docker.errors.NotFound:
                    continue
                found = reading(raw, time.time())
                if found is not None:
                    self._usage.record(container_id, found)

    def _submit(self, host: HostRef, kind: str, work: Callable[..., None], *args: Any) -> None:
        key = (host.pk, kind)
        with self._lock:
            if key in self._busy:
                return
            self._busy.add(key)

        def run() -> None:
            try:
                work(*args)
            except Exception:
                logger.debug("dcm_otel: %s of host %s failed", kind, host.name, exc_info=True)
            finally:
                with self._lock:
                    self._busy.discard(key)

        threading.Thread(target=run, name=f"dcm-otel-{kind}-{host.pk}", daemon=True).start()
