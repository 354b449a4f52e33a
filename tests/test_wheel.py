"""The wheel holds the library only: no development tools, benchmarks or test helpers."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_holds_the_library_only(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("dcm_otel-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"dcm_otel", wheel.name.split("-py")[0] + ".dist-info"}
    modules = [name for name in names if name.endswith(".py")]
    assert "dcm_otel/instrumentation/django/middleware.py" in modules
    # The trace explorer's migration, pages and the job admin page's link to them ship too.
    assert {
        "dcm_otel/migrations/0001_initial.py",
        "dcm_otel/dashboard/templates/trace.html",
        "dcm_otel/dashboard/assets/traces.js",
        "dcm_otel/templates/admin/container_manager/containerjob/change_form.html",
    } <= set(names)
    unwanted = [
        name
        for name in modules
        if any(word in name for word in ("devtools", "bench", "test", "private_docker", "private_postgres"))
    ]
    assert unwanted == []
