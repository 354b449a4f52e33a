"""Jobs are being processed: the oldest waiting ContainerJob is younger than ``queue_max_age`` and, when a
processor heartbeat is known (:mod:`dcm_otel.health.heartbeat`: the processors sharing ``multiprocess_dir``,
or the application's provider), the processor polled within ``heartbeat_max_age``.

"Oldest waiting job" is the adapter's (:func:`dcm_otel._container_manager.oldest_waiting`), shared with the
``dcm.queue.oldest_age`` gauge and the admin page: a job waits from its scheduled time, else from when it
was queued, else from its creation; jobs scheduled for later are not late yet. One query per run.
"""

from __future__ import annotations

import time

from django.utils import timezone

from dcm_otel._container_manager import installed, oldest_waiting, own_connections
from dcm_otel.config import Config
from dcm_otel.health.heartbeat import heartbeat_provider
from dcm_otel.health.results import CheckFunction, Outcome, failing, ok, skipped


def build(config: Config) -> CheckFunction:
    max_age = config.health.queue_max_age
    heartbeat_max_age = config.health.heartbeat_max_age

    def check_queue(timeout: float) -> Outcome:
        if not installed():
            return skipped("container_manager is not installed")
        problems, notes = [], []
        age = oldest_waiting_age()
        if age is None:
            notes.append("no job waiting")
        elif age > max_age:
            problems.append(f"oldest waiting job is {age:.0f} s old (limit {max_age:g} s)")
        else:
            notes.append(f"oldest waiting job {age:.0f} s old")
        provider = heartbeat_provider()
        last_poll = provider() if provider is not None else None
        if last_poll is None:
            notes.append("processor heartbeat unknown")
        elif (since := time.time() - last_poll) > heartbeat_max_age:
            problems.append(f"processor last polled {since:.0f} s ago (limit {heartbeat_max_age:g} s)")
        else:
            notes.append(f"processor polled {since:.0f} s ago")
        return failing("; ".join(problems)) if problems else ok("; ".join(notes))

    return check_queue


def oldest_waiting_age() -> float | None:
    """Seconds the longest-waiting job has been due, or None when no job is waiting."""
    with own_connections():
        oldest = oldest_waiting(timezone.now())
    return None if oldest is None else oldest.age
