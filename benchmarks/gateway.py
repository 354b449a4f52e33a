"""``python -m benchmarks.gateway``: sizing figures of one gateway collector (docs/scaling.md), measured with
a bounded load against the real thing: the built ``dcm-otelcol`` on base + prometheus + jaeger, as a gateway
runs, exporting traces over OTLP/gRPC to a sink collector (the ``debug`` exporter, sampled) and the
span_metrics RED metrics by remote write to a real Prometheus.

1. Throughput: SPANS spans in OTLP/HTTP requests of BATCH spans (pre-encoded, so the client costs little),
   from CLIENTS threads; spans per second of the gateway's own CPU time (user + system, /proc) once it has
   exported all of them, i.e. spans/s per core.
2. Memory per queued span: the sink stopped, QUEUED more spans sent; the growth of the gateway's resident
   memory divided by the spans its exporter holds (accepted, not sent).

Both phases are bounded (counts, and a timeout each). Figures vary with the machine and its load: note both.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.http import cpu_seconds, free_port
from benchmarks.receiver import COLLECTOR_SINK_CONFIG, ROOT, cached_collector

CONFIG_DIR = ROOT / "collector" / "config"
STARTUP_TIMEOUT = 60.0
DRAIN_TIMEOUT = 300.0
SPANS_PER_TRACE = 5
DISTINCT_REQUESTS = 20
# A request span as dcm_otel exports it (HTTP server semantic conventions), about 500 bytes encoded.
ATTRIBUTES = [
    KeyValue(
        key=key, value=AnyValue(string_value=value) if isinstance(value, str) else AnyValue(int_value=value)
    )
    for key, value in {
        "http.request.method": "GET",
        "http.route": "/jobs/<uuid:pk>/",
        "http.response.status_code": 200,
        "url.path": "/jobs/6f1c2a43-7d3e-4a4e-9a59-0d8f3f0e1c11/",
        "url.scheme": "http",
        "server.address": "app.internal",
        "server.port": 8000,
        "client.address": "10.0.3.17",
        "network.protocol.version": "1.1",
        "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0",
    }.items()
]


@dataclass(frozen=True)
class Gateway:
    pid: int
    otlp_http_port: int
    telemetry_port: int

    def cpu_seconds(self) -> float:
        return cpu_seconds(psutil.Process(self.pid))

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def live_heap(self, seconds: float = 5.0) -> float:
        """The Go heap's lowest reading over `seconds` (5 a second): what is left after a collection."""
        readings = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            readings.append(self.figures()["otelcol_process_runtime_heap_alloc_bytes{}"])
            time.sleep(0.2)
        return min(readings)

    def figures(self) -> dict[str, float]:
        """The collector's own counters and gauges, summed by sample name and `exporter`/`receiver`."""
        url = f"http://127.0.0.1:{self.telemetry_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        totals: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                component = sample.labels.get("exporter") or sample.labels.get("receiver") or ""
                key = f"{sample.name}{{{component}}}"
                totals[key] = totals.get(key, 0.0) + sample.value
        return totals


def encoded_requests(batch: int) -> list[bytes]:
    """DISTINCT_REQUESTS OTLP requests of `batch` spans each (SPANS_PER_TRACE per trace, random ids)."""
    rng = random.Random(22)  # noqa: S311 (ids of test spans)
    requests = []
    now = time.time_ns()
    for _ in range(DISTINCT_REQUESTS):
        spans = []
        for i in range(batch):
            if i % SPANS_PER_TRACE == 0:
                trace_id = rng.randbytes(16)
            spans.append(
                Span(
                    trace_id=trace_id,
                    span_id=rng.randbytes(8),
                    name="GET /jobs/<uuid:pk>/",
                    kind=Span.SPAN_KIND_SERVER,
                    start_time_unix_nano=now,
                    end_time_unix_nano=now + 3_000_000,
                    attributes=ATTRIBUTES,
                )
            )
        resource = [KeyValue(key="service.name", value=AnyValue(string_value="gateway-bench"))]
        request = ExportTraceServiceRequest(
            resource_spans=[
                ResourceSpans(resource=Resource(attributes=resource), scope_spans=[ScopeSpans(spans=spans)])
            ]
        )
        requests.append(request.SerializeToString())
    return requests


