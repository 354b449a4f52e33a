"""Usage of running job containers, from successive readings: the four ``container.*`` metrics per
(host, image), CPU also per ``cpu.mode``, and per job the peak memory and mean CPU that go to the job's
own fields and span.

Network and disk bytes are kept as running totals per (host, image), so the counters stay monotonic when
a container ends; CPU cores are the CPU time used between a container's last two readings over the wall
time between them. Memory is bounded: containers not read for three intervals are forgotten, and at most
:data:`MAX_SERIES` (host, image) pairs are kept (least recently used dropped).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, CallbackT, Observation

from . import attributes as a
from .container_stats import CPU_MODES, Reading

MAX_CONTAINERS = 10_000
MAX_SERIES = 1_000
#: ``ContainerJob.max_memory_usage`` is a PositiveIntegerField: 2**31 - 1 on PostgreSQL and MySQL.
MAX_MEMORY_FIELD = 2**31 - 1
_Series = tuple[str, str]  # (host name, image)


@dataclass
class Tracked:
    job_id: str
    series: _Series
    started_at: float
    seen: float  # monotonic time the container was last known to run
    last: Reading | None = None
    cores: dict[str, float] = field(default_factory=dict)  # cpu.mode -> CPUs over the latest interval
    peak_memory: int = 0


@dataclass(frozen=True)
class JobUsage:
    """What a job used while it was read: the values for its ``max_memory_usage``/``cpu_usage_percent``."""

    max_memory_usage: int
    cpu_usage_percent: float


class ContainerUsage:
    def __init__(self, meter: metrics.Meter, interval: float) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._containers: OrderedDict[str, Tracked] = OrderedDict()
        self._totals: OrderedDict[_Series, dict[tuple[str, str], int]] = OrderedDict()
        meter.create_observable_gauge(
            a.CONTAINER_CPU_USAGE, callbacks=[self._cpu], unit="{cpu}",
            description="CPUs used by running job containers over their latest sampling interval.",
        )  # fmt: skip
        meter.create_observable_up_down_counter(
            a.CONTAINER_MEMORY_USAGE, callbacks=[self._memory], unit="By",
            description="Memory used by running job containers at their latest sample.",
        )  # fmt: skip
        meter.create_observable_counter(
            a.CONTAINER_NETWORK_IO, callbacks=[self._io("network", a.NETWORK_IO_DIRECTION)], unit="By",
            description="Network bytes of job containers, by direction.",
        )  # fmt: skip
        meter.create_observable_counter(
            a.CONTAINER_DISK_IO, callbacks=[self._io("disk", a.DISK_IO_DIRECTION)], unit="By",
            description="Block device bytes of job containers, by direction.",
        )  # fmt: skip

    def track(self, container_id: str, job_id: str, host: str, image: str, started_at: float) -> None:
        """Note a running job container (again); it is read until it ends or goes unseen."""
        with self._lock:
            tracked = self._containers.get(container_id)
            if tracked is None:
                tracked = Tracked(job_id, (host, image), started_at, time.monotonic())
                self._containers[container_id] = tracked
            tracked.seen = time.monotonic()
            self._containers.move_to_end(container_id)
            while len(self._containers) > MAX_CONTAINERS:
                self._containers.popitem(last=False)
            self._totals_of(tracked.series)

    def due(self, container_id: str, now: float) -> bool:
        """Read at most once per interval: a container read at launch waits for the next round."""
        with self._lock:
            tracked = self._containers.get(container_id)
            return tracked is not None and (
                tracked.last is None or now - tracked.last.at >= self._interval / 2
            )

    def record(self, container_id: str, reading: Reading) -> None:
        with self._lock:
            tracked = self._containers.get(container_id)
            if tracked is None:
                return
            base = tracked.last or Reading(tracked.started_at, 0, 0, {}, {}, {})
            elapsed = reading.at - base.at
            if elapsed > 0:
                tracked.cores = {
                    mode: max(0.0, (ns - base.cpu.get(mode, 0)) / 1e9 / elapsed)
                    for mode, ns in reading.cpu.items()
                }
            tracked.peak_memory = max(tracked.peak_memory, reading.memory)
            totals = self._totals_of(tracked.series)
            for kind, now, before in (
                ("network", reading.network, base.network),
                ("disk", reading.disk, base.disk),
            ):
                for direction, value in now.items():
                    totals[(kind, direction)] = totals.get((kind, direction), 0) + max(
                        0, value - before.get(direction, 0)
                    )
            tracked.last = reading

    def usage(self, container_id: str) -> JobUsage | None:
        """Peak memory and mean CPU (percent of one CPU, from the start to the latest reading)."""
        with self._lock:
            tracked = self._containers.get(container_id)
            if tracked is None or tracked.last is None:
                return None
            ran = tracked.last.at - tracked.started_at
            percent = tracked.last.cpu_ns / 1e9 / ran * 100 if ran > 0 else 0.0
            return JobUsage(min(tracked.peak_memory, MAX_MEMORY_FIELD), round(percent, 2))

    def forget(self, container_id: str) -> None:
        with self._lock:
            self._containers.pop(container_id, None)

    def _totals_of(self, series: _Series) -> dict[tuple[str, str], int]:
        totals = self._totals.setdefault(series, {})
        self._totals.move_to_end(series)
        while len(self._totals) > MAX_SERIES:
            self._totals.popitem(last=False)
        return totals

    def _running(self) -> dict[_Series, list[Tracked]]:
        """Containers read lately, per series (every known series, so an idle one reports 0)."""
        fresh_after = time.monotonic() - 3 * self._interval
        with self._lock:
            for container_id in [c for c, t in self._containers.items() if t.seen < fresh_after]:
                del self._containers[container_id]
            running: dict[_Series, list[Tracked]] = {series: [] for series in self._totals}
            for tracked in self._containers.values():
                if tracked.last is not None:
                    running.setdefault(tracked.series, []).append(tracked)
            return running

    @staticmethod
    def _attributes(series: _Series) -> dict[str, str]:
        return {a.HOST_NAME: series[0], a.CONTAINER_IMAGE_NAME: series[1]}

    def _cpu(self, options: CallbackOptions) -> Iterable[Observation]:
        """One point per ``cpu.mode`` (``user``, ``system``) and none without: the conventions ask for
        modes wherever the stats give them, and a total beside them would be counted twice in a sum."""
        return [
            Observation(
                sum(t.cores.get(mode, 0.0) for t in tracked), {**self._attributes(series), a.CPU_MODE: mode}
            )
            for series, tracked in self._running().items()
            for mode in CPU_MODES
        ]

    def _memory(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(sum(t.last.memory for t in tracked if t.last), self._attributes(series))
            for series, tracked in self._running().items()
        ]

    def _io(self, kind: str, direction_key: str) -> CallbackT:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            with self._lock:
                totals = {series: dict(values) for series, values in self._totals.items()}
            return [
                Observation(value, {**self._attributes(series), direction_key: direction})
                for series, values in totals.items()
                for (k, direction), value in values.items()
                if k == kind
            ]

        return observe
