"""The benchmark with telemetry leaving the process: its receiver decodes what the exporters send (the
built collector, or the Python receiver without it), and a smoke run prints both tables with their bars."""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from benchmarks import callgrind, receiver, request_instructions
from benchmarks.__main__ import bench_env
from benchmarks.breakdown import VARIANTS
from benchmarks.configs import OTLP_ENDPOINT
from benchmarks.http import WRK
from benchmarks.inprocess import WARMUP
from benchmarks.log_instructions import STEPS
from benchmarks.receiver import otlp_receiver
from tests.otlp_receiver import start_receiver

ROOT = Path(__file__).resolve().parent.parent


def _post(endpoint: str, body: bytes) -> int | None:
    """The status of an OTLP/HTTP traces request, None when the receiver dropped the connection."""
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
        return connection.getresponse().status
    except (ConnectionError, http.client.HTTPException):
        return None
    finally:
        connection.close()


@pytest.mark.parametrize("kind", ["collector", "python"])
def test_receiver_accepts_exported_spans_and_refuses_garbage(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if kind == "python":
        monkeypatch.setattr(receiver, "cached_collector", lambda: None)
    elif receiver.cached_collector() is None:
        pytest.skip("dcm-otelcol is not built (nox -s collector); the benchmark uses the Python receiver")
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    with provider.get_tracer("bench").start_as_current_span("request", attributes={"k": "é" * 50}):
        pass
    with otlp_receiver() as running:
        assert ("dcm-otelcol" in running.description) == (kind == "collector")
        exporter = OTLPSpanExporter(endpoint=running.endpoint + "/v1/traces", timeout=10)
        assert exporter.export(spans.get_finished_spans()) is SpanExportResult.SUCCESS
        assert _post(running.endpoint, b"\xff\xff\xff") != 200  # it decodes: not a sink for any bytes


def _python(*args: str, env: dict[str, str] | None = None) -> str:
    """The stdout of ``python ARGS`` run from the repository root, which must succeed."""
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_smoke_run_prints_both_tables_and_every_bar() -> None:
    http = ["--http-rounds", "1", "--http-seconds", "1"]
    skipped = ["--asgi-rounds", "0", "--docker-calls", "0", "--queue-jobs", "0", "--log-records", "0"]
    skipped += ["--trace-store-rounds", "0", "--profile-rounds", "0"]
    out = _python("-m", "benchmarks", "--rounds", "1", "--requests", "50", *http, *skipped)
    assert "telemetry exported over OTLP/HTTP" in out
    assert "exporters that discard" in out
    for mode in ("otlp", "discard"):
        for metric in ("wall", "CPU"):
            assert f"{mode}, {metric}: trivial view D added / B added = " in out
            assert f"{mode}, {metric}: 5-query view D added / C added = " in out
    if Path(WRK).exists():
        assert "http: trivial view D / A throughput = " in out
        assert "http: trivial view A / D worker CPU per request = " in out


@pytest.mark.parametrize("config", ["C", "D"])
def test_exporting_configurations_send_traces_metrics_and_logs(config: str, tmp_path: Path) -> None:
    database = tmp_path / "bench.sqlite3"
    _python("-m", "benchmarks.prepare", env=bench_env(database))
    received = start_receiver()
    try:
        env = {**bench_env(database, config), OTLP_ENDPOINT: received.endpoint}
        _python("-m", "benchmarks.inprocess", config, "10", env=env)
        spans, logs = received.spans(), received.logs()
    finally:
        received.close()
    # warm-up and measured requests of both views, flushed before the process ended
    assert sum(s.kind == ProtoSpan.SPAN_KIND_SERVER for s in spans) >= 2 * (WARMUP + 10)
    assert sum(s.kind == ProtoSpan.SPAN_KIND_CLIENT for s in spans) >= 5 * (WARMUP + 10)  # the queries
    assert sum(log.body == "trivial view served" for log in logs) >= WARMUP + 10
    assert received.received.get("/v1/metrics")


def test_breakdown_mode_prints_a_row_per_variant() -> None:
    out = _python("-m", "benchmarks", "--breakdown", "--rounds", "1", "--requests", "20")
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| D variant")]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == list(VARIANTS)
    assert all(len(row.split(" | ")) == 9 for row in rows)


def test_log_instructions_steps_emit_without_valgrind() -> None:
    for step in STEPS:  # each step's measured process runs and exits cleanly
        _python("-m", "benchmarks.log_instructions", "--emit", step, "10")


def test_request_instructions_serve_runs_each_config_without_valgrind(tmp_path: Path) -> None:
    """The measured process of ``benchmarks.request_instructions`` serves its requests and exits cleanly."""
    env = bench_env(tmp_path / "bench.sqlite3")
    subprocess.run([sys.executable, "-m", "benchmarks.prepare"], env=env, check=True, cwd=ROOT, timeout=120)
    for config in "ABCD":
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.request_instructions", "--serve", config, "/queries/", "3"],
            env=bench_env(tmp_path / "bench.sqlite3", config),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr


def test_callgrind_totals_are_read_by_event_name() -> None:
    """The totals of a callgrind profile (what valgrind 3.19 writes with the L2 simulation), by event, and
    the misses the L2 figure sums; a profile without totals is None (callgrind failed)."""
    profile = (
        "version: 1\ncreator: callgrind-3.19.0\n"
        "events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw\n"
        "fl=(1) x.c\nfn=(1) main\n3 10 1 1 0 0 0 0 0 0\n"
        "summary: 854680 252992 146986 23279 12706 3445 190 458 159\n"
    )
    totals = callgrind.parse_totals(profile)
    assert totals is not None
    assert totals["Ir"] == 854680
    assert sum(totals[name] for name in callgrind.L2_MISSES) == 190 + 458 + 159
    assert callgrind.parse_totals("events: Ir\n") is None


def test_l2_simulation_sizes_the_last_level_cache() -> None:
    """``--l2 MIB`` simulates an 8-way L2 of that size; valgrind takes only a power of two of sets."""
    assert callgrind.l2_simulation() == ("--cache-sim=yes", "--LL=1048576,8,64")
    assert callgrind.l2_simulation(4) == ("--cache-sim=yes", "--LL=4194304,8,64")
    with pytest.raises(ValueError, match="3 MiB"):
        callgrind.l2_simulation(3)


def test_instruction_tables_name_what_they_count(capsys: pytest.CaptureFixture[str]) -> None:
    """``--l2`` prints its misses in the instructions' table shape, each row over A's."""
    request_instructions.print_table(["A", "D"], {"/trivial/": [79, 837]}, relative=True, what="L2 misses")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| config | /trivial/ L2 misses | added |"
    assert lines[-1] == "| D | 837 | +758 |"
