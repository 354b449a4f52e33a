"""(Issue 22) The agent routes spans by trace id, every process real: an agent collector (base + agent.yaml)
-> two gateway collectors (base + prometheus + debug: each writes what it takes to a file of its own) ->
Prometheus by remote write. Every trace crosses two services (a request and the job it runs), as a job whose
container continues the trace does.

Asserted: every trace is whole on exactly one gateway (what tail-based sampling needs), both gateways take a
share, and the span metrics the gateways compute (each series labelled with its gateway) sum to the spans
sent, per service. Routed by service, the trace would be split or all on one gateway, and without the label
the two gateways' series would collide in Prometheus.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from tests.services._common import free_port, wait_until

from .backends import Prometheus
from .configs import Collector
from .test_failover import GATEWAYS, gateway_agent

TRACES = 60
SERVICES = ("routing-web", "routing-job")  # the request's service, the job's
ARRIVAL_TIMEOUT = 120.0  # span_metrics flush (15 s) + metric export + remote write, with room


def providers(endpoint: str) -> dict[str, TracerProvider]:
    made = {}
    for service in SERVICES:
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
        made[service] = provider
    return made


def send_traces(endpoint: str) -> set[str]:
    """TRACES traces, each a server span of the web service and, under it, a span of the job's service;
    their trace ids (hex, as OTLP JSON writes them)."""
    made = providers(endpoint)
    web, job = (made[service].get_tracer(__name__) for service in SERVICES)
    trace_ids = set()
    for _ in range(TRACES):
        with (
            web.start_as_current_span("POST /jobs/", kind=SpanKind.SERVER) as request,
            job.start_as_current_span("dcm.job.run"),
        ):
            pass
        trace_ids.add(format(request.get_span_context().trace_id, "032x"))
    for provider in made.values():
        provider.shutdown()  # flushes
    return trace_ids


def spans_by_trace(path: Path) -> dict[str, list[str]]:
    """trace id -> the services of its spans, from a gateway's file exporter (OTLP JSON lines)."""
    found: dict[str, list[str]] = defaultdict(list)
    if not path.exists():
        return found
    for line in path.read_text().splitlines():
        for resource_spans in json.loads(line).get("resourceSpans", []):
            attributes = resource_spans["resource"].get("attributes", [])
            service = next(a["value"]["stringValue"] for a in attributes if a["key"] == "service.name")
            for scope in resource_spans.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    found[span["traceId"]].append(service)
    return found


def calls(service: str) -> str:
    return f'sum by (otelcol_gateway) (traces_span_metrics_calls_total{{job="{service}"}})'


@pytest.fixture
def gateway_files(
    collector_binary: Path, prometheus: Prometheus, tmp_path: Path
) -> Iterator[tuple[int, dict[str, Path]]]:
    """Two gateways on one port (127.0.0.2, 127.0.0.3), named gateway-a and gateway-b, and their files."""
    port = free_port()
    files = {}
    with ExitStack() as stack:
        for address, gateway_id in zip(GATEWAYS, ("gateway-a", "gateway-b"), strict=True):
            log_dir = tmp_path / gateway_id
            log_dir.mkdir()
            files[gateway_id] = log_dir / "telemetry.jsonl"
            gateway = Collector(
                collector_binary,
                ["base", "prometheus", "debug"],
                {
                    "PROMETHEUS_REMOTE_WRITE_ENDPOINT": prometheus.remote_write_url,
                    "OTELCOL_FILE_PATH": str(files[gateway_id]),
                    "OTELCOL_GATEWAY_ID": gateway_id,
                    "OTELCOL_OTLP_GRPC_ENDPOINT": f"{address}:{port}",
                },
                log_dir,
            )
            gateway.run()
            stack.callback(gateway.stop)
        yield port, files


@pytest.mark.services
@pytest.mark.timeout(300)
def test_every_trace_is_whole_on_one_gateway_and_span_metrics_sum(
    collector_binary: Path,
    gateway_files: tuple[int, dict[str, Path]],
    prometheus: Prometheus,
    tmp_path: Path,
) -> None:
    port, files = gateway_files
    agent, _ = gateway_agent(collector_binary, port, tmp_path)
    with ExitStack() as stack:
        agent.run()
        stack.callback(agent.stop)
        assert wait_until(lambda: agent.figure("otelcol_loadbalancer_num_backends") == 2, 30, 0.5), (
            agent.log_tail()
        )
        sent = send_traces(agent.otlp_http)

        def taken() -> dict[str, dict[str, list[str]]]:
            return {gateway: spans_by_trace(path) for gateway, path in files.items()}

        def arrived() -> bool:
            return sum(len(ids.keys() & sent) for ids in taken().values()) >= TRACES

        # A trace split over the gateways counts twice here, so this waits for at least every trace.
        wait_until(arrived, ARRIVAL_TIMEOUT, 0.5)
        by_gateway = taken()

        def counted() -> bool:
            return all(
                sum(float(s["value"][1]) for s in prometheus.query(calls(service))) == TRACES
                for service in SERVICES
            )

        all_counted = wait_until(counted, ARRIVAL_TIMEOUT, 1.0)
        per_gateway = {
            service: {
                s["metric"].get("otelcol_gateway", ""): float(s["value"][1])
                for s in prometheus.query(calls(service))
            }
            for service in SERVICES
        }

    holders = {trace_id: [g for g, ids in by_gateway.items() if trace_id in ids] for trace_id in sent}
    split = [trace_id for trace_id, gateways in holders.items() if len(gateways) != 1]
    assert not split, (len(split), split[:3], agent.log_tail())
    for trace_id, (gateway,) in holders.items():
        assert sorted(by_gateway[gateway][trace_id]) == sorted(SERVICES), (
            trace_id,
            by_gateway[gateway][trace_id],
        )
    shares = {gateway: len(ids.keys() & sent) for gateway, ids in by_gateway.items()}
    assert all(shares.values()), f"one gateway took every trace: {shares}"
    assert all_counted, per_gateway
    for service, counts in per_gateway.items():
        assert set(counts) == set(files), (service, counts)  # a series per gateway, told apart by its label
        assert sum(counts.values()) == TRACES, (service, counts)
