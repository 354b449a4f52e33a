"""The collector distribution and Jaeger v2, built from Go modules by scripts/build-collector.sh (cached
between runs: a cold build takes minutes, a warm one none), or skip-or-fail when they cannot be built."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.services._common import unavailable

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build-collector.sh"
NO_GO = 3  # the script's exit code when there is no Go toolchain
BUILD_TIMEOUT = 3600.0


def build(target: str) -> Path:
    """The path of the `collector` or `jaeger` binary, built first if the cache lacks it."""
    return Path(run_build_script(BUILD_SCRIPT, target)[-1])


def run_build_script(script: Path, *args: str) -> list[str]:
    """The stdout lines of one of the scripts/build-*.sh (which print what they built or found cached);
    skip-or-fail without a Go toolchain."""
    what = " ".join((script.name, *args))
    try:
        done = subprocess.run(
            ["bash", str(script), *args], capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        unavailable(f"{what} did not finish within {BUILD_TIMEOUT:g} s")
    if done.returncode == NO_GO:
        unavailable(f"cannot run {what}: {done.stderr.strip()}")
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-6000:]}")
    return done.stdout.strip().splitlines()
