"""Pure figures over plain rows, so the command, the admin page and the tests share one definition."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from dcm_otel._container_manager import FAILURES, TERMINAL

FAILED = frozenset(FAILURES)
FINISHED = frozenset(TERMINAL)
PERCENTILES = (50, 90, 95, 99)
TOP_CAUSES = 3


@dataclass(frozen=True)
class JobRow:
    """The columns of one job the analysis needs, detached from the ORM."""

    image: str
    host: str
    status: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    exit_code: int | None
    last_error: str

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(rows: Sequence[JobRow]) -> dict[str, object]:
    """Counts, failure ratio (failed+timeout over finished) and duration percentiles of ``rows``."""
    finished = [r for r in rows if r.status in FINISHED]
    failed = [r for r in finished if r.status in FAILED]
    durations = [d for r in finished if (d := r.duration) is not None]
    return {
        "jobs": len(rows),
        "finished": len(finished),
        "failed": len(failed),
        "failure_ratio": len(failed) / len(finished) if finished else None,
        "by_status": dict(sorted(Counter(r.status for r in rows).items())),
        "duration_seconds": {f"p{p}": percentile(durations, p) for p in PERCENTILES},
    }


def _causes(rows: Iterable[JobRow]) -> dict[str, object]:
    """The most common exit codes and first lines of errors among failed rows."""
    failed = [r for r in rows if r.status in FAILED]
    errors = Counter(r.last_error.strip().splitlines()[0] for r in failed if r.last_error.strip())
    codes = Counter("none" if r.exit_code is None else str(r.exit_code) for r in failed)
    return {
        "exit_codes": [[code, n] for code, n in codes.most_common(TOP_CAUSES)],
        "errors": [[error, n] for error, n in errors.most_common(TOP_CAUSES)],
    }


def grouped(rows: Sequence[JobRow], field: str) -> dict[str, dict[str, object]]:
    """``summary`` (plus failure causes) per value of ``field`` ("image" or "host")."""
    groups: dict[str, list[JobRow]] = {}
    for row in rows:
        groups.setdefault(getattr(row, field), []).append(row)
    return {key: {**summary(members), **_causes(members)} for key, members in sorted(groups.items())}


def top_failing(groups: dict[str, dict[str, object]], limit: int) -> list[str]:
    """The keys with the most failed jobs (ties by name), only those with at least one failure."""
    failing = [(int(str(g["failed"])), key) for key, g in groups.items() if g["failed"]]
    return [key for _, key in sorted(failing, key=lambda item: (-item[0], item[1]))[:limit]]


def by_day(rows: Sequence[JobRow]) -> dict[str, dict[str, object]]:
    """Per UTC day of creation: jobs, failures and the failure ratio."""
    days: dict[date, list[JobRow]] = {}
    for row in rows:
        days.setdefault(row.created_at.date(), []).append(row)
    trends: dict[str, dict[str, object]] = {}
    for day, members in sorted(days.items()):
        figures = summary(members)
        trends[day.isoformat()] = {k: figures[k] for k in ("jobs", "failed", "failure_ratio")}
    return trends
