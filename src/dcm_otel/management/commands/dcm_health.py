"""``manage.py dcm_health``: the readiness checks once, for a container HEALTHCHECK; exit 0 ready, 1 not."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dcm_otel.health import service
from dcm_otel.health.render import as_dict, as_text


class Command(BaseCommand):
    help = "Run the /ready/ checks once and print their report; exit status 0 when ready, 1 when not."
    requires_system_checks: list[str] = []  # a probe must be quick, and answer even when checks would fail

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        report = service.runner().report()
        if options["json"]:
            self.stdout.write(json.dumps(as_dict(report, details=True)))
        else:
            self.stdout.write(as_text(report, details=True), ending="")
        if not report.ok:
            raise CommandError("not ready: " + ", ".join(report.failing), returncode=1)
