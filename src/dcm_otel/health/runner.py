"""Runs the checks concurrently, each bounded by its own timeout, and shares the answer.

* Each check runs in a daemon thread of its own, so a readiness answer takes at most the largest timeout.
* A check whose previous run still hangs is not started again: it fails with "still running since ...".
  So at most one thread per check exists, however many probes arrive; a hung check never leaks threads.
* The report is kept for ``ttl`` seconds, and probes that arrive during a run wait for that run instead of
  starting their own: however hard probes hammer, each check runs at most once per TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from time import monotonic, perf_counter

from opentelemetry import context

from dcm_otel._sdk.suppression import SUPPRESS_INSTRUMENTATION_KEY
from dcm_otel.health.registry import Check
from dcm_otel.health.results import CheckResult, Outcome, Report, as_outcome, describe

Observer = Callable[[Report], None]


class _Attempt:
    """One run of one check; ``result`` is set by its thread when the check returns."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: CheckResult | None = None


class _Slot:
    """The one thread a check may have at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.busy_since: float | None = None  # wall-clock start of the run still in progress

    def start(self, check: Check) -> _Attempt | CheckResult:
        with self.lock:
            if self.busy_since is not None:
                since = datetime.fromtimestamp(self.busy_since, UTC).isoformat(timespec="seconds")
                age = time.time() - self.busy_since
                return CheckResult(check.name, "fail", age, f"still running since {since} ({age:.1f} s)")
            self.busy_since = time.time()
        attempt = _Attempt()
        thread = threading.Thread(
            target=self._work, args=(check, attempt), name=f"dcm-health-{check.name}", daemon=True
        )
        thread.start()
        return attempt

    def _work(self, check: Check, attempt: _Attempt) -> None:
        # A check's DB queries and Docker calls belong to no trace, like the probe that asked for them.
        token = context.attach(context.set_value(SUPPRESS_INSTRUMENTATION_KEY, True))
        start = perf_counter()
        try:
            result = as_outcome(check.function(check.timeout))
        except Exception as exc:
            result = Outcome("fail", describe(exc))
        finally:
            context.detach(token)
        attempt.result = CheckResult(check.name, result.status, perf_counter() - start, result.reason)
        with self.lock:
            self.busy_since = None
        attempt.done.set()


class _Flight:
    """A run in progress that later probes wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.report = Report(())


class Runner:
    """The readiness checks of one process, and their latest report."""

    def __init__(self, checks: Sequence[Check], ttl: float, observer: Observer | None = None) -> None:
        self.checks = tuple(checks)
        self.ttl = ttl
        self._observer = observer
        self._slots = {check.name: _Slot() for check in self.checks}
        self._lock = threading.Lock()
        self._cached: Report | None = None
        self._expires = 0.0
        self._flight: _Flight | None = None

    def report(self) -> Report:
        """The cached report if fresh, else the one from the run in progress, else a new run's."""
        with self._lock:
            if self._cached is not None and monotonic() < self._expires:
                return self._cached
            flight, leader = self._flight, self._flight is None
            if flight is None:
                flight = self._flight = _Flight()
        if not leader:
            flight.done.wait()
            return flight.report
        try:
            flight.report = self._run()
        finally:
            with self._lock:
                self._cached, self._expires, self._flight = flight.report, monotonic() + self.ttl, None
            flight.done.set()
        if self._observer is not None:
            self._observer(flight.report)
        return flight.report

    def _run(self) -> Report:
        start = monotonic()
        started = [(check, self._slots[check.name].start(check)) for check in self.checks]
        results = []
        for check, attempt in started:
            if isinstance(attempt, CheckResult):
                results.append(attempt)
                continue
            attempt.done.wait(max(0.0, start + check.timeout - monotonic()))
            results.append(attempt.result or _timed_out(check))
        return Report(tuple(results))


def _timed_out(check: Check) -> CheckResult:
    return CheckResult(check.name, "fail", check.timeout, f"timed out after {check.timeout:g} s")
