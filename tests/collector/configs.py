"""The shipped collector configs, the combinations docs/collector.md documents, and running the built
collector on them (`validate`, or as a daemon on free 127.0.0.1 ports)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.alerts.tools import Daemon
from tests.services._common import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "collector" / "config"
BUILDER_CONFIG = ROOT / "collector" / "builder-config.yaml"
DOC = ROOT / "docs" / "collector.md"
ENV_REFERENCE = re.compile(r"\$\{env:([A-Z0-9_]+)(:-[^}]*)?\}")
CONFIG_ARG = re.compile(r"--config[ =](\S+\.yaml)")
STARTUP_TIMEOUT = 60.0

# A value for every variable the configs read, shaped as the docs say (the validation needs them set).
SAMPLE_ENV = {
    "OTELCOL_OTLP_GRPC_ENDPOINT": "127.0.0.1:4317",
    "OTELCOL_OTLP_HTTP_ENDPOINT": "127.0.0.1:4318",
    "OTELCOL_HEALTH_ENDPOINT": "127.0.0.1:13133",
    "OTELCOL_TELEMETRY_HOST": "127.0.0.1",
    "OTELCOL_TELEMETRY_PORT": "8888",
    "OTELCOL_LOG_LEVEL": "info",
    "OTELCOL_HOSTMETRICS_INTERVAL": "30s",
    "OTELCOL_HOSTMETRICS_ROOT_PATH": "/",
    "OTELCOL_FILE_PATH": "/tmp/dcm-otelcol-telemetry.jsonl",
    "OTELCOL_GATEWAY_HOSTNAME": "otel-gateway",
    "OTELCOL_GATEWAY_PORT": "4317",
    "OTELCOL_GATEWAY_INSECURE": "true",
    "OTELCOL_GATEWAY_RESOLVE_INTERVAL": "5s",
    "OTELCOL_GATEWAY_ID": "gateway-0",
    "PROMETHEUS_REMOTE_WRITE_ENDPOINT": "http://prometheus:9090/api/v1/write",
    "JAEGER_OTLP_ENDPOINT": "jaeger:4317",
    "JAEGER_OTLP_INSECURE": "true",
    "LOKI_OTLP_ENDPOINT": "http://loki:3100/otlp",
    "LOKI_TENANT_ID": "fake",
    "ELASTIC_OTLP_ENDPOINT": "http://apm-server:8200",
    "ELASTIC_API_KEY": "an-elastic-api-key",
    "NEW_RELIC_OTLP_ENDPOINT": "https://otlp.nr-data.net",
    "NEW_RELIC_LICENSE_KEY": "a-license-key",
    "DD_AGENT_OTLP_ENDPOINT": "http://datadog-agent:4318",
    "OTELCOL_TLS_CERT_FILE": "/etc/dcm-otelcol/tls/server.crt",
    "OTELCOL_TLS_KEY_FILE": "/etc/dcm-otelcol/tls/server.key",
    "OTELCOL_TLS_RELOAD_INTERVAL": "1h",
    "OTELCOL_TLS_CLIENT_CA_FILE": "/etc/dcm-otelcol/tls/clients-ca.crt",
    "OTELCOL_INGEST_TOKEN": "an-ingest-token",
    "OTELCOL_GATEWAY_CA_FILE": "/etc/dcm-otelcol/tls/gateways-ca.crt",
    "OTELCOL_GATEWAY_SERVER_NAME": "otel-gateway",
    "OTELCOL_GATEWAY_CERT_FILE": "/etc/dcm-otelcol/tls/agent.crt",
    "OTELCOL_GATEWAY_KEY_FILE": "/etc/dcm-otelcol/tls/agent.key",
    "OTELCOL_GATEWAY_TOKEN": "the-gateways-ingest-token",
    "GOOGLE_CLOUD_PROJECT": "my-project",
    "GOOGLE_OAUTH_TOKEN_FILE": "/var/run/google/access-token",
    "GOOGLE_TELEMETRY_ENDPOINT": "https://telemetry.googleapis.com",
}


def config_files() -> list[Path]:
    return sorted(CONFIG_DIR.glob("*.yaml"))


def config_path(name: str) -> Path:
    return CONFIG_DIR / f"{name}.yaml"


def env_references(path: Path) -> dict[str, bool]:
    """Every `${env:NAME}` a config reads -> whether it has a default."""
    return {m.group(1): m.group(2) is not None for m in ENV_REFERENCE.finditer(path.read_text())}


def documented_combinations() -> list[tuple[str, ...]]:
    """Each command line of docs/collector.md that passes `--config` files, as the tuple of their names."""
    combinations = []
    for line in DOC.read_text().splitlines():
        names = tuple(Path(arg).stem for arg in CONFIG_ARG.findall(line))
        if names and names not in combinations:
            combinations.append(names)
    return combinations


def config_args(names: Sequence[str | Path]) -> list[str]:
    paths = [name if isinstance(name, Path) else config_path(name) for name in names]
    return [arg for path in paths for arg in ("--config", str(path))]


def validate(
    binary: Path, names: Sequence[str | Path], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`dcm-otelcol validate` on the merged configs (later files win), with SAMPLE_ENV unless `env`."""
    environ = {**os.environ, **(SAMPLE_ENV if env is None else env)}
    return subprocess.run(
        [str(binary), "validate", *config_args(names)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        check=False,
    )


class Collector(Daemon):
    """The built collector running our configs on free 127.0.0.1 ports; `otlp_http` is where SDKs send."""

    def __init__(
        self, binary: Path, names: Sequence[str | Path], env: Mapping[str, str], log_dir: Path
    ) -> None:
        self.grpc_port, self.health_port, self.telemetry_port = free_port(), free_port(), free_port()
        http_port = free_port()
        super().__init__(
            "collector", [str(binary), *config_args(names)], log_dir / "collector.log", http_port
        )
        self.env = {
            **os.environ,
            "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{self.grpc_port}",
            "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{http_port}",
            "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{self.health_port}",
            "OTELCOL_TELEMETRY_PORT": str(self.telemetry_port),
            "OTELCOL_HOSTMETRICS_INTERVAL": "5s",
            **env,
        }

    @property
    def otlp_http(self) -> str:
        return self.url

    def healthy(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.health_port}/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def figure(self, name: str, **labels: str) -> float:
        """The collector's own metric `name` (a sample name, e.g. otelcol_exporter_sent_spans_total, from its
        telemetry endpoint), summed over the series whose labels include `labels`; 0 when there is none."""
        text = requests.get(f"http://127.0.0.1:{self.telemetry_port}/metrics", timeout=5).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def run(self) -> None:
        """Start, and return once the health_check extension reports the pipelines ready."""
        self.start(self.env)
        if not wait_until(lambda: self.exited() or self.healthy(), STARTUP_TIMEOUT, 0.2) or self.exited():
            self.stop()
            raise RuntimeError(f"the collector never became healthy:\n{self.log_tail()}")


@contextmanager
def running_collector(
    binary: Path, names: Sequence[str | Path], env: Mapping[str, str], log_dir: Path
) -> Iterator[Collector]:
    collector = Collector(binary, names, env, log_dir)
    collector.run()
    try:
        yield collector
    finally:
        collector.stop()
