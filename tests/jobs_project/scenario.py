"""Runs >= 20 jobs through the real process_container_jobs command and prints the database truth as JSON.

argv: executor ('mock' or 'docker'), Docker base URL (docker only), image. Telemetry goes to the OTLP
endpoint in the environment; metrics are flushed at two moments whose queue depth the truth records.
"""

import json
import sys
import time

import django

django.setup()

from container_manager.management.commands.process_container_jobs import Command  # noqa: E402
from container_manager.models import ContainerJob, ExecutorHost  # noqa: E402
from container_manager.queue import queue_manager  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from dcm_otel import runtime  # noqa: E402

ACTIVE = ("pending", "queued", "retrying", "launching", "running")
executor, base_url, image = sys.argv[1], sys.argv[2], sys.argv[3]
call_command("migrate", verbosity=0)
host = ExecutorHost.objects.create(
    name=f"{executor}-1",
    executor_type=executor,
    connection_string=base_url or "mock://",
    auto_pull_images=False,
)


def job(name, command, **fields):
    fields.setdefault("docker_image", image)
    return ContainerJob.objects.create(docker_host=host, name=name, command=command, **fields)


for i in range(12):
    job(f"ok-{i}", "sh -c 'echo ok'")
for i in range(6):
    job(f"bad-{i}", "sh -c 'exit 3'")
job("slow", "sleep 30", timeout_seconds=0 if executor == "mock" else 1)
cancelled = job("cancelled", "sh -c 'echo never'")
broken = job(
    "broken", "sh -c 'echo retried'", docker_image="dcm-missing:latest" if executor == "docker" else image
)
response = Client().post(
    "/enqueue/", {"host": host.name, "image": image, "command": "sh -c 'echo $TRACEPARENT'"}
)
traced_id = response.content.decode()
cancelled.status = "cancelled"
cancelled.save()


def depth():
    counts = {s: ContainerJob.objects.filter(status=s).count() for s in ACTIVE}
    return {s: n for s, n in counts.items()}


def flush():
    runtime.current().telemetry.meter_provider.force_flush()


moments = [depth()]
flush()

command = Command()
retried = False
if executor == "mock":  # the mock cannot fail a launch on demand: fail it the way the command does
    command.mark_job_failed(broken, "launch failed")
for _ in range(200):
    if not ContainerJob.objects.filter(status__in=ACTIVE).exists():
        break
    call_command(
        command, "--legacy-mode", "--single-run", "--poll-interval=1", f"--host={host.name}", verbosity=0
    )
    broken.refresh_from_db()
    if broken.status == "failed" and not retried:  # fix the cause, retry through the queue
        retried = True
        broken.docker_image = image
        broken.save(update_fields=["docker_image"])
        queue_manager.retry_failed_job(broken)
        call_command(Command(), "--once", "--max-concurrent=100", verbosity=0)
    time.sleep(0.3)
moments.append(depth())
flush()


def seconds(later, earlier):
    return (later - earlier).total_seconds()


jobs = list(ContainerJob.objects.all())
print(
    json.dumps(
        {
            "jobs": len(jobs),
            "status": {
                s: sum(j.status == s for j in jobs) for s in ("completed", "failed", "timeout", "cancelled")
            },
            "runs": [
                [j.status, seconds(j.completed_at, j.started_at)]
                for j in jobs
                if j.started_at and j.completed_at and j.completed_at >= j.started_at
            ],
            "waits": [seconds(j.started_at, j.queued_at or j.created_at) for j in jobs if j.started_at],
            "moments": moments,
            "host": host.name,
            "traced_id": traced_id,
            "traced_stdout": ContainerJob.objects.get(pk=traced_id).stdout_log,
        }
    )
)
