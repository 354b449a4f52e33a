"""Creates one job every --every seconds on the demo's active executor host until SIGTERM (run with the demo's
settings and DEMO_VAR_DIR, so the demo's job processor runs them).

    python tests/alerts/demo_jobs.py --every 2 --command "sh -c 'exit 3'"
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

import django
from django.db import OperationalError


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--every", type=float, default=2.0)
    parser.add_argument("--command", required=True)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    django.setup()
    from container_manager.models import ContainerJob, ExecutorHost

    host = ExecutorHost.objects.get(name__startswith="demo-", is_active=True)
    image = os.environ["DEMO_JOB_IMAGE"]
    created = 0
    while not stop.is_set():
        try:
            ContainerJob.objects.create_job(
                image=image,
                command=args.command,
                name=f"alert-e2e-{created}",
                docker_host=host,
                timeout_seconds=60,
            )
            created += 1
            print(f"created job {created} on {host.name}", flush=True)
        except OperationalError as error:  # SQLite busy with the processor: try again next round
            print(f"retrying: {error}", flush=True)
        stop.wait(args.every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
