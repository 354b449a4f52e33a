"""``manage.py dcm_job_report``: job counts, failure ratios, durations and causes over a period."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dcm_otel.history import report


def _when(value: str) -> datetime:
    """An ISO date or datetime; naive values are UTC, like the jobs table."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not an ISO date/datetime: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Analyse the jobs table over a period: counts, failure ratio, duration percentiles, causes, trends."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=float, default=7.0, help="period ending now (default 7 days)")
        parser.add_argument("--since", type=_when, help="start (ISO date/datetime, UTC if naive)")
        parser.add_argument("--until", type=_when, help="end, exclusive (default now)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        until = options["until"] or datetime.now(UTC)
        since = options["since"] or until - timedelta(days=options["days"])
        if since >= until:
            raise CommandError("--since must be before --until")
        data = report.build(since, until)
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
        else:
            self.stdout.write(report.as_text(data), ending="")
