"""Ingest security (tls.yaml + mtls.yaml + bearer-auth.yaml), run by the built collector with certificates
made for the test: over OTLP/HTTP and OTLP/gRPC, a sender with the wrong token, no token, no client
certificate or one from another CA is refused and the right one accepted; the health check needs a client
certificate too; and dcm_otel itself, configured only through its settings/environment, exports through
TLS and the token (each OTLP path: the fast encoder, the official one, gRPC) to data the collector wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from tests.services._common import wait_until

from .certificates import Certificates, Pair, make_certificates
from .configs import Collector, running_collector
from .telemetry import SPAN, send_sample
from .test_overlays import file_spans

TOKEN = "ingest-token-0123456789"
OVERLAYS = ["base", "tls", "mtls", "bearer-auth", "debug"]
ARRIVAL_TIMEOUT = 30.0
RPC_TIMEOUT = 10.0


class SecuredCollector(Collector):
    """The collector behind TLS: its health check answers only over HTTPS, to a client certificate."""

    def __init__(self, binary: Path, certificates: Certificates, directory: Path) -> None:
        self.certificates = certificates
        self.telemetry = directory / "telemetry.jsonl"
        env = {
            "OTELCOL_TLS_CERT_FILE": str(certificates.server.cert),
            "OTELCOL_TLS_KEY_FILE": str(certificates.server.key),
            "OTELCOL_TLS_CLIENT_CA_FILE": str(certificates.ca),
            "OTELCOL_INGEST_TOKEN": TOKEN,
            "OTELCOL_FILE_PATH": str(self.telemetry),
        }
        super().__init__(binary, OVERLAYS, env, directory)

    @property
    def https(self) -> str:
        return self.url.replace("http://", "https://", 1)

    def healthy(self) -> bool:
        try:
            return health(self, self.certificates.client).status_code == 200
        except requests.RequestException:
            return False


def health(collector: SecuredCollector, client: Pair | None) -> requests.Response:
    url = f"https://127.0.0.1:{collector.health_port}/"
    cert = client.requests if client else None
    return requests.get(url, verify=str(collector.certificates.ca), cert=cert, timeout=5)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture(scope="module")
def collector(
    collector_binary: Path, certificates: Certificates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecuredCollector]:
    running = SecuredCollector(collector_binary, certificates, tmp_path_factory.mktemp("collector"))
    running.run()
    try:
        yield running
    finally:
        running.stop()


def export_request(name: str) -> trace_service_pb2.ExportTraceServiceRequest:
    span = Span(trace_id=os.urandom(16), span_id=os.urandom(8), name=name, start_time_unix_nano=1)
    spans = ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[spans])


def post(
    collector: SecuredCollector, client: Pair | None, authorization: str | None, url: str | None = None
) -> requests.Response:
    headers = {"Content-Type": "application/x-protobuf"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return requests.post(
        f"{url or collector.https}/v1/traces",
        data=export_request("http").SerializeToString(),
        headers=headers,
        verify=str(collector.certificates.ca),
        cert=client.requests if client else None,
        timeout=RPC_TIMEOUT,
    )


def test_http_accepts_the_right_token_and_refuses_a_wrong_or_missing_one(collector: SecuredCollector) -> None:
    client = collector.certificates.client
    assert post(collector, client, f"Bearer {TOKEN}").status_code == 200
    assert post(collector, client, "Bearer not-the-token").status_code == 401
    assert post(collector, client, TOKEN).status_code == 401  # the token without its scheme
    assert post(collector, client, None).status_code == 401


@pytest.mark.parametrize("client", ["none", "stranger"])
def test_http_refuses_a_client_without_a_certificate_of_its_ca(
    collector: SecuredCollector, client: str
) -> None:
    presented = collector.certificates.stranger if client == "stranger" else None
    with pytest.raises(requests.exceptions.ConnectionError):  # SSLError is one: the handshake fails
        post(collector, presented, f"Bearer {TOKEN}")


def test_http_refuses_plain_text(collector: SecuredCollector) -> None:
    response = requests.post(
        f"{collector.url}/v1/traces",
        data=export_request("plain").SerializeToString(),
        headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {TOKEN}"},
        timeout=RPC_TIMEOUT,
    )
    assert response.status_code == 400
    assert "HTTPS" in response.text


def grpc_export(collector: SecuredCollector, client: Pair | None, token: str | None) -> grpc.StatusCode:
    certificates = collector.certificates
    credentials = grpc.ssl_channel_credentials(
        certificates.ca.read_bytes(),
        client.key.read_bytes() if client else None,
        client.cert.read_bytes() if client else None,
    )
    metadata = [("authorization", f"Bearer {token}")] if token else []
    with grpc.secure_channel(f"127.0.0.1:{collector.grpc_port}", credentials) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        try:
            stub.Export(export_request("grpc"), metadata=metadata, timeout=RPC_TIMEOUT)
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_grpc_accepts_the_right_token_and_certificate_and_refuses_the_others(
    collector: SecuredCollector,
) -> None:
    certificates = collector.certificates
    assert grpc_export(collector, certificates.client, TOKEN) == grpc.StatusCode.OK
    assert grpc_export(collector, certificates.client, "not-the-token") == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_export(collector, certificates.client, None) == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_export(collector, None, TOKEN) == grpc.StatusCode.UNAVAILABLE  # no client certificate
    assert grpc_export(collector, certificates.stranger, TOKEN) == grpc.StatusCode.UNAVAILABLE


def test_the_health_check_is_served_over_mutual_tls(collector: SecuredCollector) -> None:
    assert health(collector, collector.certificates.client).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        health(collector, None)


def test_an_agent_forwards_to_the_secured_gateway(
    collector: SecuredCollector, collector_binary: Path, tmp_path: Path
) -> None:
    """base + agent + agent-tls: the load_balancing exporter verifies the gateway by the name its
    certificate holds (localhost, while it dials 127.0.0.1), presents the client certificate and the token."""
    certificates = collector.certificates
    env = {
        "OTELCOL_GATEWAY_HOSTNAME": "127.0.0.1",
        "OTELCOL_GATEWAY_PORT": str(collector.grpc_port),
        "OTELCOL_GATEWAY_CA_FILE": str(certificates.ca),
        "OTELCOL_GATEWAY_SERVER_NAME": "localhost",
        "OTELCOL_GATEWAY_CERT_FILE": str(certificates.client.cert),
        "OTELCOL_GATEWAY_KEY_FILE": str(certificates.client.key),
        "OTELCOL_GATEWAY_TOKEN": TOKEN,
    }
    with running_collector(collector_binary, ["base", "agent", "agent-tls"], env, tmp_path) as agent:
        sent = send_sample(agent.otlp_http)

        def forwarded() -> list[dict[str, Any]]:
            return [s for s, _ in file_spans(collector.telemetry) if s["traceId"] == sent.trace_id]

        assert wait_until(lambda: bool(forwarded()), ARRIVAL_TIMEOUT, 0.2), (
            agent.log_tail(),
            collector.log_tail(),
        )
    assert [span["name"] for span in forwarded()] == [SPAN]


# A process that sets dcm_otel up from its settings (argv[1], JSON) and the environment, as an app does at
# startup, sends a span and a log record through its own providers, flushes and prints the trace id.
SENDER = """
import json, logging, sys
from opentelemetry import trace
from dcm_otel.config import load_config
from dcm_otel.providers import setup_providers

