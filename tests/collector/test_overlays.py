"""Each SaaS or licence-barred backend's overlay, run by the built collector against a local stand-in that
asserts the exact request (path, auth header, compression, payload); and the agent -> gateway tiers, run
as two collectors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.services._common import wait_until

from .configs import running_collector
from .standin import Request, StandIn, stand_in
from .telemetry import LOG, METRIC, SERVICE, SPAN, Sent, send_sample

ARRIVAL_TIMEOUT = 30.0
FileSpan = tuple[dict[str, Any], dict[str, Any]]  # a span and its resource attributes
ALL_SIGNALS = ("traces", "metrics", "logs")


@dataclass(frozen=True)
class Backend:
    overlay: str
    signals: tuple[str, ...]
    base_path: str  # what the overlay's endpoint adds before /v1/<signal>
    headers: dict[str, str]  # lower-cased names, exact values

    def env(self, url: str) -> dict[str, str]:
        endpoint = url + self.base_path
        return {
            "loki": {"LOKI_OTLP_ENDPOINT": endpoint, "LOKI_TENANT_ID": "tenant-a"},
            "elastic": {"ELASTIC_OTLP_ENDPOINT": endpoint, "ELASTIC_API_KEY": "elastic-key-1"},
            "datadog": {"DD_AGENT_OTLP_ENDPOINT": endpoint},
            "newrelic": {"NEW_RELIC_OTLP_ENDPOINT": endpoint, "NEW_RELIC_LICENSE_KEY": "nr-license-1"},
        }[self.overlay]


BACKENDS = [
    Backend("loki", ("logs",), "/otlp", {"x-scope-orgid": "tenant-a"}),
    Backend("elastic", ALL_SIGNALS, "", {"authorization": "ApiKey elastic-key-1"}),
    Backend("datadog", ALL_SIGNALS, "", {}),
    Backend("newrelic", ALL_SIGNALS, "", {"api-key": "nr-license-1"}),
]


def received(request: Request, sent: Sent) -> bool:
    """Whether the request carries the sample of its signal (with its trace id where it has one)."""
    message: Any = request.message
    if request.signal == "traces":
        spans = [s for r in message.resource_spans for ss in r.scope_spans for s in ss.spans]
        return any(s.name == SPAN and s.trace_id.hex() == sent.trace_id for s in spans)
    if request.signal == "logs":
        records = [lr for r in message.resource_logs for sl in r.scope_logs for lr in sl.log_records]
        return any(lr.body.string_value == LOG and lr.trace_id.hex() == sent.trace_id for lr in records)
    metrics = [m for r in message.resource_metrics for sm in r.scope_metrics for m in sm.metrics]
    return any(m.name == METRIC for m in metrics)


def arrived(recorder: StandIn, sent: Sent, signal: str) -> bool:
    return any(received(r, sent) for r in recorder.of(signal))


@pytest.mark.parametrize("backend", BACKENDS, ids=[b.overlay for b in BACKENDS])
def test_overlay_sends_the_exact_request(collector_binary: Path, tmp_path: Path, backend: Backend) -> None:
    with stand_in() as recorder:
        env = backend.env(recorder.url)
        with running_collector(collector_binary, ["base", backend.overlay], env, tmp_path) as collector:
            sent = send_sample(collector.otlp_http)

            def every_signal() -> bool:
                return all(arrived(recorder, sent, signal) for signal in backend.signals)

            assert wait_until(every_signal, ARRIVAL_TIMEOUT, 0.2), (recorder.requests, collector.log_tail())
        for signal in ALL_SIGNALS:
            requests = recorder.of(signal)
            if signal not in backend.signals:
                assert not requests, f"{backend.overlay} exported {signal}"
                continue
            for request in requests:
                assert request.path == f"{backend.base_path}/v1/{signal}"
                assert request.headers["content-type"] == "application/x-protobuf"
                assert request.headers["content-encoding"] == "gzip"
                assert {name: request.headers.get(name) for name in backend.headers} == backend.headers
                resource = request_resources(request)
                assert all(r.get("service.name") == SERVICE or signal == "metrics" for r in resource)


def request_resources(request: Request) -> list[dict[str, Any]]:
    message: Any = request.message
    groups = getattr(message, f"resource_{'spans' if request.signal == 'traces' else request.signal}")
    return [{kv.key: kv.value.string_value for kv in g.resource.attributes} for g in groups]


def test_agent_forwards_to_the_gateway(collector_binary: Path, tmp_path: Path) -> None:
    """base + agent.yaml -> load_balancing exporter -> a gateway (base + debug.yaml, writing a file)."""
    telemetry = tmp_path / "gateway.jsonl"
    gateway_dir, agent_dir = tmp_path / "gateway", tmp_path / "agent"
    gateway_dir.mkdir()
    agent_dir.mkdir()
    gateway_env = {"OTELCOL_FILE_PATH": str(telemetry)}
    with running_collector(collector_binary, ["base", "debug"], gateway_env, gateway_dir) as gateway:
        agent_env = {
            "OTELCOL_GATEWAY_HOSTNAME": "127.0.0.1",
            "OTELCOL_GATEWAY_PORT": str(gateway.grpc_port),
            "OTELCOL_GATEWAY_INSECURE": "true",
        }
        with running_collector(collector_binary, ["base", "agent"], agent_env, agent_dir) as agent:
            sent = send_sample(agent.otlp_http)

            def forwarded() -> list[FileSpan]:
                return [pair for pair in file_spans(telemetry) if pair[0]["traceId"] == sent.trace_id]

            arrived_in_time = wait_until(lambda: bool(forwarded()), ARRIVAL_TIMEOUT, 0.2)
            assert arrived_in_time, (agent.log_tail(), gateway.log_tail())
    [(span, resource)] = forwarded()
    assert span["name"] == SPAN
    # The agent's resource_detection stamped its host; the app's own attributes were kept.
    assert resource["service.name"] == SERVICE
    assert resource["host.name"]
    assert "os.type" in resource


def file_spans(path: Path) -> list[FileSpan]:
    """(span, resource attributes) for every span the file exporter wrote."""
    if not path.exists():
        return []
    result: list[FileSpan] = []
    for line in path.read_text().splitlines():
        for resource_spans in json.loads(line).get("resourceSpans", []):
            resource = {
                a["key"]: next(iter(a["value"].values()), None)
                for a in resource_spans["resource"].get("attributes", [])
            }
            for scope_spans in resource_spans["scopeSpans"]:
                result.extend((span, resource) for span in scope_spans["spans"])
    return result
