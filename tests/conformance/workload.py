"""The conformance workload, run in a process of its own (telemetry to the OTLP endpoint in the env).

argv: Docker base URL, image, output directory. HTTP requests through Django's handler (every known method,
QUERY, an unknown one, a query string, 2xx/3xx/4xx/5xx, an exception), a failing query per database
alias, Docker SDK calls (a stream and an error), jobs that succeed, fail and time out through the real
``process_container_jobs``; then writes the ``/metrics`` exposition to ``metrics.txt``.
"""

import contextlib
import sys
import time
from pathlib import Path

import django

django.setup()

import docker  # noqa: E402
import docker.errors  # noqa: E402
from container_manager.management.commands.process_container_jobs import Command  # noqa: E402
from container_manager.models import ContainerJob, ExecutorHost  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from dcm_otel import runtime  # noqa: E402

base_url, image, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
call_command("migrate", verbosity=0)
client = Client(raise_request_exception=False, HTTP_USER_AGENT="dcm-otel-conformance/1.0")

for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "QUERY", "FOO"):
    client.generic(method, "/")
client.get("/search/", {"q": "otel"})
client.get("/query")  # 301: CommonMiddleware appends the slash
client.get("/missing/")  # 404
client.get("/boom/")  # an exception: 500
client.get("/logged/")
for alias in settings.DATABASES:
    client.get(f"/bad-sql/{alias}/")

engine = docker.DockerClient(base_url=base_url, version="auto")
engine.ping()
engine.containers.list(all=True)
with contextlib.suppress(docker.errors.ImageNotFound):  # an error span
    engine.images.get("dcm-missing:latest")
streamed = engine.containers.run(image, "echo streamed", detach=True, network_mode="none")
b"".join(streamed.logs(stream=True, follow=True))
streamed.remove(force=True)
engine.close()

host = ExecutorHost.objects.create(
    name="engine", executor_type="docker", connection_string=base_url, auto_pull_images=False
)
jobs = [
    ContainerJob.objects.create(docker_host=host, name=name, docker_image=image, command=command, **extra)
    for name, command, extra in (
        ("ok", "sh -c 'sleep 2; echo ok'", {}),
        ("fails", "sh -c 'exit 3'", {}),
        ("times-out", "sleep 30", {"timeout_seconds": 1}),
    )
]
command = Command()
for _ in range(120):
    call_command(command, "--legacy-mode", "--single-run", "--poll-interval=1", verbosity=0)
    if not ContainerJob.objects.exclude(status__in=("completed", "failed", "timeout")).exists():
        break
    time.sleep(0.3)

(out / "metrics.txt").write_bytes(client.get("/metrics").content)
telemetry = runtime.current().telemetry
for provider in (telemetry.tracer_provider, telemetry.meter_provider, telemetry.logger_provider):
    provider.force_flush()
print(sorted(f"{job.name}={job.status}" for job in ContainerJob.objects.all()), flush=True)