config = load_config(json.loads(sys.argv[1]))
telemetry = setup_providers(config)
with trace.get_tracer("ingest-test").start_as_current_span(sys.argv[2]) as span:
    logging.getLogger("ingest-test").warning(sys.argv[2])
telemetry.shutdown(20)
print(format(span.get_span_context().trace_id, "032x"))
"""

# name -> (DCM_OTEL settings, environment); "{ca}" etc. stand for the certificates' paths.
SENDERS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "http-fast-from-env": (
        {},
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "{http}",
            "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{TOKEN}",
            "OTEL_EXPORTER_OTLP_CERTIFICATE": "{ca}",
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "{cert}",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY": "{key}",
        },
    ),
    "http-official-from-settings": (
        {
            "otlp_endpoint": "{http}",
            "otlp_encoder": "official",
            "otlp_headers": {"Authorization": f"Bearer {TOKEN}"},
            "otlp_certificate": "{ca}",
            "otlp_client_certificate": "{cert}",
            "otlp_client_key": "{key}",
        },
        {},
    ),
    "grpc-from-settings": (
        {
            "otlp_endpoint": "{grpc}",
            "otlp_protocol": "grpc",
            "otlp_headers": {"authorization": f"Bearer {TOKEN}"},
            "otlp_certificate": "{ca}",
            "otlp_client_certificate": "{cert}",
            "otlp_client_key": "{key}",
        },
        {},
    ),
}


def _filled(value: Any, places: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _filled(v, places) for k, v in value.items()}
    return value.format(**places) if isinstance(value, str) and "{" in value else value


@pytest.mark.parametrize("sender", SENDERS)
def test_dcm_otel_exports_through_tls_and_the_token(
    collector: SecuredCollector, tmp_path: Path, sender: str
) -> None:
    certificates = collector.certificates
    places = {
        "http": collector.https,
        "grpc": f"https://127.0.0.1:{collector.grpc_port}",
        "ca": str(certificates.ca),
        "cert": str(certificates.client.cert),
        "key": str(certificates.client.key),
    }
    settings, env = (_filled(part, places) for part in SENDERS[sender])
    environ = {
        name: value for name, value in os.environ.items() if not name.startswith(("OTEL_", "DCM_OTEL_"))
    }
    environ |= {**env, "OTEL_SERVICE_NAME": f"ingest-{sender}", "OTEL_METRICS_EXPORTER": "none"}
    # Set on many machines (this one too): requests let it replace the exporters' CA (otlp_http_session.py).
    environ["REQUESTS_CA_BUNDLE"] = requests.certs.where()
    name = f"secured export {sender}"
    done = subprocess.run(
        [sys.executable, "-c", SENDER, json.dumps(settings), name],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stderr + done.stdout  # the header's value is never logged
    trace_id = done.stdout.strip().splitlines()[-1]

    def exported() -> bool:
        spans = [s for s, _ in file_spans(collector.telemetry) if s["traceId"] == trace_id]
        return bool(spans) and any(r["traceId"] == trace_id for r in file_logs(collector.telemetry))

    assert wait_until(exported, ARRIVAL_TIMEOUT, 0.2), (done.stderr, collector.log_tail())
    [span] = [s for s, _ in file_spans(collector.telemetry) if s["traceId"] == trace_id]
    assert span["name"] == name
    [record] = [r for r in file_logs(collector.telemetry) if r["traceId"] == trace_id]
    assert record["body"]["stringValue"] == name


def file_logs(path: Path) -> list[dict[str, Any]]:
    """Every log record the file exporter wrote."""
    if not path.exists():
        return []
    return [
        record
        for line in path.read_text().splitlines()
        for resource_logs in json.loads(line).get("resourceLogs", [])
        for scope_logs in resource_logs["scopeLogs"]
        for record in scope_logs["logRecords"]
    ]
