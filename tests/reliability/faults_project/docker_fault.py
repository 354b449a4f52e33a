"""A container_manager job on the real Docker Engine: launched, then (once the test has broken the engine
and says so on stdin) checked and harvested. Prints what the app saw as JSON: each call's result or the
exception it raised, the job's final status, and the container_manager log records (level, exception)."""

import json
import logging
import sys

import django

django.setup()

from container_manager.executors.factory import ExecutorProvider  # noqa: E402
from container_manager.models import ContainerJob, ExecutorHost  # noqa: E402
from django.core.management import call_command  # noqa: E402

base_url, image = sys.argv[1], sys.argv[2]
logged = []


class Capture(logging.Handler):
    def emit(self, record):
        logged.append([record.levelname, record.exc_info[0].__qualname__ if record.exc_info else None])


logging.getLogger("container_manager").addHandler(Capture(logging.WARNING))
call_command("migrate", verbosity=0)
host = ExecutorHost.objects.create(
    name="faulty", executor_type="docker", connection_string=base_url, auto_pull_images=False
)
job = ContainerJob.objects.create(
    docker_host=host, name="fault", command="sh -c 'echo done'", docker_image=image
)
executor = ExecutorProvider().get_executor(host)


def outcome(call, *args):
    try:
        return call(*args)
    except Exception as exc:  # what would reach the app
        return f"raised {type(exc).__qualname__}"


launched = outcome(executor.launch_job, job)
print("launched", flush=True)
sys.stdin.readline()  # the engine is broken now
job.refresh_from_db()
status = outcome(executor.check_status, job.get_execution_identifier())
harvested = outcome(executor.harvest_job, job)
job.refresh_from_db()
print(
    json.dumps(
        {
            "launched": launched[0] if isinstance(launched, tuple) else launched,
            "status": status,
            "harvested": harvested,
            "job_status": job.status,
            "logged": logged,
        }
    )
)
