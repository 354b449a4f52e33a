"""The process model under gunicorn: per-worker providers after fork, flush at SIGTERM, and one /metrics
that shows the whole server whichever worker answers the scrape."""

from __future__ import annotations

import itertools
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from prometheus_client.parser import text_string_to_metric_families

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
    project: Path, *args: str, launcher: tuple[str, ...] = (), ready_path: str = "/", **env: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """gunicorn serving the project on a free 127.0.0.1 port. With a ``launcher``
    (``opentelemetry-instrument``) the gunicorn script runs under it, as users type it."""
    port = free_port()
    program = [*launcher, "gunicorn"] if launcher else [sys.executable, "-m", "gunicorn"]
    command = [*program, "wsgi:application", "-b", f"127.0.0.1:{port}", *args]
    with serving(project, command, port, ready_path, **env) as served:
        yield served


@contextmanager
def serving(
    project: Path, command: list[str], port: int, ready_path: str = "/", **env: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A server ``command`` serving the project on 127.0.0.1:``port``, stopped with SIGTERM (by its PID)
    at the end. Readiness is polled on ``ready_path`` (any HTTP answer counts)."""
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
        assert wait_until(lambda: _answers(base + ready_path), timeout=30), f"{command[:3]} did not serve"
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
    except urllib.error.HTTPError:
        return True  # an error status is an answer
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
    return count_in(get(base + "/metrics"))


def count_in(text: str) -> float:
    return sum(float(v) for v in _COUNT.findall(text))


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


# ---- /metrics under load: every scrape, whichever worker answers, is at least the one before

# A view for the kill variant: the worker writes its snapshot, answers with its pid, then blocks (a sync
# worker serves one request at a time), so the SIGKILL finds nothing recorded after the write: what a
# SIGKILL loses by nature (what was recorded since the last write) is kept out of the exact count.
HOLD_VIEW = """

from dcm_otel import handover


class _Held(HttpResponse):
    def close(self):
        super().close()
        time.sleep(600)


def hold(request):
    handover.prometheus().write_snapshot()
    return _Held(str(os.getpid()))


urlpatterns.append(path("hold/", hold))
"""


def monotonic_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every counter sample and every histogram bucket, count and sum, by (name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        if family.type in ("counter", "histogram")
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def decreases(before: dict[Any, float], after: dict[Any, float]) -> list[str]:
    return [
        f"{name}{dict(labels)}: {value} -> {after.get((name, labels))}"
        for (name, labels), value in before.items()
        if after.get((name, labels), -math.inf) < value
    ]


@pytest.mark.parametrize("event", ["none", "sigkill", "reload"])
def test_metrics_never_decrease_under_load_and_end_exact(tmp_path: Path, event: str) -> None:
    """gunicorn -w 3, four clients, a scrape every 50 ms: no counter or histogram sample ever drops between
    two consecutive scrapes, through a worker's SIGKILL or a reload (HUP) too, and once the load stops the
    count equals the requests the clients got answered."""
    project = write_project(tmp_path)
    (project / "urls.py").write_text((project / "urls.py").read_text() + HOLD_VIEW)
    (project / "settings.py").write_text((project / "settings.py").read_text() + ONE_LINE)
    served = [0] * 4
    errors: list[BaseException] = []
    stop = threading.Event()

    def client(index: int, base: str) -> None:
        while not stop.is_set():
            try:
                get(base + "/pid/")
            except OSError as exc:
                errors.append(exc)
                return
            served[index] += 1

    with gunicorn(project, "-w", "3") as (process, base):
        workers = {child.pid for child in psutil.Process(process.pid).children()}
        clients = [threading.Thread(target=client, args=(i, base)) for i in range(len(served))]
        for thread in clients:
            thread.start()
        texts: list[str] = []
        try:
            for round_ in range(80):  # ~50 ms apart, plus the scrape itself: a few seconds of load
                if round_ == 30 and event == "sigkill":
                    victim = int(get(base + "/hold/"))
                    assert victim in workers
                    os.kill(victim, signal.SIGKILL)
                if round_ == 30 and event == "reload":
                    process.send_signal(signal.SIGHUP)
                texts.append(get(base + "/metrics"))
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in clients:
                thread.join(timeout=30)
        assert not errors, errors
        total = sum(served)
        assert wait_until(lambda: scraped_count(base) == total, timeout=15), f"{total} requests in the end"
        texts += [get(base + "/metrics") for _ in range(10)]
        now = {child.pid for child in psutil.Process(process.pid).children()}
    assert event == "none" or now - workers, "the killed or reloaded workers should have been replaced"
    scrapes = [monotonic_samples(text) for text in texts]
    drops = [(i, drop) for i, (a, b) in enumerate(itertools.pairwise(scrapes)) for drop in decreases(a, b)]
    assert not drops, f"{len(drops)} drops in {len(scrapes) - 1} scrape pairs, first ones: {drops[:5]}"
    assert [count_in(text) for text in texts[-10:]] == [total] * 10
