"""The truth test: every exported job figure equals what the database says happened.

A scripted workload (tests/jobs_project/scenario.py) runs >= 20 jobs through the real
``process_container_jobs`` command, with the mock executor and on the real Docker Engine, and prints the
database truth; the OTLP receiver holds what dcm_otel exported.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.otlp_receiver import OtlpReceiver, start_receiver
from tests.project_factory import project_env, write_project
from tests.services.docker_engine import DockerEngine
from tests.test_metrics_contract import documented

HERE = Path(__file__).resolve().parent / "jobs_project"
SETTINGS_TAIL = """
ROOT_URLCONF = "urls_jobs"
DCM_OTEL = {"queue_metrics": "all", "metric_export_interval": 600}
import dcm_otel; dcm_otel.init()
"""
RESULTS = {"completed": "success", "failed": "failure", "timeout": "timeout", "cancelled": "cancelled"}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


def jobs_project(tmp_path: Path, receiver: OtlpReceiver) -> Path:
    project = write_project(tmp_path, settings_tail=SETTINGS_TAIL, installed_apps=("container_manager",))
    for name in ("scenario.py", "queue_mode.py", "urls_jobs.py"):
        shutil.copy(HERE / name, project / name)
    return project


def run_script(project: Path, receiver: OtlpReceiver, script: str, *args: str) -> Any:
    """Run a script of the project in a process of its own; its last stdout line is JSON."""
    env = project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    done = subprocess.run(
        [sys.executable, str(project / script), *args], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_scenario(tmp_path: Path, receiver: OtlpReceiver, executor: str, base_url: str, image: str) -> Any:
    return run_script(jobs_project(tmp_path, receiver), receiver, "scenario.py", executor, base_url, image)


def last_points(receiver: OtlpReceiver, name: str) -> list[tuple[dict[str, Any], Any]]:
    """The points of the last export (cumulative temporality: the totals)."""
    points = [(attrs, point) for _, attrs, point in receiver.metric_points(name)]
    last = max((p.time_unix_nano for _, p in points), default=0)
    return [(attrs, p) for attrs, p in points if p.time_unix_nano == last]


def exports(receiver: OtlpReceiver, name: str) -> list[dict[str, int]]:
    """Per export, in order: status -> summed gauge value."""
    by_time: dict[int, Counter[str]] = {}
    for _, attrs, point in receiver.metric_points(name):
        by_time.setdefault(point.time_unix_nano, Counter())[attrs["dcm.job.status"]] += int(point.as_int)
    return [dict(by_time[t]) for t in sorted(by_time)]


def check_truth(receiver: OtlpReceiver, truth: Any) -> None:
    transitions = Counter[tuple[str, str]]()
    for attrs, point in last_points(receiver, "dcm.job.transitions"):
        assert attrs["dcm.host.name"] == truth["host"]
        transitions[(attrs["dcm.job.previous_status"], attrs["dcm.job.status"])] += int(point.as_int)
    into = Counter[str]()
    for (_, status), n in transitions.items():
        into[status] += n
    assert into["pending"] == transitions[("none", "pending")] == truth["jobs"]
    for status in ("completed", "timeout", "cancelled"):
        assert into[status] == truth["status"][status], status
    assert into["failed"] == truth["status"]["failed"] + 1  # the broken job failed once before its retry
    assert into["retrying"] == 1
    retries = sum(int(p.as_int) for _, p in last_points(receiver, "dcm.job.retries"))
    assert retries == 1

    durations: dict[str, list[Any]] = {}
    for attrs, point in last_points(receiver, "dcm.job.duration"):
        assert attrs["container.image.name"], attrs  # per image too: what the cost per job divides by
        durations.setdefault(attrs["dcm.job.result"], []).append(point)
    for status, result in RESULTS.items():
        runs = [s for st, s in truth["runs"] if st == status]
        points = durations.get(result, [])
        assert sum(p.count for p in points) == len(runs), result
        assert sum(p.sum for p in points) == pytest.approx(sum(runs), abs=1e-6), result
    waits = last_points(receiver, "dcm.job.queue.wait_time")
    assert all(attrs["container.image.name"] for attrs, _ in waits), waits  # the per-image baselines
    assert sum(p.count for _, p in waits) == len(truth["waits"])
    assert sum(p.sum for _, p in waits) == pytest.approx(sum(truth["waits"]), abs=1e-6)

    depth = exports(receiver, "dcm.queue.depth")
    assert depth[0] == truth["moments"][0]
    assert depth[1] == truth["moments"][1]


def check_trace(receiver: OtlpReceiver, truth: Any, docker: bool) -> None:
    spans = receiver.spans()
    run = next(
        s for s in spans if s.name == "dcm.job.run" and s.attributes["dcm.job.id"] == truth["traced_id"]
    )
    request = next(
        s for s in spans if s.name.startswith("POST") and s.attributes.get("http.route") == "/enqueue/"
    )
    assert (request.trace_id, request.span_id) in run_links(receiver, run)
    assert any(s.name == "dcm.processor.poll" for s in spans)
    if docker:
        children = {s.name for s in spans if s.parent_span_id == run.span_id}
        assert {"docker containers.create", "docker containers.start"} <= children
        assert (
            f" 00-{run.trace_id}-{run.span_id}-0" in truth["traced_stdout"]
        )  # the container saw TRACEPARENT


def run_links(receiver: OtlpReceiver, run: Any) -> set[tuple[str, str]]:
    links = set()
    for request in receiver.received.get("/v1/traces", []):
        for rs in request.resource_spans:  # type: ignore[attr-defined]
            for ss in rs.scope_spans:
                for s in ss.spans:
                    if s.span_id.hex() == run.span_id:
                        links |= {(link.trace_id.hex(), link.span_id.hex()) for link in s.links}
    return links


def test_truth_with_the_mock_executor(tmp_path: Path, receiver: OtlpReceiver) -> None:
    truth = run_scenario(tmp_path, receiver, "mock", "", "busybox:latest")
    assert truth["jobs"] >= 20
    check_truth(receiver, truth)
    check_trace(receiver, truth, docker=False)
    check_contract(receiver)


JOB_HOOK = """
def job_hook(span, job):
    span.set_attribute("test.job.command", job.command)
