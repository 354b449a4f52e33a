"""The one Resource shared by the tracer, meter and logger providers of a process."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
from opentelemetry.sdk.resources import Resource

from dcm_otel.config import Config

_CONTAINER_ID = re.compile(r"([0-9a-f]{64})")
# platform.machine() -> host.arch's well-known values; any other machine is left out.
ARCHITECTURES = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm32",
    "armv6l": "arm32", "i386": "x86", "i686": "x86", "x86": "x86", "ia64": "ia64", "ppc64": "ppc64",
    "ppc64le": "ppc64", "ppc": "ppc32", "s390x": "s390x",
}  # fmt: skip


def container_id(
    cgroup: Path = Path("/proc/self/cgroup"), mountinfo: Path = Path("/proc/self/mountinfo")
) -> str | None:
    """The id of the container this process runs in, read from cgroup v1 paths or, on cgroup v2, the
    ``/etc/hostname`` mount of Docker's containers directory; None outside a container."""
    for source in (cgroup, mountinfo):
        try:
            text = source.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if ("docker" in line or "containerd" in line or "kubepods" in line) and (
                match := _CONTAINER_ID.search(line)
            ):
                return match.group(1)
    return None


def creation_time(pid: int) -> str:
    """``process.creation.time`` of process ``pid``: ISO 8601 in UTC to the millisecond, as the
    conventions' example (``2023-11-21T09:25:34.853Z``)."""
    created = datetime.fromtimestamp(psutil.Process(pid).create_time(), UTC)
    return created.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def process_details(pid: int) -> dict[str, str]:
    """``process.command`` (the zeroth string of the command line, not its arguments, which may hold
    secrets: ``process.command_line`` is opt-in) and ``process.owner``; what psutil cannot read is left out.
    Read once per process, at start."""
    details: dict[str, str] = {}
    process = psutil.Process(pid)
    with contextlib.suppress(psutil.Error, OSError):
        if command := process.cmdline()[:1]:
            details["process.command"] = command[0]
    with contextlib.suppress(psutil.Error, OSError, KeyError):
        details["process.owner"] = process.username()
    return details


def build_resource(config: Config) -> Resource:
    """Resource attributes, most specific last: detected facts, then OTEL_RESOURCE_ATTRIBUTES, then the
    explicit service keys. ``service.instance.id`` is new per process, so each worker is told apart;
    ``process.pid`` goes with ``process.creation.time``, the process entity's two identifying attributes
    (a pid alone is reused)."""
    from dcm_otel import __version__

    pid = os.getpid()
    attributes: dict[str, str | int] = {
        "service.instance.id": str(uuid.uuid4()),
        "host.name": socket.gethostname(),
        "process.pid": pid,
        "process.creation.time": creation_time(pid),
        "telemetry.distro.name": "dcm_otel",
        "telemetry.distro.version": __version__,
        **process_details(pid),
    }
    if arch := ARCHITECTURES.get(platform.machine().lower()):
        attributes["host.arch"] = arch
    if cid := container_id():
        attributes["container.id"] = cid
    attributes.update(config.resource_attributes)
    attributes["service.name"] = config.service_name
    if config.service_version:
        attributes["service.version"] = config.service_version
    if config.environment:
        attributes["deployment.environment.name"] = config.environment
    # create() adds the telemetry.sdk.* attributes; what it reads from OTEL_* again is overridden by ours.
    return Resource.create(attributes)
