"""Runs a script of a test project in a process of its own, as the project's users would; its last stdout
line is JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.project_factory import project_env


def run_script(project: Path, name: str, script: str, *args: str, **env: str) -> tuple[Any, str]:
    """The script's JSON result and its stderr."""
    (project / name).write_text(script)
    done = subprocess.run(
        [sys.executable, name, *args],
        cwd=project,
        env=project_env(project, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr
