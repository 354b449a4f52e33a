"""Docker host health, job container usage and host/process figures, against the real Engine and host.

Each scenario runs in a subprocess of a test project that exports to the OTLP receiver; the test reads the
truth from the Engine itself (its stats API), from the database row and from ``shutil.disk_usage``.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from tests.otlp_receiver import OtlpReceiver, start_receiver
from tests.project_factory import project_env, write_project
from tests.services.docker_engine import DockerEngine
from tests.test_metrics_contract import documented

from . import scripts

FAST = {
    "docker_probe_interval": 1,
    "docker_probe_timeout": 1,
    "container_stats_interval": 1,
    "metric_export_interval": 0.3,
}
TOLERANCE = 0.2


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


def start_script(
    tmp_path: Path, receiver: OtlpReceiver, body: str, settings: dict[str, Any], *args: str
) -> subprocess.Popen[str]:
    tail = f"\nDCM_OTEL = {settings!r}\nimport dcm_otel; dcm_otel.init()\n"
    project = write_project(tmp_path, settings_tail=tail, installed_apps=("container_manager",))
    (project / "script.py").write_text(scripts.PRELUDE + body)
    env = project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    return subprocess.Popen(
        [sys.executable, str(project / "script.py"), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(process: subprocess.Popen[str], timeout: float = 120) -> Any:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def values(receiver: OtlpReceiver, name: str, **match: str) -> list[tuple[int, float]]:
    """(time, value) of every exported point of ``name`` whose attributes include ``match``."""
    points = []
    for _, attrs, point in receiver.metric_points(name):
        if match.items() <= attrs.items():
            value = point.as_double if point.WhichOneof("value") == "as_double" else point.as_int
            points.append((point.time_unix_nano, value))
    return sorted(points)


def check_shapes(receiver: OtlpReceiver, prefixes: tuple[str, ...]) -> None:
    """Every documented metric with these prefixes is exported with its documented type, unit, attributes."""
    rows = {name: row for name, row in documented().items() if name.startswith(prefixes)}
    shapes = {name: shape for name, shape in receiver.metric_shapes().items() if name.startswith(prefixes)}
    assert shapes.keys() == rows.keys()
    for name, (kind, unit, keys) in shapes.items():
        assert (kind, unit) == rows[name][:2], name
        assert keys <= rows[name][2], name


class EngineWatch:
    """Reads the job container's stats straight from the Engine while it runs: the truth to compare with."""

    def __init__(self, engine: DockerEngine) -> None:
        # container id -> (wall time, memory bytes, CPU ns): other tests' containers may share the image
        self.by_container: dict[str, list[tuple[float, int, int]]] = {}
        self._client = engine.client(timeout=10)
        self._image = engine.image
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            for container in self._client.containers.list(filters={"ancestor": self._image}):
                try:
                    raw = self._client.api.stats(container.id, stream=False, one_shot=True)
                except (docker.errors.NotFound, ValueError):  # gone, or exiting (an empty answer)
                    continue
                memory = raw.get("memory_stats", {}).get("usage")
                if memory:
                    cpu = raw["cpu_stats"]["cpu_usage"]["total_usage"]
                    self.by_container.setdefault(container.id, []).append((time.time(), memory, cpu))
            time.sleep(0.2)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(15)
        self._client.close()

    def of(self, container_id: str) -> list[tuple[float, int, int]]:
        """The readings of the container whose id starts with ``container_id`` (the job's identifier)."""
        return next(r for cid, r in self.by_container.items() if cid.startswith(container_id))

    @staticmethod
    def cpus(readings: list[tuple[float, int, int]], window: float = 1.0) -> list[float]:
        """CPUs used over each successive window of about ``window`` seconds."""
        rates, start = [], readings[0]
        for reading in readings[1:]:
            if reading[0] - start[0] >= window:
                rates.append((reading[2] - start[2]) / 1e9 / (reading[0] - start[0]))
                start = reading
        return rates


@pytest.mark.services
def test_container_usage_matches_the_engine_stats(
    tmp_path: Path, receiver: OtlpReceiver, docker_engine: DockerEngine
) -> None:
    watch = EngineWatch(docker_engine)
    settings = {**FAST, "traces_exporter": "otlp"}
    process = start_script(
        tmp_path, receiver, scripts.BUSY_JOB, settings, docker_engine.base_url, docker_engine.image
    )
    try:
        job = finish(process)
    finally:
        watch.stop()
    assert job["status"] == "completed"
    readings = watch.of(job["container_id"])
    assert len(readings) >= 3, "the job should run for a few seconds"  # ~1 s apart, fewer under load
    engine_peak = max(memory for _, memory, _ in readings)
    engine_cpus = statistics.median(watch.cpus(readings))
    assert engine_peak > 40 * 2**20
    assert engine_cpus > 0.1  # busy, even on a loaded machine (the comparison below is what is tested)

    series = {"dcm.host.name": "engine", "container.image.name": docker_engine.image}
    memory = [v for _, v in values(receiver, "container.memory.usage", **series) if v > 0]
    by_time: dict[int, float] = {}
    for mode in ("user", "system"):  # the modes add up to the total, as the Engine's total_usage
        for t, v in values(receiver, "container.cpu.usage", **series, **{"cpu.mode": mode}):
            by_time[t] = by_time.get(t, 0.0) + v
    cpus = [v for v in by_time.values() if v > 0]
    assert max(memory) == pytest.approx(engine_peak, rel=TOLERANCE)
    assert statistics.median(cpus) == pytest.approx(engine_cpus, rel=TOLERANCE)

    # The job row: peak memory, and mean CPU from start to the last reading, as the Engine counted them.
    last_time, _, last_cpu = readings[-1]
    engine_percent = last_cpu / 1e9 / (last_time - job["started_at"]) * 100
    assert job["max_memory_usage"] == pytest.approx(engine_peak, rel=TOLERANCE)
    assert job["cpu_usage_percent"] == pytest.approx(engine_percent, rel=TOLERANCE)
    run = next(
        s for s in receiver.spans() if s.name == "dcm.job.run" and s.attributes["dcm.job.id"] == job["id"]
    )
    assert run.attributes["dcm.job.max_memory_usage"] == job["max_memory_usage"]
    assert run.attributes["dcm.job.cpu_usage_percent"] == job["cpu_usage_percent"]
    # Our own Engine calls make no spans: the one stats span is the app's harvest, inside the job's run.
    stats = [s for s in receiver.spans() if s.name == "docker containers.stats"]
    assert [s.trace_id for s in stats] == [run.trace_id]
    check_shapes(receiver, ("container.",))


