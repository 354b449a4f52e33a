"""A plain WSGI app for the gunicorn tests: counts the requests it serves, serves the merged figures on
/metrics, and answers with its pid in ``X-Pid`` so the test knows which worker served."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider

from dcm_otel.prometheus import PrometheusEndpoint, default_multiprocess_dir

WRITE_INTERVAL = float(os.environ.get("PROMETHEUS_APP_WRITE_INTERVAL", "0.2"))
IMPORT_COUNT = 5  # recorded at import: by the master once with --preload, else by every worker

endpoint = PrometheusEndpoint(default_multiprocess_dir(), write_interval=WRITE_INTERVAL)
provider = MeterProvider(metric_readers=[endpoint.reader])
meter = provider.get_meter("prometheus_app", "1.0")
requests = meter.create_counter("app.requests", description="Requests served")
duration = meter.create_histogram("app.request.duration", unit="s", description="Time to serve")
serving_workers = meter.create_up_down_counter("app.serving.workers", description="Workers that served")
requests.add(IMPORT_COUNT, {"path": "/import"})
_serving_pid: int | None = None


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/metrics":
        body, content_type = endpoint.render(environ.get("HTTP_ACCEPT"))
    else:
        body, content_type = _serve(environ["PATH_INFO"]), "text/plain"
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("X-Pid", str(os.getpid())),
    ]
    start_response("200 OK", headers)
    return [body]


def _serve(path: str) -> bytes:
    global _serving_pid
    started = time.perf_counter()
    time.sleep(0.01)  # long enough that concurrent requests spread over the workers
    if _serving_pid != os.getpid():
        _serving_pid = os.getpid()
        serving_workers.add(1)
    requests.add(1, {"path": path})
    duration.record(time.perf_counter() - started)
    return b"ok\n"
