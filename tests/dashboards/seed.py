"""Writes jobs with chosen timestamps into a project's database (run inside it: ``python seed.py``).

Two hosts, three images, every finished status, exit codes and errors, spread over three days, plus
rows outside the reported period that the report must leave out.
"""

import random
from datetime import UTC, datetime, timedelta

import django

django.setup()

from container_manager.models import ContainerJob, ExecutorHost  # noqa: E402
from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0)
rng = random.Random(11)
hosts = [ExecutorHost.objects.create(name=n, connection_string=f"tcp://{n}:2375") for n in ("alpha", "beta")]
images = ["app:1", "etl:2", "report:3"]
statuses = ["completed"] * 6 + ["failed", "failed", "timeout", "cancelled", "running", "pending"]
errors = ["OOMKilled\nmore detail", "image not found", "", "connection reset"]
base = datetime(2026, 3, 10, tzinfo=UTC)
for i in range(90):
    created = base + timedelta(days=i % 3, hours=rng.randint(0, 20), minutes=rng.randint(0, 59))
    if i >= 84:  # outside the period asked for by the test
        created = base - timedelta(days=2)
    status = rng.choice(statuses)
    started = created + timedelta(seconds=rng.randint(0, 30)) if status != "pending" else None
    done = status in {"completed", "failed", "timeout", "cancelled"} and started
    job = ContainerJob.objects.create(
        docker_host=hosts[i % 2],
        name=f"job-{i}",
        command="true",
        docker_image=images[rng.randrange(3)] if i % 7 else "",
        status=status,
        started_at=started,
        completed_at=started + timedelta(seconds=rng.uniform(0.5, 300)) if done and i % 11 else None,
        exit_code=rng.choice([1, 2, 137]) if status == "failed" else (0 if status == "completed" else None),
        last_error=rng.choice(errors) if status in {"failed", "timeout"} else "",
    )
    ContainerJob.objects.filter(pk=job.pk).update(created_at=created)
print("seeded")
