"""The profiler's benchmark runs: both states under and past the threshold, a profile per profiled request,
and the look; figures are for docs/benchmarks.md, never asserted."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.__main__ import bench_env
from tests.test_bench_export import _python


def test_the_profiler_benchmark_runs(tmp_path: Path) -> None:
    env = bench_env(tmp_path / "bench.sqlite3", "D")
    out = _python(
        "-m", "benchmarks.profiles", "--rounds", "1", "--requests", "50", "--slow-requests", "2", env=env
    )
    assert re.search(r"under the threshold .*: wall [\d.]+ us off, [\d.]+ us on; process CPU", out), out
    assert re.search(r"past the threshold .* on; 2 profiles, [\d.]+ samples each", out), out
    assert re.search(
        r"sampler's thread: [\d.]+ us CPU per request under .*, [\d.]+ us CPU per sample", out
    ), out
    assert re.search(r"a look over 8 threads 40 frames deep: [\d.]+ us", out), out