def send(port: int, payloads: Sequence[bytes], count: int, clients: int) -> None:
    """`count` requests cycling through `payloads`, from `clients` keep-alive connections."""
    errors: list[str] = []

    def client(share: int, offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for i in range(share):
                body = payloads[(offset + i) % len(payloads)]
                connection.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(f"HTTP {response.status}")
                    return
        finally:
            connection.close()

    threads = [
        threading.Thread(target=client, args=(count // clients + (i < count % clients), i))
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"the gateway refused data: {errors[:3]}")


def wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out: {what}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (our own 127.0.0.1 URL)
            return True
    except OSError:
        return False


@contextmanager
def process(
    argv: list[str], log: Path, ready_url: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        proc = subprocess.Popen(argv, stdout=output, stderr=output, env=env)
    try:
        wait(lambda: proc.poll() is None and _answers(ready_url), STARTUP_TIMEOUT, f"{argv[0]} ready")
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def measure(binary: Path, spans: int, queued: int, batch: int, clients: int) -> dict[str, object]:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        raise SystemExit("prometheus not installed (scripts/install-services.sh)")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dcm_otel_bench-gateway-")))
        sink_port, sink_health, prom_port = free_port(), free_port(), free_port()
        (tmp / "sink.yaml").write_text(
            COLLECTOR_SINK_CONFIG.format(protocol="grpc", port=sink_port, health_port=sink_health)
        )
        sink = stack.enter_context(
            process(
                [str(binary), "--config", str(tmp / "sink.yaml")],
                tmp / "sink.log",
                f"http://127.0.0.1:{sink_health}/",
            )
        )
        (tmp / "prometheus.yml").write_text("global:\n  evaluation_interval: 15s\n")
        stack.enter_context(
            process(
                [
                    prometheus,
                    f"--config.file={tmp / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--web.enable-remote-write-receiver",
                ],
                tmp / "prometheus.log",
                f"http://127.0.0.1:{prom_port}/-/ready",
            )
        )
        http_port, grpc_port, health_port, telemetry_port = (free_port() for _ in range(4))
        env = {
            **os.environ,
            "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{http_port}",
            "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{grpc_port}",
            "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{health_port}",
            "OTELCOL_TELEMETRY_PORT": str(telemetry_port),
            "OTELCOL_LOG_LEVEL": "warn",
            "JAEGER_OTLP_ENDPOINT": f"127.0.0.1:{sink_port}",
            "JAEGER_OTLP_INSECURE": "true",
            "PROMETHEUS_REMOTE_WRITE_ENDPOINT": f"http://127.0.0.1:{prom_port}/api/v1/write",
        }
        configs = [
            arg
            for name in ("base", "prometheus", "jaeger")
            for arg in ("--config", str(CONFIG_DIR / f"{name}.yaml"))
        ]
        gateway_proc = stack.enter_context(
            process([str(binary), *configs], tmp / "gateway.log", f"http://127.0.0.1:{health_port}/", env)
        )
        gateway = Gateway(gateway_proc.pid, http_port, telemetry_port)
        payloads = encoded_requests(batch)
        sent_key = "otelcol_exporter_sent_spans_total{otlp_grpc/jaeger}"
        accepted_key = "otelcol_receiver_accepted_spans_total{otlp}"

        # 1. throughput
        send(http_port, payloads, max(1, 2000 // batch), clients)  # warm-up
        wait(
            lambda: gateway.figures().get(sent_key, 0) >= max(1, 2000 // batch) * batch,
            DRAIN_TIMEOUT,
            "warm-up",
        )
        before_cpu, before_sent = gateway.cpu_seconds(), gateway.figures().get(sent_key, 0)
        started = time.monotonic()
        requests_sent = spans // batch
        send(http_port, payloads, requests_sent, clients)
        target = before_sent + requests_sent * batch
        wait(
            lambda: gateway.figures().get(sent_key, 0) >= target,
            DRAIN_TIMEOUT,
            "the gateway exports all spans",
        )
        wall_s = time.monotonic() - started
        cpu_s = gateway.cpu_seconds() - before_cpu
        measured = requests_sent * batch

        # 2. memory per queued span: the sink gone, the exporter keeps (and retries) what it takes
        sink.terminate()
        sink.wait(30)
        heap_before = gateway.live_heap()
        figures = gateway.figures()
        held_before = figures[accepted_key] - figures.get(sent_key, 0)
        rss_before = gateway.rss_bytes()
        send(http_port, payloads, queued // batch, clients)
        heap_growth = gateway.live_heap() - heap_before
        rss_growth = gateway.rss_bytes() - rss_before
        figures = gateway.figures()
        held = figures[accepted_key] - figures.get(sent_key, 0) - held_before
        return {
            "spans": measured,
            "batch": batch,
            "clients": clients,
            "wall_s": round(wall_s, 2),
            "gateway_cpu_s": round(cpu_s, 2),
            "spans_per_s": round(measured / wall_s),
            "spans_per_core_s": round(measured / cpu_s),
            "queued_spans": int(held),
            "queue_size_batches": figures.get("otelcol_exporter_queue_size{otlp_grpc/jaeger}"),
            "heap_growth_mb": round(heap_growth / 2**20, 1),
            "rss_growth_mb": round(rss_growth / 2**20, 1),
            "heap_bytes_per_queued_span": round(heap_growth / held) if held else None,
            "cpus": os.cpu_count(),
            "loadavg_1m": os.getloadavg()[0],
        }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gateway", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--spans", type=int, default=200_000, help="spans of the throughput phase")
    parser.add_argument("--queued", type=int, default=100_000, help="spans sent while the backend is down")
    parser.add_argument("--batch", type=int, default=500, help="spans per OTLP request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent sending connections")
    args = parser.parse_args(argv)
    binary = cached_collector()
    if binary is None:
        raise SystemExit("no dcm-otelcol for the current builder config: bash scripts/build-collector.sh")
    result = measure(binary, args.spans, args.queued, args.batch, args.clients)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
