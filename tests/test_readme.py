"""CI proves what a new user gets: .ci/run runs the README's own test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    return re.findall(
        r"```bash\n(python3 -m pip install -q nox && python3 -m nox -s \w+)\n```",
        (ROOT / "README.md").read_text(),
    )


def test_ci_runs_the_readme_test_command() -> None:
    commands = readme_commands()
    test_command = next(c for c in commands if c.endswith("-s tests"))
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_readme_has_a_demo_and_a_test_command_backed_by_nox_sessions() -> None:
    sessions = {c.rsplit(" ", 1)[1] for c in readme_commands()}
    assert sessions == {"demo", "tests"}
    noxfile = (ROOT / "noxfile.py").read_text()
    for session in sessions:
        assert f"def {session}(session: nox.Session)" in noxfile
