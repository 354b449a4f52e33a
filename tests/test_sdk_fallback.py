"""Every SDK shortcut off, as on an SDK whose internals dcm_otel does not recognise: requests and their
queries give the same spans and metric points as with the shortcuts on, through the SDK's public path.

A ``sitecustomize`` in the project's process makes every ``FeatureCheck`` probe fail before dcm_otel builds
any (the import-time ones included) and writes, at exit, what each check answered."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dcm_otel._sdk import feature_checks
from tests.otlp_receiver import OtlpReceiver, start_receiver
from tests.shop_project import JOB, request, write_shop_project

UNRECOGNISED_SDK = """\
import atexit, json, os

from dcm_otel._sdk.feature_check import FeatureCheck

_init = FeatureCheck.__init__


def _unrecognised():
    raise AttributeError("internals not recognised")


def _with_failing_probe(self, name, fallback, probe):
    _init(self, name, fallback, _unrecognised)


def _report():
    from dcm_otel._sdk import feature_checks

    answers = {f.name: f.available() for f in feature_checks()}
    with open(os.environ["FEATURES_REPORT"], "w") as report:
        json.dump(answers, report)


FeatureCheck.__init__ = _with_failing_probe
atexit.register(_report)
"""
REMOTE_PARENT = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
PATHS: list[str | tuple[str, dict[str, str]]] = [JOB, ("/items/", REMOTE_PARENT), "/n-plus-one/", "/boom/"]
METRICS = ("http.server.request.duration", "db.client.operation.duration")


def telemetry(receiver: OtlpReceiver) -> dict[str, Any]:
    """Spans (with their parent's name, or the remote parent's id) and point counts, without ids or times."""
    spans = receiver.spans()
    names = {s.span_id: s.name for s in spans}
    return {
        "spans": sorted(
            repr((s.name, s.kind, names.get(s.parent_span_id, s.parent_span_id), s.attributes, s.status_code))
            + repr(s.events)
            for s in spans
        ),
        "points": {
            name: sorted(repr((a, p.count)) for _, a, p in receiver.metric_points(name)) for name in METRICS
        },
    }


def test_with_every_shortcut_off_the_telemetry_is_the_same(tmp_path: Path) -> None:
    project = write_shop_project(tmp_path / "project")
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(UNRECOGNISED_SDK)
    report = tmp_path / "features.json"
    seen = []
    for env in ({}, {"PYTHONPATH": f"{project}{os.pathsep}{shim}", "FEATURES_REPORT": str(report)}):
        receiver = start_receiver()
        try:
            answers = request(project, receiver, *PATHS, **env)
            assert [status for status, _ in answers.values()] == [200, 200, 200, 500]
            seen.append(telemetry(receiver))
        finally:
            receiver.close()
    on, off = seen
    assert json.loads(report.read_text()) == {feature.name: False for feature in feature_checks()}
    assert len(on["spans"]) >= 4 + 3  # a SERVER span per request and the queries under them
    assert all(on["points"].values())
    assert off == on
