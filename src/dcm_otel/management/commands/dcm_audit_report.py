"""``manage.py dcm_audit_report --since 7d``: logins, login failures, 403s and admin changes to jobs and hosts
over a period, as text, JSON or CSV (docs/audit.md)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dcm_otel.audit import report

FORMATS = ("text", "json", "csv")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
ALLOWED = (
    "an ISO date or datetime (UTC if naive), or a duration before now: a number and s, m, h, d or w (24h, 7d)"
)


def moment(option: str, value: str, now: datetime) -> datetime:
    """``value`` of ``option`` as an aware datetime; CommandError naming both and what is allowed."""
    text = value.strip()
    duration = _DURATION.fullmatch(text)
    if duration:
        return now - timedelta(seconds=float(duration[1]) * _UNIT_SECONDS[duration[2]])
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} {value!r} is not allowed: {ALLOWED}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Report security and admin events (logins, failures, 403s, admin changes to jobs and hosts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help=f"start, inclusive: {ALLOWED}")
        parser.add_argument("--until", help="end, exclusive (default now); same forms as --since")
        parser.add_argument("--format", default="text", help="text (default), json or csv")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["format"] not in FORMATS:
            raise CommandError(f"--format {options['format']!r} is not allowed: one of {', '.join(FORMATS)}")
        now = datetime.now(UTC)
        since = moment("--since", options["since"], now)
        until = now if options["until"] is None else moment("--until", options["until"], now)
        if since >= until:
            raise CommandError(f"--since ({since.isoformat()}) must be before --until ({until.isoformat()})")
        data = report.build(since, until)
        if options["format"] == "json":
            self.stdout.write(json.dumps(data, indent=2))
        elif options["format"] == "csv":
            self.stdout.write(report.as_csv(data), ending="")
        else:
            self.stdout.write(report.as_text(data), ending="")
