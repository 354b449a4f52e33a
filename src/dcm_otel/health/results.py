"""What a check returns and what a readiness run reports: statuses, latencies and short reasons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "fail", "skipped"]
REASON_LIMIT = 200


@dataclass(frozen=True)
class Outcome:
    """A check's verdict. ``skipped`` (e.g. an optional dependency not installed) does not fail readiness."""

    status: Status
    reason: str = ""


# A check: takes its timeout in seconds (to bound its own client calls); see dcm_otel.health.registry.
CheckFunction = Callable[[float], Outcome | bool | None]


def ok(reason: str = "") -> Outcome:
    return Outcome("ok", reason)


def failing(reason: str) -> Outcome:
    return Outcome("fail", reason)


def skipped(reason: str) -> Outcome:
    return Outcome("skipped", reason)


def as_outcome(value: object) -> Outcome:
    """What a check returned as an Outcome: None and True are ok (``return client.ping()`` works)."""
    if isinstance(value, Outcome):
        return value
    if value is None or value is True:
        return Outcome("ok")
    return Outcome("fail", short(f"the check returned {value!r}"))


def short(text: str) -> str:
    """Reasons are for a probe's body and a log line: one line, bounded."""
    line = " ".join(text.split())
    return line if len(line) <= REASON_LIMIT else line[: REASON_LIMIT - 3] + "..."


def describe(exc: BaseException) -> str:
    """A check that raises fails with the exception's class and message as its reason."""
    message = str(exc)
    return short(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    duration: float
    reason: str = ""


@dataclass(frozen=True)
class Report:
    """One readiness run: ready unless a check failed."""

    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.status != "fail" for r in self.results)

    @property
    def status(self) -> Literal["ok", "fail"]:
        return "ok" if self.ok else "fail"

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.results if r.status == "fail")
