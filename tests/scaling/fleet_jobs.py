"""Creates the fleet's executor hosts and jobs through the ORM, in the project's own process.

argv: ``setup IMAGE NAME=URL...`` (migrate; per host OK jobs that succeed and FAILING that exit 3, except
on hosts named ``idle-*``, served by no processor, which get WAITING jobs that stay pending: 3 on the first,
2 on the next) or ``slow IMAGE NAME`` (one long job; prints its id).
"""

import sys

import django

django.setup()

from container_manager.models import ContainerJob, ExecutorHost  # noqa: E402
from django.core.management import call_command  # noqa: E402

OK, FAILING, WAITING = 4, 2, [3, 2]
phase, image, *rest = sys.argv[1:]


def job(host, name, command):
    return ContainerJob.objects.create(docker_host=host, name=name, command=command, docker_image=image)


if phase == "setup":
    call_command("migrate", verbosity=0)
    for pair in rest:
        name, url = pair.split("=", 1)
        host = ExecutorHost.objects.create(
            name=name, executor_type="docker", connection_string=url, auto_pull_images=False
        )
        if name.startswith("idle-"):
            for i in range(WAITING.pop(0)):
                job(host, f"waiting-{i}", "sh -c 'echo never'")
            continue
        for i in range(OK):
            job(host, f"ok-{i}", "sh -c 'echo ok'")
        for i in range(FAILING):
            job(host, f"bad-{i}", "sh -c 'exit 3'")
else:
    print(job(ExecutorHost.objects.get(name=rest[0]), "slow", "sleep 300").pk)
