"""Host (``system.*``) and process (``process.*``) figures from psutil, read at collection time, under the
current semantic-convention names and attributes.

opentelemetry-instrumentation-system-metrics 0.66b2 is not used: it still emits the old attribute names
(``state``, ``device``, ``direction``) under schema 1.11 and has no filesystem usage. Interfaces and
devices that come and go with each container or image (``veth*``, ``loop*``) are left out, so series
stay bounded; only local filesystems are read (psutil's non-``all`` partitions), so a hung network mount
cannot stall a collection.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import psutil
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.semconv._incubating.attributes.cpu_attributes import CPU_MODE
from opentelemetry.semconv._incubating.attributes.disk_attributes import DISK_IO_DIRECTION
from opentelemetry.semconv._incubating.attributes.network_attributes import (
    NETWORK_INTERFACE_NAME,
    NETWORK_IO_DIRECTION,
)
from opentelemetry.semconv._incubating.attributes.system_attributes import (
    SYSTEM_DEVICE,
    SYSTEM_FILESYSTEM_MODE,
    SYSTEM_FILESYSTEM_MOUNTPOINT,
    SYSTEM_FILESYSTEM_STATE,
    SYSTEM_FILESYSTEM_TYPE,
    SYSTEM_MEMORY_STATE,
)
from opentelemetry.semconv._incubating.metrics import process_metrics as pm
from opentelemetry.semconv._incubating.metrics import system_metrics as sm

from dcm_otel.config import HOST_METRIC_GROUPS, HostMetricGroup

#: Host groups, observed in the process kind ``resource_metrics`` picks; ``process`` in every process.
HOST_GROUPS: tuple[HostMetricGroup, ...] = tuple(
    g for g in HOST_METRIC_GROUPS if g not in ("process", "none")
)
_SKIPPED_NICS = ("veth",)
_SKIPPED_DISKS = ("loop", "ram", "zram")
_MEMORY_STATES = ("used", "free", "cached", "buffers")
#: psutil's ``cpu_times`` fields on every platform, as the ``cpu.mode`` values the conventions name: hard
#: and soft interrupts (``irq``, ``softirq``; Windows' ``interrupt`` and ``dpc``) are ``interrupt``.
#: Linux's ``guest`` and ``guest_nice`` are left out: they are counted in ``user`` and ``nice`` already.
_CPU_MODES = {
    "user": "user", "nice": "nice", "system": "system", "idle": "idle", "iowait": "iowait",
    "irq": "interrupt", "softirq": "interrupt", "interrupt": "interrupt", "dpc": "interrupt",
    "steal": "steal",
}  # fmt: skip


def _cpu(options: CallbackOptions) -> Iterable[Observation]:
    shares: dict[str, float] = {}
    for field, percent in psutil.cpu_times_percent(interval=None)._asdict().items():  # since the last call
        mode = _CPU_MODES.get(field)
        if mode is not None:
            shares[mode] = shares.get(mode, 0.0) + percent / 100
    return [Observation(share, {CPU_MODE: mode}) for mode, share in shares.items()]


def _memory(options: CallbackOptions) -> Iterable[Observation]:
    memory = psutil.virtual_memory()._asdict()
    return [Observation(memory[s], {SYSTEM_MEMORY_STATE: s}) for s in _MEMORY_STATES if s in memory]


def _memory_limit(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(psutil.virtual_memory().total)]


def filesystem_mode(options: str) -> str:
    """``system.filesystem.mode`` from a mount's options (``rw,relatime``): ``ro`` or ``rw``. One value per
    mount, so it adds no series."""
    return "ro" if "ro" in options.split(",") else "rw"


def _filesystem(options: CallbackOptions) -> Iterable[Observation]:
    observations = []
    for part in psutil.disk_partitions(all=False):
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError:  # unmounted meanwhile, or not readable by us
            continue
        mount = {
            SYSTEM_DEVICE: part.device,
            SYSTEM_FILESYSTEM_MOUNTPOINT: part.mountpoint,
            SYSTEM_FILESYSTEM_TYPE: part.fstype,
            SYSTEM_FILESYSTEM_MODE: filesystem_mode(part.opts),
        }
        reserved = usage.total - usage.used - usage.free
        for state, value in (("used", usage.used), ("free", usage.free), ("reserved", reserved)):
            observations.append(Observation(value, {**mount, SYSTEM_FILESYSTEM_STATE: state}))
    return observations


def _disk(options: CallbackOptions) -> Iterable[Observation]:
    disks = psutil.disk_io_counters(perdisk=True) or {}
    return [
        Observation(value, {SYSTEM_DEVICE: name, DISK_IO_DIRECTION: direction})
        for name, c in disks.items()
        if not name.startswith(_SKIPPED_DISKS)
        for direction, value in (("read", c.read_bytes), ("write", c.write_bytes))
    ]


def _network(options: CallbackOptions) -> Iterable[Observation]:
    nics = psutil.net_io_counters(pernic=True) or {}
    return [
        Observation(value, {NETWORK_INTERFACE_NAME: name, NETWORK_IO_DIRECTION: direction})
        for name, c in nics.items()
        if not name.startswith(_SKIPPED_NICS)
        for direction, value in (("receive", c.bytes_recv), ("transmit", c.bytes_sent))
    ]


class _Process:
    """This process (a fork gets a psutil handle of its own)."""

    def __init__(self) -> None:
        self._pid = -1
        self._process = psutil.Process()

    def get(self) -> psutil.Process:
        if self._pid != os.getpid():
            self._pid, self._process = os.getpid(), psutil.Process()
        return self._process

    def cpu(self, options: CallbackOptions) -> Iterable[Observation]:
        times = self.get().cpu_times()
        return [Observation(times.user, {CPU_MODE: "user"}), Observation(times.system, {CPU_MODE: "system"})]

    def memory(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.get().memory_info().rss)]

    def threads(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.get().num_threads())]

    def fds(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.get().num_fds())] if hasattr(psutil.Process, "num_fds") else []


def observe_host(meter: metrics.Meter, groups: Iterable[str]) -> None:
    """Create the instruments of the chosen host groups (``cpu``, ``memory``, ...)."""
    chosen = set(groups)
    if "cpu" in chosen:
        psutil.cpu_times_percent(interval=None)  # the first call only sets the baseline
        meter.create_observable_gauge(
            sm.SYSTEM_CPU_UTILIZATION,
            [_cpu],
            "1",
            "Share of the host's CPU time in each mode since the last collection.",
        )
    if "memory" in chosen:
        meter.create_observable_up_down_counter(
            sm.SYSTEM_MEMORY_USAGE, [_memory], "By", "Host memory by state."
        )
        meter.create_observable_up_down_counter(
            sm.SYSTEM_MEMORY_LIMIT, [_memory_limit], "By", "Host memory in total."
        )
    if "filesystem" in chosen:
        meter.create_observable_up_down_counter(
            sm.SYSTEM_FILESYSTEM_USAGE, [_filesystem], "By", "Local filesystem space per mount, by state."
        )
    if "disk" in chosen:
        meter.create_observable_counter(
            sm.SYSTEM_DISK_IO, [_disk], "By", "Bytes read from and written to each disk."
        )
    if "network" in chosen:
        meter.create_observable_counter(
            sm.SYSTEM_NETWORK_IO, [_network], "By", "Bytes received and sent on each network interface."
        )


def observe_process(meter: metrics.Meter) -> None:
    process = _Process()
    meter.create_observable_counter(
        pm.PROCESS_CPU_TIME, [process.cpu], "s", "CPU time of this process, by mode."
    )
    meter.create_observable_up_down_counter(
        pm.PROCESS_MEMORY_USAGE, [process.memory], "By", "Resident memory (RSS) of this process."
    )
    meter.create_observable_up_down_counter(
        pm.PROCESS_THREAD_COUNT, [process.threads], "{thread}", "Threads of this process."
    )
    meter.create_observable_up_down_counter(
        pm.PROCESS_UNIX_FILE_DESCRIPTOR_COUNT, [process.fds], "{file_descriptor}",
        "Open file descriptors of this process.",
    )  # fmt: skip
