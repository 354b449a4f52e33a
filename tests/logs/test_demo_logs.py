"""Every line the demo's processes write (runserver, process_container_jobs, and Django in run_demo.py
itself) is one JSON object with the documented fields. Exempt: run_demo.py's own status lines, prefixed
``demo: ``, and its "is up" banner, which are the launcher talking to the person at the terminal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.services._common import free_port, port_open, wait_until

RUN_DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo" / "run_demo.py"
FIELDS = {"timestamp", "level", "logger", "message", "service.name"}
BANNER = (
    "dcm_otel demo is up:",
    "  jobs ",
    "  admin ",
    "  metrics ",
    "  health ",
    "  live ",
    "  traces ",
    "Ctrl-C stops ",
)


def test_every_line_of_the_demo_is_json_with_the_documented_fields(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DEMO_VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, str(RUN_DEMO), "--port", str(port), "--no-docker", "--exit-after", "12"]
    with (tmp_path / "out").open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        assert wait_until(lambda: port_open("127.0.0.1", port) or proc.poll() is not None, 90)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
        assert proc.wait(120) == 0
    finally:
        if proc.poll() is None:  # stopped the way Ctrl-C stops it, so that it stops its children
            proc.send_signal(signal.SIGINT)
            proc.wait(90)
    lines = (tmp_path / "out").read_text().splitlines()
    own = [line for line in lines if not line or line.startswith(("demo: ", *BANNER))]
    records = [json.loads(line) for line in lines if line not in own]
    assert any(line.startswith("demo: ") for line in own)
    assert all(record.keys() >= FIELDS for record in records), [r for r in records if not r.keys() >= FIELDS]
    loggers = {record["logger"] for record in records}
    assert "dcm_otel.jobs" in loggers
    assert "django.server" in loggers
    assert any(name.endswith("commands.runserver") for name in loggers)
    assert any(name.endswith("commands.process_container_jobs") for name in loggers)
    transitions = [r for r in records if r["logger"] == "dcm_otel.jobs" and r["dcm.job.status"] == "running"]
    assert transitions
    assert all(r["trace_id"] and r["dcm.job.id"] for r in transitions)
