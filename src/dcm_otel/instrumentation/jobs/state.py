"""What a job looked like before and after one save: the facts every lifecycle signal is derived from.

The app's own status helpers are unreliable (executors assign ``status`` directly and never set
``launched_at``), so we compare the row as it was in the database with the row as the save leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .attributes import RESULTS

#: Fields a lifecycle signal depends on; a save that writes none of them is ignored.
TRACKED = ("status", "started_at", "completed_at", "queued_at", "created_at", "exit_code", "retry_count")


@dataclass(frozen=True)
class JobState:
    status: str | None = None  # None: the row does not exist yet
    started_at: datetime | None = None
    completed_at: datetime | None = None
    queued_at: datetime | None = None
    created_at: datetime | None = None
    exit_code: int | None = None
    retry_count: int = 0

    @property
    def result(self) -> str | None:
        return RESULTS.get(self.status or "")

    @property
    def finished_run(self) -> bool:
        """A run that started and finished, with both timestamps: what ``dcm.job.duration`` measures."""
        return (
            self.result is not None
            and self.started_at is not None
            and self.completed_at is not None
            and self.completed_at >= self.started_at
        )

    @property
    def run_seconds(self) -> float | None:
        if not self.finished_run or self.started_at is None or self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()

    @property
    def wait_seconds(self) -> float | None:
        """From entering the queue (``queued_at``; ``created_at`` for jobs launched straight from pending)."""
        waited_from = self.queued_at or self.created_at
        if self.started_at is None or waited_from is None:
            return None
        return (self.started_at - waited_from).total_seconds()


def state_of(values: dict[str, Any]) -> JobState:
    known: dict[str, Any] = {name: values[name] for name in TRACKED if name in values}
    return JobState(**known)


def after_save(before: JobState, instance: Any, update_fields: frozenset[str] | None) -> JobState:
    """The row as the save leaves it: fields outside ``update_fields`` keep their database values."""
    written = {
        name: getattr(instance, name)
        for name in TRACKED
        if update_fields is None or name in update_fields or before.status is None
    }
    return replace(before, **written)
