"""docs/metrics.md is the contract: what the code exports has the documented name, type, unit and
attributes, and every documented metric of the exercised features is exported."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.otlp_receiver import OtlpReceiver, start_receiver
from tests.project_factory import project_env, write_project

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
_ROW = re.compile(r"^\| `([a-z0-9_.]+)` \| (\w+) \| `([^`]*)` \| ([^|]*) \|", re.M)


def documented() -> dict[str, tuple[str, str, set[str]]]:
    rows = {}
    for name, kind, unit, attributes in _ROW.findall(DOC.read_text()):
        rows[name] = (kind, unit, set(re.findall(r"`([^`]+)`", attributes)))
    return rows


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


def test_the_table_parses() -> None:
    rows = documented()
    assert "http.server.request.duration" in rows
    assert all(kind in {"histogram", "counter", "updowncounter", "gauge"} for kind, _, _ in rows.values())


def test_exported_metrics_match_the_table(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_project(tmp_path, settings_tail="\nimport dcm_otel; dcm_otel.init()\n")
    env = project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    paths = ["/", "/jobs/6f1c2a43-7d3e-4a4e-9a59-0d8f3f0e1c11/", "/boom/", "/metrics"]
    subprocess.run(
        [sys.executable, str(project / "requests_script.py"), *paths], env=env, check=True, timeout=60
    )
    exported = receiver.metric_shapes()
    rows = documented()
    for name, (kind, unit, keys) in exported.items():
        assert name in rows, f"{name} is exported but not in docs/metrics.md"
        doc_kind, doc_unit, doc_keys = rows[name]
        assert (kind, unit) == (doc_kind, doc_unit), name
        assert keys <= doc_keys, f"{name}: undocumented attributes {keys - doc_keys}"
    http = {name for name in rows if name.startswith("http.server.")}
    assert http <= exported.keys()
    assert exported["http.server.request.duration"][2] == rows["http.server.request.duration"][2]
