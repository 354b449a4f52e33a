"""Our own Engine calls: a client per call with the per-host timeout, made without Docker SDK spans.

Shared by the ``docker`` readiness check and the resource sampler, below both, so that neither package
imports the other."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import docker
from opentelemetry.instrumentation.utils import suppress_instrumentation


@dataclass(frozen=True)
class HostRef:
    """An ExecutorHost row, copied so background threads never touch the ORM instance."""

    pk: int
    name: str
    executor_type: str
    url: str
    tls: bool

    @classmethod
    def of(cls, host: Any) -> HostRef:
        tls = host.host_type == "tcp" and host.tls_enabled
        return cls(host.pk, host.name, host.executor_type, host.connection_string, tls)


@contextmanager
def engine_client(host: HostRef, timeout: float) -> Iterator[docker.DockerClient]:
    """A fresh client (a hung call on an old one cannot hold this one up); closed on exit."""
    with suppress_instrumentation():
        client = docker.DockerClient(host.url, timeout=timeout, tls=host.tls)  # type: ignore[arg-type]
        try:
            yield client
        finally:
            client.close()
