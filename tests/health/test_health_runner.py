"""The runner in-process, with plain functions as checks: concurrency, timeouts, hung checks, the shared
cached answer, and the status-change log."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

import pytest

from dcm_otel.health.registry import Check
from dcm_otel.health.results import Outcome, Report, failing
from dcm_otel.health.runner import Runner
from dcm_otel.health.telemetry import HealthTelemetry


def sleeper(seconds: float) -> Check:
    return Check(f"sleep{seconds}", lambda timeout: time.sleep(seconds), timeout=2.0)


def test_checks_run_concurrently() -> None:
    runner = Runner([sleeper(0.3), sleeper(0.31), sleeper(0.32)], ttl=0)
    start = time.monotonic()
    report = runner.report()
    assert time.monotonic() - start < 0.85  # one after another they take 0.93 s
    assert report.ok
    assert [r.status for r in report.results] == ["ok", "ok", "ok"]
    assert all(0.29 < r.duration < 0.85 for r in report.results)


def test_a_raising_check_fails_with_the_exception_as_reason() -> None:
    def broken(timeout: float) -> None:
        raise ConnectionRefusedError("nobody home")

    report = Runner([Check("broken", broken, 1.0)], ttl=0).report()
    assert not report.ok
    assert report.failing == ("broken",)
    assert report.results[0].reason == "ConnectionRefusedError: nobody home"


def test_skipped_does_not_fail_readiness() -> None:
    report = Runner([Check("opt", lambda t: Outcome("skipped", "not installed"), 1.0)], ttl=0).report()
    assert report.ok
    assert report.results[0].status == "skipped"


def test_a_hung_check_fails_within_its_timeout_and_never_gets_a_second_thread() -> None:
    release = threading.Event()
    runner = Runner([Check("hang", lambda timeout: release.wait(), 0.2), sleeper(0.01)], ttl=0)
    threads_before = threading.active_count()
    try:
        start = time.monotonic()
        first = runner.report()
        assert time.monotonic() - start < 0.5
        assert first.failing == ("hang",)
        assert first.results[0].reason == "timed out after 0.2 s"
        for _ in range(20):
            start = time.monotonic()
            again = runner.report()
            assert time.monotonic() - start < 0.3
            assert again.results[0].status == "fail"
            assert again.results[0].reason.startswith("still running since ")
            assert again.results[1].status == "ok"
        assert threading.active_count() <= threads_before + 1  # the one hung thread
    finally:
        release.set()
    time.sleep(0.05)
    assert runner.report().ok  # once it returns, the check runs again


def test_concurrent_probes_share_one_run_per_ttl() -> None:
    runs: Counter[str] = Counter()

    def counted(timeout: float) -> None:
        runs["db"] += 1
        time.sleep(0.1)

    runner = Runner([Check("db", counted, 1.0)], ttl=0.5)
    reports: list[Report] = []
    barrier = threading.Barrier(200)

    def probe() -> None:
        barrier.wait()
        reports.append(runner.report())

    threads = [threading.Thread(target=probe) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reports) == 200
    assert runs["db"] == 1
    assert len({id(r) for r in reports}) == 1
    time.sleep(0.5)
    runner.report()
    assert runs["db"] == 2


def test_a_status_change_logs_one_structured_event(caplog: pytest.LogCaptureFixture) -> None:
    state = {"outcome": failing("down")}
    runner = Runner([Check("db", lambda timeout: state["outcome"], 1.0)], ttl=0, observer=HealthTelemetry())
    with caplog.at_level(logging.INFO, logger="dcm_otel.health"):
        runner.report()
        runner.report()
        state["outcome"] = Outcome("ok")
        runner.report()
        runner.report()
    events = [r for r in caplog.records if getattr(r, "event.name", None) == "dcm.health.check.status_change"]
    assert [(r.levelname, getattr(r, "dcm.health.check.status")) for r in events] == [
        ("WARNING", "fail"),
        ("INFO", "ok"),
    ]
    assert getattr(events[0], "dcm.health.check.reason") == "down"
    assert getattr(events[0], "dcm.health.check.name") == "db"
