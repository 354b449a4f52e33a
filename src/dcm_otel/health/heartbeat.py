"""The processor-heartbeat hook of the ``queue`` check.

The job processor (``process_container_jobs``) does not publish a heartbeat itself. With
``multiprocess_dir`` set, the jobs instrumentation records one for every processor sharing that directory
and registers the provider that reads it (:mod:`dcm_otel.instrumentation.jobs.heartbeat_files`); an
application that records its own registers its provider here instead. A provider returns the Unix time of
the last poll, or None when none is known: then the heartbeat is reported as unknown and does not fail.
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
