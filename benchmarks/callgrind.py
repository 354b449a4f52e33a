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

_EVENTS = re.compile(r"^events: (.+)$", re.MULTILINE)
_TOTALS = re.compile(r"^(?:summary|totals): (.+)$", re.MULTILINE)
L2_MISSES = ("ILmr", "DLmr", "DLmw")


def l2_simulation(mebibytes: int = 1) -> tuple[str, ...]:
    """Options that add simulated misses of an 8-way, 64-byte-line last-level cache of ``mebibytes`` (1: the
    L2 of the AMD EPYC of docs/benchmarks.md; valgrind otherwise sizes it as the host's L3, which a request's
    working set fits). ``ILmr + DLmr + DLmw`` counts the lines a request brings in from beyond that cache;
    the sizes at which it falls to near zero bound the request's memory footprint."""
    if mebibytes < 1 or mebibytes & (mebibytes - 1):
        raise ValueError(f"a simulated L2 of {mebibytes} MiB: valgrind needs a power of two, 1 or more")
    return ("--cache-sim=yes", f"--LL={mebibytes << 20},8,64")


def require_valgrind() -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")


def events(
    arguments: Sequence[str], env: Mapping[str, str] | None = None, options: Sequence[str] = ()
) -> dict[str, int]:
    """Callgrind's totals of ``python ARGUMENTS`` (every thread), start-up included: ``Ir``, the instructions,
    and with ``options`` such as :func:`l2_simulation` the simulated cache events."""
    with tempfile.TemporaryDirectory(prefix="dcm_otel_bench-callgrind-") as tmp:
        output = Path(tmp) / "out"
        command = ["valgrind", "--tool=callgrind", *options, f"--callgrind-out-file={output}"]
        done = subprocess.run(
            [*command, sys.executable, *arguments],
            env={**os.environ, **(env or {}), "PYTHONHASHSEED": "0"},
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        totals = parse_totals(output.read_text()) if output.exists() else None
    if done.returncode != 0 or totals is None:
        raise RuntimeError(f"callgrind failed:\n{done.stderr[-2000:]}")
    return totals


def parse_totals(profile: str) -> dict[str, int] | None:
    """The program's totals by event name from a callgrind output file; None if it has none."""
    names, totals = _EVENTS.search(profile), _TOTALS.search(profile)
    if names is None or totals is None:
        return None
    return dict(zip(names.group(1).split(), map(int, totals.group(1).split()), strict=True))


def per_unit_events(
    command: Callable[[int], Sequence[str]],
    counts: tuple[int, int],
    env: Mapping[str, str] | None = None,
    options: Sequence[str] = (),
) -> dict[str, int]:
    """Each event per unit: ``command(n)`` for the two counts, their difference over the counts'."""
    more, fewer = counts
    many, few = events(command(more), env, options), events(command(fewer), env, options)
    return {name: (many[name] - few[name]) // (more - fewer) for name in many}


def per_unit(
    command: Callable[[int], Sequence[str]], counts: tuple[int, int], env: Mapping[str, str] | None = None
) -> int:
    """Instructions per unit (:func:`per_unit_events`' ``Ir``)."""
    return per_unit_events(command, counts, env)["Ir"]
