"""The Prometheus endpoint: equal to the OpenTelemetry exporter for one process, and the sum of all the
processes sharing a directory, with real processes: subprocesses, a fork, and gunicorn -w 3."""

from __future__ import annotations

import inspect
import itertools
import logging
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import psutil
import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from packaging.version import Version
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dcm_otel.process import is_gunicorn_command
from dcm_otel.prometheus import PrometheusEndpoint, default_multiprocess_dir, prepare_multiprocess_dir
from dcm_otel.prometheus._figures import MetricId, ScopeId
from dcm_otel.prometheus._merge import sum_figures
from tests.services._common import free_port

APP_DIR = Path(__file__).parent / "prometheus_app"
RECORDER = APP_DIR / "recorder.py"
RESOURCE = Resource.create({"service.name": "shop", "service.instance.id": "instance-1", "process.pid": 42})


# ---- helpers


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition by (name, labels); parsing also proves the text is valid."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    """The one sample called ``name`` whose labels include ``labels``; None when there is none."""
    found = [
        v for (n, ls), v in samples(text).items() if n == name and set(labels.items()) <= dict(ls).items()
    ]
    assert len(found) <= 1, f"{len(found)} samples match {name} {labels}"
    return found[0] if found else None


def render_text(endpoint: PrometheusEndpoint) -> str:
    body, content_type = endpoint.render()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    return body.decode()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def endpoints() -> Iterator[list[PrometheusEndpoint]]:
    """Endpoints made by a test, shut down after it so no writer thread outlives it."""
    made: list[PrometheusEndpoint] = []
    yield made
    for endpoint in made:
        endpoint.shutdown()


@pytest.fixture
def shared_dir(tmp_path: Path) -> str:
    path = tmp_path / "metrics"
    path.mkdir(mode=0o700)
    return str(path)


def record_in_subprocess(directory: str, count: int, *options: str) -> None:
    subprocess.run([sys.executable, str(RECORDER), directory, str(count), *options], check=True, timeout=60)


def instruments(provider: MeterProvider) -> None:
    """A counter, an up-down counter and a histogram with attributes that need sanitising."""
    meter = provider.get_meter("shop.checkout", "2.1")
    orders = meter.create_counter("shop.orders", unit="1", description="Orders placed")
    carts = meter.create_up_down_counter("shop.carts.open", description="Open carts")
    duration = meter.create_histogram("http.server.request.duration", unit="s", description="Request time")
    orders.add(3, {"payment.method": "card", "http.route": "/pay"})
    orders.add(2, {"payment.method": "cash", "http.route": "/pay"})
    carts.add(5)
    carts.add(-2)
    for seconds in (0.004, 0.3, 0.3, 7.0):
        duration.record(seconds, {"http.route": "/pay", "http.response.status_code": 200})


# ---- one process


def exporter_reader() -> tuple[PrometheusMetricReader, CollectorRegistry]:
    """The exporter's own reader on a registry of its own (before contrib 0.62 it took no ``registry=``: its
    collector, on the global registry until the reader shuts down, is read through a registry of ours)."""
    registry = CollectorRegistry()
    if "registry" in inspect.signature(PrometheusMetricReader).parameters:
        return PrometheusMetricReader(registry=registry), registry
    reader = PrometheusMetricReader()
    registry.register(reader._collector)
    return reader, registry


#: The exporter labels each point with its scope from contrib 0.64b0 on; /metrics is its translation.
SCOPE_LABELS = Version(version("opentelemetry-exporter-prometheus")) >= Version("0.64b0")


def test_single_process_output_equals_the_opentelemetry_exporter(endpoints: list[PrometheusEndpoint]) -> None:
    endpoint = PrometheusEndpoint(None)
    endpoints.append(endpoint)
    exporter, registry = exporter_reader()
    provider = MeterProvider(resource=RESOURCE, metric_readers=[endpoint.reader, exporter])
    instruments(provider)

    text = render_text(endpoint)

    assert sorted(text.splitlines()) == sorted(generate_latest(registry).decode().splitlines())
    scope = {"otel_scope_name": "shop.checkout", "otel_scope_version": "2.1"} if SCOPE_LABELS else {}
    assert value(text, "shop_orders_total", payment_method="card", http_route="/pay", **scope) == 3
    assert value(text, "shop_orders_total", payment_method="cash", **scope) == 2
    assert value(text, "shop_carts_open", **scope) == 3
    duration = "http_server_request_duration_seconds"
    assert value(text, f"{duration}_count", http_route="/pay", http_response_status_code="200") == 4
    assert value(text, f"{duration}_sum", http_route="/pay") == pytest.approx(7.604)
    assert value(text, f"{duration}_bucket", le="0.0") == 0
    assert value(text, f"{duration}_bucket", le="5.0") == 3
    assert value(text, f"{duration}_bucket", le="+Inf") == 4
    assert value(text, "target_info", service_name="shop", service_instance_id="instance-1") == 1
    names = {name for name, _ in samples(text)}
    assert names == {
        "target_info",
        "shop_orders_total",
        "shop_carts_open",
        f"{duration}_bucket",
        f"{duration}_count",
        f"{duration}_sum",
    }
    provider.shutdown()


def test_multiprocess_mode_alone_equals_the_exporter_but_for_per_process_resource_attributes(
    endpoints: list[PrometheusEndpoint], shared_dir: str
) -> None:
    endpoint = PrometheusEndpoint(shared_dir)
    endpoints.append(endpoint)
    exporter, registry = exporter_reader()
    provider = MeterProvider(resource=RESOURCE, metric_readers=[endpoint.reader, exporter])
    instruments(provider)

    ours = render_text(endpoint).splitlines()
    theirs = generate_latest(registry).decode().splitlines()

    def without_target_info(lines: list[str]) -> list[str]:
        return sorted(line for line in lines if not line.startswith("target_info"))

    assert without_target_info(ours) == without_target_info(theirs)
    (target_info,) = [line for line in ours if line.startswith("target_info")]
    assert 'service_name="shop"' in target_info
    assert "service_instance_id" not in target_info
    assert "process_pid" not in target_info
    provider.shutdown()


def test_openmetrics_is_served_when_asked_for(endpoints: list[PrometheusEndpoint]) -> None:
    endpoint = PrometheusEndpoint(None)
    endpoints.append(endpoint)
    provider = MeterProvider(resource=RESOURCE, metric_readers=[endpoint.reader])
    instruments(provider)

    body, content_type = endpoint.render("application/openmetrics-text; version=1.0.0,text/plain;q=0.5")

    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    assert b'shop_orders_total{http_route="/pay"' in body
    provider.shutdown()


def test_render_without_a_provider_is_empty_not_an_error(endpoints: list[PrometheusEndpoint]) -> None:
    endpoint = PrometheusEndpoint(None)
    endpoints.append(endpoint)
    assert endpoint.render() == (b"", "text/plain; version=0.0.4; charset=utf-8")


def test_default_multiprocess_dir_is_none_outside_gunicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "gunicorn.arbiter", raising=False)
    assert default_multiprocess_dir() is None


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["/venv/bin/python", "/venv/bin/gunicorn", "app:application"], True),
        (["/venv/bin/gunicorn", "-w", "3", "app:application"], True),
        (["python3", "-u", "-m", "gunicorn", "app:application"], True),
        (["gunicorn: master [app]"], True),
        (["/venv/bin/python", "/venv/bin/pytest", "tests/test_gunicorn.py", "-k", "gunicorn"], False),
        (["python", "-m", "pytest", "-m", "gunicorn"], False),
        (["bash"], False),
        ([], False),
    ],
)
def test_only_the_program_tells_a_gunicorn_master(command: list[str], expected: bool) -> None:
    assert is_gunicorn_command(command) is expected


# ---- several processes, no server


def test_figures_of_finished_and_live_processes_add_up(
    endpoints: list[PrometheusEndpoint], shared_dir: str
) -> None:
    for count in (1, 2, 3):
        record_in_subprocess(shared_dir, count)
    holder = subprocess.Popen(
        [sys.executable, str(RECORDER), shared_dir, "10", "hold"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"ready\n"
        endpoint = PrometheusEndpoint(shared_dir, write_interval=0.1)
        endpoints.append(endpoint)
        provider = MeterProvider(metric_readers=[endpoint.reader])
        provider.get_meter("recorder", "1.0").create_counter("jobs", description="Jobs done").add(
            100, {"queue": "default"}
        )

        text = render_text(endpoint)

        assert value(text, "jobs_total", queue="default") == 116
        assert value(text, "job_duration_seconds_count") == 4
        assert value(text, "job_duration_seconds_sum") == pytest.approx(1.6)
        assert value(text, "jobs_running") == 1  # only the live holder's
        assert value(text, "queue_depth") == 10  # only the live holder's
    finally:
        holder.communicate(b"\n", timeout=30)

    text = render_text(endpoint)
    assert value(text, "jobs_total", queue="default") == 116
    assert value(text, "job_duration_seconds_count") == 4
    assert value(text, "jobs_running") is None
    assert value(text, "queue_depth") is None
    provider.shutdown()


def test_finished_processes_are_folded_into_the_archive(
    endpoints: list[PrometheusEndpoint], shared_dir: str
) -> None:
    for count in (1, 2, 3):
        record_in_subprocess(shared_dir, count)  # each one, at exit, folds the ones before it
    endpoint = PrometheusEndpoint(shared_dir, write_interval=0.05)
    endpoints.append(endpoint)
    provider = MeterProvider(metric_readers=[endpoint.reader])
    meter = provider.get_meter("recorder", "1.0")
    meter.create_counter("jobs", description="Jobs done").add(100, {"queue": "default"})

    def process_files() -> list[str]:
        return sorted(path.name for path in Path(shared_dir).glob("*-*.json"))

    wait_until(
        lambda: process_files() == [f"{endpoint._identity.stem}.json"],
        timeout=10,
        what="the files to be folded",
    )

    alive = sorted(path.name for path in Path(shared_dir).glob("*.alive"))
    assert alive == [f"{endpoint._identity.stem}.alive"], "a folded process's liveness file goes too"
    text = render_text(endpoint)
    assert value(text, "jobs_total", queue="default") == 106
    assert value(text, "job_duration_seconds_count") == 3
    record_in_subprocess(shared_dir, 4)
    assert value(render_text(endpoint), "jobs_total", queue="default") == 110
    provider.shutdown()


def test_a_forked_child_adds_only_what_it_recorded(
    endpoints: list[PrometheusEndpoint], shared_dir: str
) -> None:
    endpoint = PrometheusEndpoint(shared_dir, write_interval=0.05)
    endpoints.append(endpoint)
    provider = MeterProvider(metric_readers=[endpoint.reader])
    jobs = provider.get_meter("forking").create_counter("jobs")
    running = provider.get_meter("forking").create_up_down_counter("jobs.running")
    jobs.add(7)
    running.add(1)

    pid = os.fork()
    if pid == 0:  # the child: whatever happens, never return into pytest
        try:
            jobs.add(5)
            running.add(1)
            endpoint.shutdown()  # os._exit skips atexit: write the final snapshot explicitly
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0

    text = render_text(endpoint)
    assert value(text, "jobs_total") == 12  # 7 + 5, not 7 + (7 + 5)
    assert value(text, "jobs_running") == 1  # the child's +1 ended with it; the inherited +1 is the parent's
    provider.shutdown()


def test_damaged_files_are_skipped(endpoints: list[PrometheusEndpoint], shared_dir: str) -> None:
    record_in_subprocess(shared_dir, 2)
    (Path(shared_dir) / "999999999-1.json").write_text('{"format": 1, "written": 1, "metrics": [{"kind"')
    (Path(shared_dir) / "999999998-1.json").write_text('{"format": 1, "written": 1, "metrics": {"x": 1}}')
    endpoint = PrometheusEndpoint(shared_dir)
    endpoints.append(endpoint)

    assert value(render_text(endpoint), "jobs_total", queue="default") == 2


def test_histograms_with_different_bounds_keep_the_own_ones(
    endpoints: list[PrometheusEndpoint], shared_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    record_in_subprocess(shared_dir, 2, "bounds=1,2,3")
    endpoint = PrometheusEndpoint(shared_dir)
    endpoints.append(endpoint)
    provider = MeterProvider(metric_readers=[endpoint.reader])
    provider.get_meter("recorder", "1.0").create_histogram("job.duration", unit="s").record(0.5)

    with caplog.at_level(logging.WARNING, logger="dcm_otel.prometheus"):
        first, second = render_text(endpoint), render_text(endpoint)

    for text in (first, second):
        assert value(text, "job_duration_seconds_count") == 1
        assert value(text, "job_duration_seconds_bucket", le="5.0") == 1
        assert value(text, "job_duration_seconds_bucket", le="2.0") is None
    assert value(first, "jobs_total", queue="default") == 2
    assert len([r for r in caplog.records if "different bucket bounds" in r.getMessage()]) <= 1
    provider.shutdown()


def test_prepare_multiprocess_dir_starts_from_zero(
    endpoints: list[PrometheusEndpoint], tmp_path: Path
) -> None:
    directory = str(tmp_path / "fresh")
    prepare_multiprocess_dir(directory)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    record_in_subprocess(directory, 3)
    endpoint = PrometheusEndpoint(directory)
    endpoints.append(endpoint)
    assert value(render_text(endpoint), "jobs_total", queue="default") == 3

    prepare_multiprocess_dir(directory)

    assert value(render_text(endpoint), "jobs_total", queue="default") is None


# ---- gunicorn -w 3


def get(url: str) -> tuple[bytes, int]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read(), int(response.headers["X-Pid"])


class Gunicorn:
    """gunicorn -w 3 serving tests/prometheus_app/app.py, stopped by its pid."""

    def __init__(self, preload: bool, log: Path, write_interval: float = 0.2) -> None:
        self.write_interval = write_interval
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Both launches, as the directory is found from the program: the script, and python -m gunicorn.
        program = (
            [sys.executable, "-m", "gunicorn"]
            if preload
            else [str(Path(sys.executable).with_name("gunicorn"))]
        )
        command = [
            *program,
            "--workers=3",
            f"--bind=127.0.0.1:{self.port}",
            f"--config={APP_DIR / 'gunicorn_conf.py'}",
            f"--pythonpath={APP_DIR.parent}",
            "--graceful-timeout=10",
            *(["--preload"] if preload else []),
            "prometheus_app.app:application",
        ]
        env = {**os.environ, "PROMETHEUS_APP_WRITE_INTERVAL": str(write_interval)}
        self.log = log.open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._answers, timeout=30, what="gunicorn to answer")
        wait_until(lambda: len(self.workers()) == 3, timeout=30, what="3 workers")

    def _answers(self) -> bool:
        assert self.process.poll() is None, "gunicorn exited"
        try:
            get(f"{self.url}/metrics")
        except OSError:
            return False
        return True

    def workers(self) -> set[int]:
        return {child.pid for child in psutil.Process(self.process.pid).children()}

    def send(self, count: int) -> set[int]:
        """``count`` requests, 8 at a time; the pids that served them."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            return {pid for _, pid in pool.map(lambda _: get(f"{self.url}/"), range(count))}

    def scrape(self) -> str:
        return get(f"{self.url}/metrics")[0].decode()

    def settle(self) -> None:
        """Let every worker's writer thread write what it recorded."""
        time.sleep(self.write_interval * 5)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture(
    params=[(False, signal.SIGTERM), (True, signal.SIGTERM), (True, signal.SIGKILL)],
    ids=lambda p: ("preload-" if p[0] else "") + signal.Signals(p[1]).name,
)
def scenario(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Gunicorn, bool, int]]:
    preload, kill_signal = request.param
    server = Gunicorn(preload, tmp_path / "gunicorn.log")
    try:
        yield server, preload, kill_signal
    finally:
        server.stop()
        print((tmp_path / "gunicorn.log").read_text())  # pytest shows it when the test failed