def up_values(receiver: OtlpReceiver, since: float) -> list[int]:
    return [
        int(v) for t, v in values(receiver, "dcm.host.up", **{"dcm.host.name": "engine"}) if t / 1e9 > since
    ]


def wait_for_up(receiver: OtlpReceiver, value: int, since: float, within: float) -> float:
    """Seconds from ``since`` until an export says the host's up is ``value``; fails after ``within``."""
    assert receiver.wait_for(lambda: value in up_values(receiver, since), timeout=within), (value, within)
    return time.time() - since


@pytest.mark.services
def test_host_up_follows_the_engine_without_blocking_requests(
    tmp_path: Path, receiver: OtlpReceiver, docker_engine: DockerEngine
) -> None:
    stop_file = tmp_path / "stop"
    settings = {**FAST, "resource_metrics": "all"}
    process = start_script(
        tmp_path, receiver, scripts.SERVE_WHILE_PROBING, settings, docker_engine.base_url, str(stop_file)
    )
    # one probe interval + the timeout, and an export interval plus slack for the receiver
    deadline = FAST["docker_probe_interval"] + FAST["docker_probe_timeout"] + 1.5
    try:
        wait_for_up(receiver, 1, time.time(), within=30)
        with docker_engine.stopped():
            assert wait_for_up(receiver, 0, time.time(), within=deadline) <= deadline
        wait_for_up(receiver, 1, time.time(), within=deadline)
        assert docker_engine.pid is not None
        with docker_engine_hung(docker_engine.pid):
            assert wait_for_up(receiver, 0, time.time(), within=deadline) <= deadline
            time.sleep(3)  # several probe intervals while hung: still one probe in flight at most
        wait_for_up(receiver, 1, time.time(), within=deadline)
    finally:
        stop_file.touch()
        result = finish(process)
    assert result["slowest"] < 0.9  # requests never wait on a probe (a hung one holds for its 1 s timeout)
    assert result["probe_threads"] == 1  # one host (the mock needs no thread), never two probes in flight
    mock = values(receiver, "dcm.host.up", **{"dcm.host.name": "mock-1", "dcm.executor.type": "mock"})
    assert mock
    assert all(v == 1 for _, v in mock)
    assert values(receiver, "dcm.host.cpu.count", **{"dcm.host.name": "engine"})
    check_shapes(receiver, ("dcm.host.",))


class docker_engine_hung:
    """The Engine hangs (SIGSTOP to the dockerd this session started) and resumes (SIGCONT) on exit."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self) -> None:
        import os
        import signal

        os.kill(self.pid, signal.SIGSTOP)

    def __exit__(self, *exc: object) -> None:
        import os
        import signal

        os.kill(self.pid, signal.SIGCONT)


def test_host_and_process_figures(tmp_path: Path, receiver: OtlpReceiver) -> None:
    settings = {"resource_metrics": "all", "metric_export_interval": 600}
    finish(start_script(tmp_path, receiver, scripts.HOST_FIGURES, settings))
    check_shapes(receiver, ("system.", "process."))
    root = {"system.filesystem.mountpoint": "/"}
    used = values(receiver, "system.filesystem.usage", **root, **{"system.filesystem.state": "used"})
    free = values(receiver, "system.filesystem.usage", **root, **{"system.filesystem.state": "free"})
    truth = shutil.disk_usage("/")
    assert used[-1][1] == pytest.approx(truth.used, rel=0.01)
    assert free[-1][1] == pytest.approx(truth.free, rel=0.01)
    rss = values(receiver, "process.memory.usage")
    assert 10 * 2**20 < rss[-1][1] < 2**31
    assert values(receiver, "process.thread.count")[-1][1] >= 1
    assert all(0 <= v <= 1 for _, v in values(receiver, "system.cpu.utilization"))


def test_switching_groups_off(tmp_path: Path, receiver: OtlpReceiver) -> None:
    settings = {"resource_metrics": "all", "host_metrics": ["memory"], "metric_export_interval": 600}
    finish(start_script(tmp_path, receiver, scripts.HOST_FIGURES, settings))
    names = set(receiver.metric_shapes())
    assert {"system.memory.usage", "system.memory.limit"} <= names
    assert not {
        n for n in names if n.startswith("process.") or n.startswith(("system.cpu", "system.filesystem"))
    }
