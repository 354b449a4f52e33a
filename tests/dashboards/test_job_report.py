"""``dcm_job_report`` against a real database of seeded jobs: every figure is recomputed here from the same
rows with plain SQL and the statistics module, and must be equal."""

from __future__ import annotations

import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.project_factory import project_env, write_project

SEED = Path(__file__).with_name("seed.py")
SINCE, UNTIL = "2026-03-10", "2026-03-13"
FINISHED = ("completed", "failed", "timeout", "cancelled")
FAILED = ("failed", "timeout")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = write_project(
        tmp_path_factory.mktemp("report"), installed_apps=("container_manager", "dcm_otel")
    )
    shutil.copy(SEED, directory / "seed.py")
    subprocess.run([sys.executable, "seed.py"], cwd=directory, env=project_env(directory), check=True)
    return directory


def command(project: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "dcm_job_report", "--since", SINCE, "--until", UNTIL, *args],
        cwd=project,
        env=project_env(project),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def rows(project: Path) -> list[dict[str, Any]]:
    """The period's rows straight from SQLite, with the host name joined."""
    with sqlite3.connect(project / "db.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        found = conn.execute(
            "SELECT j.*, h.name AS host FROM container_manager_containerjob j "
            "JOIN container_manager_executorhost h ON h.id = j.docker_host_id "
            "WHERE j.created_at >= ? AND j.created_at < ?",
            (SINCE, UNTIL),
        ).fetchall()
    return [dict(row) for row in found]


def seconds(row: dict[str, Any]) -> float:
    return (
        datetime.fromisoformat(row["completed_at"]) - datetime.fromisoformat(row["started_at"])
    ).total_seconds()


def expected(group: Sequence[dict[str, Any]]) -> dict[str, Any]:
    finished = [r for r in group if r["status"] in FINISHED]
    failed = [r for r in finished if r["status"] in FAILED]
    durations = [seconds(r) for r in finished if r["started_at"] and r["completed_at"]]
    cuts = statistics.quantiles(durations, n=100, method="inclusive") if len(durations) > 1 else None
    return {
        "jobs": len(group),
        "failed": len(failed),
        "failure_ratio": len(failed) / len(finished) if finished else None,
        "by_status": dict(Counter(r["status"] for r in group)),
        "p": {p: (cuts[p - 1] if cuts else (durations[0] if durations else None)) for p in (50, 90, 95, 99)},
        "codes": Counter("none" if r["exit_code"] is None else str(r["exit_code"]) for r in failed),
    }


def check(actual: dict[str, Any], group: Sequence[dict[str, Any]]) -> None:
    want = expected(group)
    assert actual["jobs"] == want["jobs"]
    assert actual["failed"] == want["failed"]
    assert actual["failure_ratio"] == pytest.approx(want["failure_ratio"])
    assert actual["by_status"] == want["by_status"]
    for p, value in want["p"].items():
        assert actual["duration_seconds"][f"p{p}"] == pytest.approx(value), p
    if "exit_codes" in actual:
        top = dict(actual["exit_codes"])
        assert all(want["codes"][code] == n for code, n in top.items())
        assert max(top.values(), default=0) == max(want["codes"].values(), default=0)


def test_figures_equal_an_independent_computation(project: Path) -> None:
    report = json.loads(command(project, "--json"))
    period = rows(project)
    assert len(period) == 84  # the seed's six rows before the period are left out
    check(report["totals"], period)
    for field, key in (("by_image", "docker_image"), ("by_host", "host")):
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in period:
            groups.setdefault(row[key] or "(none)", []).append(row)
        assert set(report[field]) == set(groups)
        for name, group in groups.items():
            check(report[field][name], group)
    failing = Counter(r["host"] for r in period if r["status"] in FAILED)
    assert report["top_failing_hosts"] == sorted(failing, key=lambda h: (-failing[h], h))
    days = Counter(r["created_at"][:10] for r in period)
    assert {day: d["jobs"] for day, d in report["by_day"].items()} == dict(days)


def test_text_output_shows_the_same_totals(project: Path) -> None:
    report = json.loads(command(project, "--json"))
    text = command(project)
    totals = report["totals"]
    assert f"jobs {totals['jobs']}, finished {totals['finished']}, failed {totals['failed']}" in text
    for image in report["by_image"]:
        assert image in text
    assert "OOMKilled" in text
    assert "more detail" not in text  # first line of the error only
