"""``cpu.mode`` as the semantic conventions (v1.44.0, model/cpu, model/system, model/container) define it:
only the well-known values on ``system.cpu.utilization``, and ``user``/``system`` data points on
``container.cpu.usage`` from the Engine's stats. In-process, with psutil's answers and the Engine's stats
given, so every platform's fields are covered."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import psutil
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from dcm_otel.instrumentation.resource_usage.container_stats import reading
from dcm_otel.instrumentation.resource_usage.container_usage import ContainerUsage, JobUsage
from dcm_otel.instrumentation.resource_usage.host_metrics import observe_host

WELL_KNOWN_MODES = {"user", "system", "nice", "idle", "iowait", "interrupt", "steal"}
#: psutil's ``cpu_times`` fields per platform (psutil 7 docs), as percentages that add up to 100.
PSUTIL_FIELDS = {
    "linux": dict(
        user=20.0, nice=5.0, system=10.0, idle=50.0, iowait=4.0, irq=2.0, softirq=1.0, steal=8.0,
        guest=3.0, guest_nice=1.0,  # already inside user and nice: not counted twice
    ),
    "macos": dict(user=30.0, nice=0.0, system=20.0, idle=50.0),
    "bsd": dict(user=30.0, nice=0.0, system=20.0, idle=47.0, irq=3.0),
    "windows": dict(user=30.0, system=20.0, idle=45.0, interrupt=3.0, dpc=2.0),
}  # fmt: skip


def points(reader: InMemoryMetricReader, name: str) -> list[tuple[dict[str, Any], float]]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        (dict(point.attributes or {}), point.value)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points  # type: ignore[union-attr]
    ]


@pytest.mark.parametrize("platform", sorted(PSUTIL_FIELDS))
def test_system_cpu_utilization_uses_the_well_known_modes(
    platform: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = PSUTIL_FIELDS[platform]
    times = namedtuple("scputimes", list(fields))(**fields)  # type: ignore[misc]
    monkeypatch.setattr(psutil, "cpu_times_percent", lambda interval=None: times)
    reader = InMemoryMetricReader()
    observe_host(MeterProvider(metric_readers=[reader]).get_meter("test"), ["cpu"])
    by_mode = {
        attributes["cpu.mode"]: value for attributes, value in points(reader, "system.cpu.utilization")
    }
    assert set(by_mode) <= WELL_KNOWN_MODES
    assert sum(by_mode.values()) == pytest.approx(1.0)
    if platform == "linux":
        assert by_mode["interrupt"] == pytest.approx(0.03)  # irq + softirq
        assert (by_mode["user"], by_mode["nice"]) == (pytest.approx(0.2), pytest.approx(0.05))
    if platform == "windows":
        assert by_mode["interrupt"] == pytest.approx(0.05)  # interrupt + dpc


def stats(user_ns: int, kernel_ns: int) -> dict[str, Any]:
    """The Engine's non-streaming stats, as much of them as a reading uses."""
    return {
        "memory_stats": {"usage": 2**20},
        "cpu_stats": {
            "cpu_usage": {
                "total_usage": user_ns + kernel_ns,
                "usage_in_usermode": user_ns,
                "usage_in_kernelmode": kernel_ns,
            }
        },
    }


def test_container_cpu_usage_has_user_and_system_points_that_add_up_to_the_total() -> None:
    reader = InMemoryMetricReader()
    usage = ContainerUsage(MeterProvider(metric_readers=[reader]).get_meter("test"), interval=10)
    for container, image in (("c1", "busybox"), ("c2", "busybox"), ("c3", "idle-image")):
        usage.track(container, container, "engine", image, started_at=100.0)
    for container, start, end in (("c1", (1, 1), (7, 3)), ("c2", (2, 0), (4, 0))):
        for at, (user_s, kernel_s) in ((101.0, start), (103.0, end)):
            each = reading(stats(int(user_s * 1e9), int(kernel_s * 1e9)), at)
            assert each is not None
            usage.record(container, each)
    by_series = {
        (attributes["container.image.name"], attributes["cpu.mode"]): value
        for attributes, value in points(reader, "container.cpu.usage")
    }
    # c1: (7-1) s user and (3-1) s kernel over 2 s; c2: 2 s user over 2 s; an image with nothing read: 0
    assert by_series == {
        ("busybox", "user"): pytest.approx(3.0 + 1.0),
        ("busybox", "system"): pytest.approx(1.0),
        ("idle-image", "user"): 0,
        ("idle-image", "system"): 0,
    }
    for attributes, _ in points(reader, "container.cpu.usage"):
        assert set(attributes) == {"dcm.host.name", "container.image.name", "cpu.mode"}
    assert usage.usage("c1") == JobUsage(2**20, 333.33)  # the job's mean CPU: all modes, since its start
