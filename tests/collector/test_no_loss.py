"""(Issue 12.3) No loss below capacity, every process real: gunicorn -w 4 with the one-line init exports
OTLP/HTTP to the built collector (base + prometheus + jaeger), which remote-writes metrics to Prometheus and
forwards spans to Jaeger v2. N requests -> exactly N in Prometheus (the request-duration count summed over
the workers) and exactly N server spans in Jaeger, while the server still runs (no exit flush needed).
The requests carry planted secrets (issue 12.7), which neither backend may hold."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.project_factory import write_project
from tests.reliability._support import report
from tests.reliability.test_secrets import SECRETS
from tests.services._common import wait_until
from tests.test_gunicorn import ONE_LINE, gunicorn

from .backends import Jaeger, Prometheus
from .configs import running_collector

REQUESTS = 2000
CLIENTS = 8
SERVICE = "noloss"
ROUTE = "/jobs/<uuid:pk>/"
OPERATION = f"GET {ROUTE}"
ARRIVAL_TIMEOUT = 90.0  # metric export every second, remote write, the collector's batches, with room
COUNT = f'sum(http_server_request_duration_seconds_count{{job="{SERVICE}", http_route="{ROUTE}"}})'
SETTINGS_TAIL = f'\nDATABASES["default"]["PASSWORD"] = "{SECRETS["db password"]}"\n' + ONE_LINE


def get_with_secrets(url: str) -> str:
    """A request carrying an Authorization header, a session cookie and an api_key query parameter."""
    request = urllib.request.Request(
        f"{url}?api_key={SECRETS['query token']}",
        headers={
            "Authorization": f"Bearer {SECRETS['authorization']}",
            "Cookie": f"sessionid={SECRETS['cookie']}",
            "Connection": "close",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


def stored_text(prometheus: Prometheus, jaeger: Jaeger) -> str:
    """What the backends hold for the service: every Prometheus series (labels) and every Jaeger trace."""
    series = requests.get(
        f"{prometheus.url}/api/v1/series", params={"match[]": '{__name__=~".+"}'}, timeout=10
    )
    traces = requests.get(
        f"{jaeger.url}/api/traces",
        params={"service": SERVICE, "limit": str(2 * REQUESTS)},
        timeout=30,
    )
    return json.dumps([series.json(), traces.json()])


@pytest.mark.services
def test_every_request_reaches_prometheus_and_jaeger(
    collector_binary: Path, prometheus: Prometheus, jaeger: Jaeger, tmp_path: Path
) -> None:
    env = {
        "PROMETHEUS_REMOTE_WRITE_ENDPOINT": prometheus.remote_write_url,
        "JAEGER_OTLP_ENDPOINT": jaeger.otlp_grpc_endpoint,
        "JAEGER_OTLP_INSECURE": "true",
    }
    project = write_project(tmp_path / "app", settings_tail=SETTINGS_TAIL)
    with running_collector(collector_binary, ["base", "prometheus", "jaeger"], env, tmp_path) as collector:
        app_env = {
            "OTEL_SERVICE_NAME": SERVICE,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http,
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "APP_API_TOKEN": SECRETS["env secret"],
        }
        with gunicorn(project, "-w", "4", **app_env) as (_, base):
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
                urls = [f"{base}/jobs/{uuid.uuid4()}/" for _ in range(REQUESTS)]
                answers = list(pool.map(get_with_secrets, urls))
            load_s = round(time.monotonic() - started, 1)
            counted = wait_until(lambda: prometheus.scalar(COUNT) == REQUESTS, ARRIVAL_TIMEOUT, 1.0)
            spans = wait_until(
                lambda: jaeger.span_count(SERVICE, OPERATION, 2 * REQUESTS) == REQUESTS, ARRIVAL_TIMEOUT, 2.0
            )
            workers = prometheus.query(f'http_server_request_duration_seconds_count{{job="{SERVICE}"}}')
            in_prometheus = prometheus.scalar(COUNT)
            in_jaeger = jaeger.span_count(SERVICE, OPERATION, 2 * REQUESTS)
            stored = stored_text(prometheus, jaeger)
    found = sorted(name for name, secret in SECRETS.items() if secret in stored)
    report(
        "no loss below capacity, gunicorn -w 4 -> collector -> Prometheus + Jaeger",
        requests=REQUESTS,
        load_s=load_s,
        failed=REQUESTS - len(answers),
        counted_in_prometheus=in_prometheus,
        spans_in_jaeger=in_jaeger,
        worker_series=len({w["metric"].get("instance") for w in workers}),
        secrets_planted=len(SECRETS),
        secrets_found=len(found),
    )
    assert len(answers) == REQUESTS
    assert counted, (in_prometheus, collector.log_tail())
    assert spans, (in_jaeger, collector.log_tail())
    assert SERVICE in stored, "the scan read the service's data"
    assert not found, found