def assert_every_scrape(server: Gunicorn, expected: Callable[[str], None], scrapes: int = 10) -> None:
    for _ in range(scrapes):
        expected(server.scrape())


def test_gunicorn_workers_are_summed_and_stay_monotonic_across_a_worker_restart(
    scenario: tuple[Gunicorn, bool, int],
) -> None:
    server, preload, kill_signal = scenario
    master = server.process.pid
    (directory,) = Path(tempfile.gettempdir()).glob(f"dcm_otel-{master}-*")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    imported_once = 5  # app.IMPORT_COUNT: by the master with --preload, by every worker without

    n = 60
    served = server.send(n)
    assert len(served) >= 2, f"all {n} requests went to one worker: {served}"
    server.settle()

    def first_round(text: str) -> None:
        assert value(text, "app_requests_total", path="/") == n
        assert value(text, "app_request_duration_seconds_count") == n
        assert value(text, "app_requests_total", path="/import") == imported_once * (1 if preload else 3)
        assert value(text, "app_serving_workers") == len(served)
        assert "service_instance_id" not in text

    assert_every_scrape(server, first_round)

    victim = sorted(served)[0]
    os.kill(victim, kill_signal)
    wait_until(
        lambda: victim not in server.workers() and len(server.workers()) == 3, 30, "a replacement worker"
    )
    m = 30
    served |= server.send(m)
    server.settle()
    alive_served = {pid for pid in served if pid in server.workers()}

    def second_round(text: str) -> None:
        assert value(text, "app_requests_total", path="/") == n + m
        assert value(text, "app_request_duration_seconds_count") == n + m
        assert value(text, "app_requests_total", path="/import") == imported_once * (1 if preload else 4)
        assert value(text, "app_serving_workers") == len(alive_served)

    assert_every_scrape(server, second_round)

    server.stop()
    assert not directory.exists(), "on_exit should remove the directory"
    assert re.fullmatch(rf"dcm_otel-{master}-\d+", directory.name)


