"""Docker host health: one probe (ping, then ``info``) per host, and gauges that report the latest results.

The gauges never call an Engine: a scrape or export reads what the last probe found. A host that is down
reports ``dcm.host.up`` 0 and nothing else, since stale counts would look current.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, CallbackT, Observation

from dcm_otel.engine_client import HostRef, engine_client

from . import attributes as a

#: Engine ``info`` fields -> (metric, extra attributes).
_INFO = {
    "ContainersRunning": (a.HOST_CONTAINERS, {a.CONTAINER_STATE: "running"}),
    "ContainersPaused": (a.HOST_CONTAINERS, {a.CONTAINER_STATE: "paused"}),
    "ContainersStopped": (a.HOST_CONTAINERS, {a.CONTAINER_STATE: "stopped"}),
    "Images": (a.HOST_IMAGES, {}),
    "NCPU": (a.HOST_CPU_COUNT, {}),
    "MemTotal": (a.HOST_MEMORY_LIMIT, {}),
}
_METRICS = {
    a.HOST_CONTAINERS: ("{container}", "Containers on the Docker host, by state, from the Engine's info."),
    a.HOST_IMAGES: ("{image}", "Images stored on the Docker host."),
    a.HOST_CPU_COUNT: ("{cpu}", "CPUs the Docker host's Engine reports."),
    a.HOST_MEMORY_LIMIT: ("By", "Memory the Docker host's Engine reports."),
}


@dataclass(frozen=True)
class HostStatus:
    up: bool
    ping_seconds: float | None = None
    info: dict[str, int] = field(default_factory=dict)


def probe(host: HostRef, timeout: float) -> HostStatus:
    """Ping the host's Engine, then read its ``info``."""
    try:
        with engine_client(host, timeout) as client:
            start = time.perf_counter()
            client.ping()
            took = time.perf_counter() - start
            try:
                info = client.info()
            except Exception:  # up, but no figures this time
                info = {}
    except Exception:
        return HostStatus(up=False)
    figures = {key: int(info[key]) for key in _INFO if isinstance(info.get(key), int)}
    return HostStatus(up=True, ping_seconds=took, info=figures)


class HostGauges:
    def __init__(self, meter: metrics.Meter) -> None:
        self._lock = threading.Lock()
        self._hosts: dict[int, HostRef] = {}
        self._status: dict[int, HostStatus] = {}
        meter.create_observable_gauge(
            a.HOST_UP, callbacks=[self._up], unit="1",
            description="1 if the executor host answered its latest probe (Docker: a ping), else 0.",
        )  # fmt: skip
        meter.create_observable_gauge(
            a.HOST_PING_DURATION, callbacks=[self._ping], unit="s",
            description="Duration of the latest successful ping of the Docker host's Engine.",
        )  # fmt: skip
        for name, (unit, description) in _METRICS.items():
            meter.create_observable_gauge(
                name, callbacks=[self._info(name)], unit=unit, description=description
            )

    def set_hosts(self, hosts: Iterable[HostRef]) -> None:
        """The active hosts now: results of hosts that were removed or deactivated are dropped."""
        with self._lock:
            self._hosts = {host.pk: host for host in hosts}
            self._status = {pk: s for pk, s in self._status.items() if pk in self._hosts}

    def set_status(self, host: HostRef, status: HostStatus) -> None:
        with self._lock:
            if host.pk in self._hosts:
                self._status[host.pk] = status

    def _latest(self) -> list[tuple[dict[str, str], HostStatus]]:
        with self._lock:
            return [
                ({a.HOST_NAME: host.name, a.EXECUTOR_TYPE: host.executor_type}, self._status[pk])
                for pk, host in self._hosts.items()
                if pk in self._status
            ]

    def _up(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(int(status.up), attrs) for attrs, status in self._latest()]

    def _ping(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(status.ping_seconds, attrs)
            for attrs, status in self._latest()
            if status.up and status.ping_seconds is not None
        ]

    def _info(self, name: str) -> CallbackT:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            return [
                Observation(value, {**attrs, **_INFO[key][1]})
                for attrs, status in self._latest()
                for key, value in status.info.items()
                if _INFO[key][0] == name
            ]

        return observe
