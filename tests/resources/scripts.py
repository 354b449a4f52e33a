"""Scripts run in a subprocess of a test project (Django set up, telemetry to the OTLP receiver)."""

PRELUDE = """\
import json, sys, threading, time
import django
django.setup()
from django.core.management import call_command
from dcm_otel import runtime
call_command("migrate", verbosity=0)

def flush():
    runtime.current().telemetry.meter_provider.force_flush()
"""

#: argv: Docker base URL, image. Runs one job that holds 48 MiB (tmpfs) and burns one CPU for a few seconds
#: through the real process_container_jobs; prints the job's row.
BUSY_JOB = """
from container_manager.management.commands.process_container_jobs import Command
from container_manager.models import ContainerJob, ExecutorHost

host = ExecutorHost.objects.create(
    name="engine", executor_type="docker", connection_string=sys.argv[1], auto_pull_images=False
)
fill = "dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null"
# Six seconds of one busy CPU however fast the machine: a shell counting loop that checks the clock.
burn = (
    "end=$(($(date +%s)+6)); while [ $(date +%s) -lt $end ]; do i=0; "
    "while [ $i -lt 100000 ]; do i=$((i+1)); done; done"
)
job = ContainerJob.objects.create(
    docker_host=host, name="busy", docker_image=sys.argv[2], command=f"sh -c '{fill}; {burn}'"
)
command = Command()
for _ in range(120):
    call_command(command, "--legacy-mode", "--single-run", "--poll-interval=1", verbosity=0)
    job.refresh_from_db()
    if job.status in ("completed", "failed", "timeout"):
        break
    time.sleep(0.3)
flush()
runtime.current().telemetry.tracer_provider.force_flush()
print(json.dumps({
    "status": job.status, "id": str(job.pk), "started_at": job.started_at.timestamp(),
    "container_id": job.get_execution_identifier(),
    "max_memory_usage": job.max_memory_usage, "cpu_usage_percent": job.cpu_usage_percent,
}))
"""

#: argv: Docker base URL, stop file. Serves requests until the stop file exists; prints the slowest request
#: and the most probe threads seen at once.
SERVE_WHILE_PROBING = """
import os
from django.test import Client
from container_manager.models import ExecutorHost

ExecutorHost.objects.create(name="engine", executor_type="docker", connection_string=sys.argv[1])
ExecutorHost.objects.create(name="mock-1", executor_type="mock", connection_string="mock://")
client, slowest, probes = Client(), 0.0, 0
while not os.path.exists(sys.argv[2]):
    start = time.monotonic()
    assert client.get("/").status_code == 200
    slowest = max(slowest, time.monotonic() - start)
    probes = max(probes, sum(t.name.startswith("dcm-otel-probe-") for t in threading.enumerate()))
    time.sleep(0.05)
flush()
print(json.dumps({"slowest": slowest, "probe_threads": probes}))
"""

#: Collects the host and process metrics once.
HOST_FIGURES = """
time.sleep(0.2)  # a CPU utilization interval
flush()
print(json.dumps({}))
"""