"""


def test_the_job_hook_adds_to_each_run_span(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = jobs_project(tmp_path, receiver)
    (project / "job_hooks.py").write_text(JOB_HOOK)
    settings = project / "settings.py"
    settings.write_text(
        settings.read_text().replace(
            '"metric_export_interval": 600', '"metric_export_interval": 600, "job_hook": "job_hooks.job_hook"'
        )
    )
    truth = run_script(project, receiver, "scenario.py", "mock", "", "busybox:latest")
    runs = {s.attributes["dcm.job.name"]: s for s in receiver.spans() if s.name == "dcm.job.run"}
    assert len(runs) >= truth["jobs"] - 1  # all but the cancelled job, which never ran
    assert runs["ok-0"].attributes["test.job.command"] == "sh -c 'echo ok'"
    assert runs["bad-0"].attributes["test.job.command"] == "sh -c 'exit 3'"
    assert all("test.job.command" in span.attributes for span in runs.values())


def check_contract(receiver: OtlpReceiver) -> None:
    """Every job, queue and processor metric of docs/metrics.md is exported with its documented shape."""
    rows = {
        n: r for n, r in documented().items() if n.startswith(("dcm.job.", "dcm.queue.", "dcm.processor."))
    }
    exported = {n: s for n, s in receiver.metric_shapes().items() if n in rows}
    assert exported.keys() == rows.keys()
    for name, (kind, unit, keys) in exported.items():
        assert (kind, unit, keys) == rows[name], name
    # The heartbeat is the Unix time of the last poll (not an age): at or before the collection exporting
    # it, and within the run.
    polls = last_points(receiver, "dcm.processor.last_poll_time")
    assert polls
    for _, point in polls:
        collected = point.time_unix_nano / 1e9
        assert collected - 300 < point.as_double <= collected, (point.as_double, collected)


@pytest.mark.services
def test_truth_on_the_real_docker_engine(
    tmp_path: Path, receiver: OtlpReceiver, docker_engine: DockerEngine
) -> None:
    truth = run_scenario(tmp_path, receiver, "docker", docker_engine.base_url, docker_engine.image)
    assert truth["status"]["completed"] >= 12
    assert truth["status"]["failed"] >= 6
    assert truth["status"]["timeout"] == 1
    assert truth["status"]["cancelled"] == 1
    check_truth(receiver, truth)
    check_trace(receiver, truth, docker=True)


def check_queue_mode(tmp_path: Path, receiver: OtlpReceiver, executor: str, base_url: str, image: str) -> Any:
    """Launch in queue mode in one process, harvest in another: one run span is exported, by the harvester,
    with the ids the launch stored and put into TRACEPARENT."""
    project = jobs_project(tmp_path, receiver)
    launched = run_script(project, receiver, "queue_mode.py", "launch", executor, base_url, image)
    harvested = run_script(project, receiver, "queue_mode.py", "harvest", executor, base_url, image)
    assert harvested["status"] in RESULTS
    runs = [
        s
        for s in receiver.spans()
        if s.name == "dcm.job.run" and s.attributes["dcm.job.id"] == launched["id"]
    ]
    assert len(runs) == 1  # the launcher's span is never ended, so never exported
    run = runs[0]
    assert run.attributes["dcm.job.status"] == harvested["status"]  # ended by the harvester
    traceparent = launched["otel_run_context"]["traceparent"]
    assert traceparent.startswith(f"00-{run.trace_id}-{run.span_id}-")
    return run, harvested


def test_queue_mode_run_span_keeps_the_launch_ids(tmp_path: Path, receiver: OtlpReceiver) -> None:
    check_queue_mode(tmp_path, receiver, "mock", "", "busybox:latest")


@pytest.mark.services
def test_queue_mode_traceparent_is_the_exported_run_span(
    tmp_path: Path, receiver: OtlpReceiver, docker_engine: DockerEngine
) -> None:
    run, harvested = check_queue_mode(
        tmp_path, receiver, "docker", docker_engine.base_url, docker_engine.image
    )
    assert harvested["status"] == "completed"
    assert f"00-{run.trace_id}-{run.span_id}-0" in harvested["stdout"]  # what the container saw
    children = {s.name for s in receiver.spans() if s.parent_span_id == run.span_id}
    assert {"docker containers.create", "docker containers.start"} <= children  # from the launcher
