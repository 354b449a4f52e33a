"""The OTLP/HTTP receiver the exporting configurations send to, in a process of its own.

The built collector (``dcm-otelcol``, from scripts/build-collector.sh's cache) when there is one: an OTLP
receiver (which decodes every payload into the collector's data model) into the ``debug`` exporter at
``basic`` verbosity, sampled, so that it writes almost nothing. Else the test suite's Python receiver
(tests/otlp_receiver.py), which parses every request with the protobuf schema and keeps nothing. Building
the collector takes minutes and is left to ``nox -s collector``; the benchmark only looks in the cache.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.http import free_port

ROOT = Path(__file__).resolve().parent.parent
BUILDER_CONFIG = ROOT / "collector" / "builder-config.yaml"
STARTUP_TIMEOUT = 30.0
LIFETIME = 3 * 3600.0  # the Python receiver's bound, should this process die without stopping it

# The sink: an OTLP receiver (http or grpc) into the debug exporter, sampled (benchmarks.gateway uses it too).
COLLECTOR_SINK_CONFIG = """\
extensions:
  health_check:
    endpoint: 127.0.0.1:{health_port}
receivers:
  otlp:
    protocols:
      {protocol}:
        endpoint: 127.0.0.1:{port}
exporters:
  debug:
    verbosity: basic
    sampling_initial: 1
    sampling_thereafter: 1000
service:
  extensions: [health_check]
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
    metrics:
      receivers: [otlp]
      exporters: [debug]
    logs:
      receivers: [otlp]
      exporters: [debug]
"""


@dataclass(frozen=True)
class Receiver:
    endpoint: str
    description: str


def cached_collector() -> Path | None:
    """Where scripts/build-collector.sh keeps the binary for the current builder config, if it is there."""
    cache = os.environ.get("DCM_OTEL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "dcm_otel"
    )
    digest = hashlib.sha256(BUILDER_CONFIG.read_bytes()).hexdigest()[:16]
    binary = Path(cache) / "collector" / digest / "dcm-otelcol"
    return binary if os.access(binary, os.X_OK) else None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (our own http://127.0.0.1 URL)
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer: the server is up
    except OSError:
        return False


def _wait(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _answers(url):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the OTLP receiver did not answer {url}:\n{log.read_text(errors='replace')[-4000:]}")


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    """A running receiver on 127.0.0.1; stopped (by its PID) on exit."""
    port = free_port()
    binary = cached_collector()
    with tempfile.TemporaryDirectory(prefix="dcm_otel_bench-receiver-") as tmp:
        log = Path(tmp) / "receiver.log"
        if binary is not None:
            health_port = free_port()
            config = Path(tmp) / "collector.yaml"
            config.write_text(
                COLLECTOR_SINK_CONFIG.format(protocol="http", port=port, health_port=health_port)
            )
            command = [str(binary), "--config", str(config)]
            ready_url = f"http://127.0.0.1:{health_port}/"
            description = f"dcm-otelcol ({binary}): otlp receiver -> debug exporter, basic, sampled"
        else:
            command = [sys.executable, "-m", "tests.otlp_receiver", str(port), str(LIFETIME)]
            ready_url = f"http://127.0.0.1:{port}/"
            description = "tests/otlp_receiver.py in a subprocess (protobuf decode, nothing kept)"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
        }
        with log.open("wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=output, env=env, cwd=ROOT)
        try:
            _wait(process, ready_url, log)
            yield Receiver(f"http://127.0.0.1:{port}", description)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