@pytest.mark.parametrize("preload", [False, True], ids=["", "preload"])
def test_gunicorn_workers_write_a_final_snapshot_at_graceful_exit(preload: bool, tmp_path: Path) -> None:
    """With no periodic writes at all, a reload (HUP: new workers, old ones stopped gracefully) must keep
    every request the old workers served: their exit snapshots are all the new workers can read."""
    left_behind = Path(tempfile.gettempdir()) / "dcm_otel-999999999-1"  # by a stopped server without on_exit
    left_behind.mkdir(mode=0o700, exist_ok=True)
    (left_behind / "999999998-1.json").write_text("{}")
    server = Gunicorn(preload, tmp_path / "gunicorn.log", write_interval=3600)
    try:
        assert not left_behind.exists(), "the directory of a stopped server should be removed"
        old_workers = server.workers()
        n = 40
        server.send(n)
        os.kill(server.process.pid, signal.SIGHUP)
        wait_until(
            lambda: not server.workers() & old_workers and len(server.workers()) == 3, 30, "the new workers"
        )

        assert_every_scrape(
            server, lambda text: _assert_equal(value(text, "app_requests_total", path="/"), n)
        )
    finally:
        server.stop()
        print((tmp_path / "gunicorn.log").read_text())


def _assert_equal(actual: object, expected: object) -> None:
    assert actual == expected


def test_float_sums_do_not_depend_on_the_order_of_the_processes() -> None:
    """Each worker answers a scrape listing itself first: (0.1 + 0.2) + 0.3 > (0.3 + 0.2) + 0.1 in floats,
    which Prometheus would read as a counter reset. The archive rounds up, so a fold never lowers the sum."""
    metric = MetricId(ScopeId("s", None, None, ()), "c", "", "", "counter")
    parts = [{metric: {(): value}} for value in (0.1, 0.2, 0.3)]
    totals = {
        sum_figures([(part, True) for part in order], lambda _: None)[metric][()]
        for order in itertools.permutations(parts)
    }
    assert totals == {0.6}
    archive = sum_figures([(parts[0], False), (parts[1], False)], lambda _: None, round_up=True)
    assert sum_figures([(archive, False), (parts[2], False)], lambda _: None)[metric][()] >= 0.6
