"""One reading of a container from the Engine's non-streaming stats (``one_shot``: no second sample)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: ``cpu.mode`` -> the Engine's field: the conventions' modes for a container, from its cgroup's
#: user and system (kernel) CPU time; together they are the total.
CPU_MODES = {"user": "usage_in_usermode", "system": "usage_in_kernelmode"}


@dataclass(frozen=True)
class Reading:
    at: float  # wall-clock seconds when the reading was taken
    memory: int  # bytes (cgroup memory usage, as ``memory_stats.usage``)
    cpu_ns: int  # CPU time used since the container started
    cpu: dict[str, int]  # cpu.mode -> CPU time (ns) since start
    network: dict[str, int]  # network.io.direction -> bytes since start
    disk: dict[str, int]  # disk.io.direction -> bytes since start


def reading(raw: dict[str, Any], at: float) -> Reading | None:
    """None for a container that is no longer running: the Engine then answers with empty stats."""
    memory = (raw.get("memory_stats") or {}).get("usage")
    cpu_usage = (raw.get("cpu_stats") or {}).get("cpu_usage") or {}
    cpu_ns = cpu_usage.get("total_usage") or 0
    if not isinstance(memory, int) or not cpu_ns:
        return None
    networks = (raw.get("networks") or {}).values()
    disk = {"read": 0, "write": 0}
    for entry in (raw.get("blkio_stats") or {}).get("io_service_bytes_recursive") or ():
        op = str(entry.get("op", "")).lower()
        if op in disk:
            disk[op] += int(entry.get("value", 0))
    return Reading(
        at,
        memory,
        int(cpu_ns),
        {mode: int(cpu_usage.get(field) or 0) for mode, field in CPU_MODES.items()},
        {
            "receive": sum(int(n.get("rx_bytes", 0)) for n in networks),
            "transmit": sum(int(n.get("tx_bytes", 0)) for n in networks),
        },
        disk,
    )
