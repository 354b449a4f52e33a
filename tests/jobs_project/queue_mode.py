"""One phase of a queue-mode run, in a process of its own: ``launch`` queues a job that prints its
TRACEPARENT and launches it with ``process_container_jobs --once`` (queue mode, which never harvests);
``harvest`` runs legacy-mode cycles until the job is finished and prints the job as JSON.

argv: phase, executor ('mock' or 'docker'), Docker base URL (docker only), image. Both phases share the
project's SQLite database; telemetry goes to the OTLP endpoint in the environment.
"""

import json
import sys

import django

django.setup()

from container_manager.management.commands.process_container_jobs import Command  # noqa: E402
from container_manager.models import ContainerJob, ExecutorHost  # noqa: E402
from container_manager.queue import queue_manager  # noqa: E402
from django.core.management import call_command  # noqa: E402

from dcm_otel import runtime  # noqa: E402

phase, executor, base_url, image = sys.argv[1:5]
if phase == "launch":
    call_command("migrate", verbosity=0)
    host = ExecutorHost.objects.create(
        name=f"{executor}-1", executor_type=executor, connection_string=base_url or "mock://",
        auto_pull_images=False,
    )  # fmt: skip
    job = ContainerJob.objects.create(
        docker_host=host, name="queued", docker_image=image, command="sh -c 'echo $TRACEPARENT'"
    )
    queue_manager.queue_job(job)
    call_command(Command(), "--once", "--max-concurrent=10", verbosity=0)
    job.refresh_from_db()
    assert job.status == "running", job.status
else:
    job = ContainerJob.objects.get()
    for _ in range(100):
        call_command(Command(), "--legacy-mode", "--single-run", "--poll-interval=1", verbosity=0)
        job.refresh_from_db()
        if job.status != "running":
            break
runtime.current().telemetry.tracer_provider.force_flush()
print(
    json.dumps({"id": str(job.pk), "status": job.status, "stdout": job.stdout_log, **job.executor_metadata})
)
