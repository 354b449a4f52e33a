"""scripts/build-collector.sh: the built binary is the pinned release, and a second run reuses the cache."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .binaries import BUILD_SCRIPT
from .configs import BUILDER_CONFIG


def test_the_binary_is_the_distribution_the_manifest_describes(collector_binary: Path) -> None:
    version = re.search(r"^\s+version: (\S+)$", BUILDER_CONFIG.read_text(), re.MULTILINE)
    assert version is not None
    done = subprocess.run([str(collector_binary), "--version"], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == f"dcm-otelcol version {version.group(1)}"


def test_a_second_build_reuses_the_cached_binary(collector_binary: Path) -> None:
    before = collector_binary.stat().st_mtime_ns
    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "collector"], capture_output=True, text=True, timeout=60, check=True
    )
    assert Path(done.stdout.strip()) == collector_binary
    assert "collector: cached" in done.stderr
    assert collector_binary.stat().st_mtime_ns == before
