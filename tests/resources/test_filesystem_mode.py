"""``system.filesystem.mode`` (semantic conventions v1.44.0, model/system/metrics.yaml, recommended on
``system.filesystem.usage``): ``ro`` or ``rw`` from each mount's options, with psutil's answers given."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import psutil
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from dcm_otel.instrumentation.resource_usage.host_metrics import filesystem_mode, observe_host

Partition = namedtuple("Partition", "device mountpoint fstype opts")
Usage = namedtuple("Usage", "total used free percent")


@pytest.mark.parametrize(
    ("options", "mode"),
    [("rw,relatime", "rw"), ("ro,nosuid,nodev", "ro"), ("nosuid,ro", "ro"), ("rw,errors=remount-ro", "rw")],
)
def test_mode_from_mount_options(options: str, mode: str) -> None:
    assert filesystem_mode(options) == mode


def test_every_filesystem_point_has_its_mount_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    partitions = [
        Partition("/dev/sda1", "/", "ext4", "rw,relatime"),
        Partition("/dev/sr0", "/media/cd", "iso9660", "ro,nosuid"),
    ]
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: partitions)
    monkeypatch.setattr(psutil, "disk_usage", lambda path: Usage(100, 60, 30, 60.0))
    reader = InMemoryMetricReader()
    observe_host(MeterProvider(metric_readers=[reader]).get_meter("test"), ["filesystem"])
    data = reader.get_metrics_data()
    assert data is not None
    modes: dict[Any, set[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:  # type: ignore[union-attr]
                    attributes = dict(point.attributes or {})
                    mount = attributes["system.filesystem.mountpoint"]
                    modes.setdefault(mount, set()).add(attributes["system.filesystem.mode"])
    assert modes == {"/": {"rw"}, "/media/cd": {"ro"}}
