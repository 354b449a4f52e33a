"""The process model under gunicorn: per-worker providers after fork, flush at SIGTERM, and one /metrics
that shows the whole server whichever worker answers the scrape."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from tests.otlp_receiver import OtlpReceiver, Span, start_receiver
from tests.project_factory import project_env, write_project
from tests.services._common import free_port, wait_until

pytest.importorskip("gunicorn")

ONE_LINE = "\nimport dcm_otel; dcm_otel.init()\n"


def get_concurrently(url: str, count: int) -> list[str]:
    """Concurrent requests, so that more than one sync worker is busy and all of them serve."""
    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(get, [url] * count))


def get(url: str) -> str:
    request = urllib.request.Request(url, headers={"Connection": "close"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


@contextmanager
def gunicorn(
    project: Path, *args: str, launcher: tuple[str, ...] = (), **env: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """gunicorn serving the project on a free 127.0.0.1 port; stopped (by its PID) at the end. With a
    ``launcher`` (``opentelemetry-instrument``) the gunicorn script runs under it, as users type it."""
    port = free_port()
    program = [*launcher, "gunicorn"] if launcher else [sys.executable, "-m", "gunicorn"]
    command = [*program, "wsgi:application", "-b", f"127.0.0.1:{port}", *args]
    process = subprocess.Popen(
        command,
        cwd=project,
        env=project_env(project, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: _answers(base + "/"), timeout=30), "gunicorn did not start serving"
        yield process, base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _answers(url: str) -> bool:
    try:
        get(url)
    except OSError:
        return False
    return True


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


def test_preload_workers_export_with_their_own_identity_and_flush_at_sigterm(
    tmp_path: Path, receiver: OtlpReceiver
) -> None:
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    pids: list[str] = []
    with gunicorn(
        project,
        "--preload",
        "-w",
        "2",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="600000",  # nothing leaves before shutdown: the SIGTERM flush must do it
    ) as (process, base):
        receiver.received.clear()  # the readiness probe's span, if any, is not part of the count
        for _ in range(10):
            pids += get_concurrently(base + "/pid/", 20)
            if len(set(pids)) == 2:
                break
        assert len(set(pids)) == 2, "both workers should have served"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        output = process.stdout.read() if process.stdout else ""
    assert receiver.wait_for(lambda: len(_pid_spans(receiver)) >= len(pids), timeout=10), output
    spans = _pid_spans(receiver)
    assert len(spans) == len(pids)
    instances = {(s.resource["process.pid"], s.resource["service.instance.id"]) for s in spans}
    assert {str(pid) for pid, _ in instances} == set(pids)
    assert len({instance for _, instance in instances}) == 2


def _pid_spans(receiver: OtlpReceiver) -> list[Span]:
    return [s for s in receiver.spans() if s.kind == ProtoSpan.SPAN_KIND_SERVER and s.name == "GET /pid/"]


_COUNT = re.compile(
    r'^http_server_request_duration_seconds_count\{[^}]*http_route="/pid/"[^}]*\} (\S+)$', re.M
)


def scraped_count(base: str) -> float:
    return sum(float(v) for v in _COUNT.findall(get(base + "/metrics")))


@pytest.mark.parametrize("preload", [False, True])
def test_every_scrape_shows_the_requests_of_all_workers(tmp_path: Path, preload: bool) -> None:
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    requests = 60
    with gunicorn(project, "-w", "3", *(["--preload"] if preload else [])) as (_, base):
        served_by = set(get_concurrently(base + "/pid/", requests))
        assert len(served_by) >= 2, "requests should spread over workers"
        # Another worker's figures reach a scrape with its next snapshot (written every second).
        time.sleep(3)
        counts = [scraped_count(base) for _ in range(10)]
    assert counts == [requests] * 10


def test_gunicorn_worker_restart_keeps_counts_monotonic(tmp_path: Path) -> None:
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    with gunicorn(project, "-w", "2") as (_, base):
        first = set(get_concurrently(base + "/pid/", 30))
        os.kill(int(sorted(first)[0]), signal.SIGTERM)  # gunicorn replaces it; it flushes its snapshot
        assert wait_until(lambda: scraped_count(base) == 30, timeout=15), "30 requests after the restart"
        for _ in range(10):
            get(base + "/pid/")
        assert wait_until(lambda: scraped_count(base) == 40, timeout=15), "40 requests in all"


@pytest.mark.parametrize("preload", [False, True])
def test_opentelemetry_instrument_gunicorn_gives_one_span_per_request_and_one_metrics_view(
    tmp_path: Path, receiver: OtlpReceiver, preload: bool
) -> None:
    project = write_project(tmp_path)  # no dcm_otel line at all: the launcher does everything
    requests = 40
    with gunicorn(
        project,
        "-w",
        "2",
        *(["--preload"] if preload else []),
        launcher=("opentelemetry-instrument",),
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="200",
    ) as (_, base):
        served_by = set(get_concurrently(base + "/pid/", requests))
        assert len(served_by) == 2, "both workers should have served"
        time.sleep(3)  # other workers' figures reach a scrape with their next snapshot
        assert scraped_count(base) == requests
        assert receiver.wait_for(lambda: len(_pid_spans(receiver)) >= requests)
    spans = _pid_spans(receiver)
    assert len(spans) == requests
    assert {str(s.resource["process.pid"]) for s in spans} == served_by
    assert len({s.resource["service.instance.id"] for s in spans}) == 2
