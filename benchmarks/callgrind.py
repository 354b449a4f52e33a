"""Instructions executed by a Python command under valgrind callgrind: deterministic to about 1% where
times on a shared machine are not. Each measurement is the difference of two runs that differ only in a
count, so the interpreter's start-up and the set-up cancel out; the measured command ends with
``os._exit`` (the interpreter's shutdown would not cancel out either)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_COLLECTED = re.compile(r"Collected : (\d+)")


def require_valgrind() -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")


def instructions(arguments: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Instructions of ``python ARGUMENTS`` (every thread), start-up included."""
    with tempfile.TemporaryDirectory(prefix="dcm_otel_bench-callgrind-") as tmp:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={Path(tmp) / 'out'}"]
        done = subprocess.run(
            [*command, sys.executable, *arguments],
            env={**os.environ, **(env or {}), "PYTHONHASHSEED": "0"},
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
    match = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"callgrind failed:\n{done.stderr[-2000:]}")
    return int(match.group(1))


def per_unit(
    command: Callable[[int], Sequence[str]], counts: tuple[int, int], env: Mapping[str, str] | None = None
) -> int:
    """Instructions per unit: ``command(n)`` for the two counts, their difference over the counts'."""
    more, fewer = counts
    return (instructions(command(more), env) - instructions(command(fewer), env)) // (more - fewer)
