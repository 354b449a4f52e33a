"""Every active docker ExecutorHost answers a ping, through a client with a short timeout; a policy says
how many must: ``all``, ``any`` or a minimum count (``DCM_OTEL['health']['docker_policy']``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from dcm_otel._container_manager import installed, own_connections
from dcm_otel.config import Config
from dcm_otel.engine_client import HostRef, engine_client
from dcm_otel.health.results import CheckFunction, Outcome, describe, failing, ok, skipped

if TYPE_CHECKING:
    from container_manager.models import ExecutorHost

_MAX_PARALLEL_PINGS = 8


def build(config: Config) -> CheckFunction:
    policy = config.health.docker_policy

    def check_docker_hosts(timeout: float) -> Outcome:
        if not installed():
            return skipped("container_manager is not installed")
        hosts = _active_docker_hosts()
        if not hosts:
            return skipped("no active docker ExecutorHost")
        with ThreadPoolExecutor(min(len(hosts), _MAX_PARALLEL_PINGS)) as pool:
            errors = list(pool.map(lambda host: ping(host, timeout), hosts))
        down = [f"{host.name}: {error}" for host, error in zip(hosts, errors, strict=True) if error]
        up = len(hosts) - len(down)
        summary = f"{up}/{len(hosts)} docker hosts up (policy {policy})"
        if up >= required(policy, len(hosts)):
            return ok(summary)
        return failing("; ".join([summary, *down]))

    return check_docker_hosts


def required(policy: str | int, hosts: int) -> int:
    """How many hosts must answer: every one, one, or the configured minimum."""
    if policy == "all":
        return hosts
    return 1 if policy == "any" else int(policy)


def _active_docker_hosts() -> list[ExecutorHost]:
    from container_manager.models import ExecutorHost

    with own_connections():
        return list(ExecutorHost.objects.filter(is_active=True, executor_type="docker").order_by("name"))


def ping(host: ExecutorHost, timeout: float) -> str | None:
    """None if the host's Engine answers, else why not."""
    try:
        with engine_client(HostRef.of(host), timeout) as client:
            client.ping()
    except Exception as exc:
        return describe(exc)
    return None
