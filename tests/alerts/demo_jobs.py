"""Creates one job every --every seconds on the active executor host named --host-prefix... until SIGTERM or
--count jobs (run with the settings of the project whose job processor runs them: the demo's, with
DEMO_VAR_DIR, or the time-to-detect stack's). The image is $DEMO_JOB_IMAGE.

    python tests/alerts/demo_jobs.py --every 2 --command "sh -c 'exit 3'"
    python tests/alerts/demo_jobs.py --every 0 --count 8 --host-prefix ttd- --command "sh -c 'exit 3'"
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
    parser.add_argument("--count", type=int, help="stop after this many jobs (default: until SIGTERM)")
    parser.add_argument("--host-prefix", default="demo-")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    django.setup()
    from container_manager.models import ContainerJob, ExecutorHost

    host = ExecutorHost.objects.get(name__startswith=args.host_prefix, is_active=True)
    image = os.environ["DEMO_JOB_IMAGE"]
    created = 0
    while not stop.is_set() and (args.count is None or created < args.count):
        try:
            ContainerJob.objects.create_job(
                image=image,
                command=args.command,
                name=f"alert-{created}",
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
