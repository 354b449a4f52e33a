"""The processor-heartbeat hook of the ``queue`` check.

The job processor (``process_container_jobs``) does not publish a heartbeat itself; whatever records one
(the processor instrumentation, or the application) registers a provider here that returns the Unix time
of the processor's last poll, or None if it has never polled. Without a provider the heartbeat is
reported as unknown and does not fail the check.
"""

from __future__ import annotations

from collections.abc import Callable

HeartbeatProvider = Callable[[], float | None]

_provider: HeartbeatProvider | None = None


def set_heartbeat_provider(provider: HeartbeatProvider | None) -> None:
    """Install (or, with None, remove) the function the ``queue`` check asks for the last poll time."""
    global _provider
    _provider = provider


def heartbeat_provider() -> HeartbeatProvider | None:
    return _provider
