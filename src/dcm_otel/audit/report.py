"""The audit report: the audit store's events and the admin's ``LogEntry`` rows of jobs and hosts over a
period, counted, as plain data (JSON), text or CSV. Users and addresses appear only as keyed hashes: a user's
hash is the same in every section (and in the ``dcm_otel.security`` log's ``user.hash``), so one account's
failures, successes, refusals and admin changes line up."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from dcm_otel.logs.security import keyed_hash

ANONYMOUS, UNKNOWN = "(anonymous)", "(unknown)"
#: The admin changes reported: django-container-manager's jobs and hosts (``app_label.model``).
ADMIN_MODELS = ("container_manager.containerjob", "container_manager.executorhost")
_ADMIN_ACTIONS = {1: "add", 2: "change", 3: "delete"}  # LogEntry.action_flag


def _ranked(values: Iterable[str]) -> dict[str, int]:
    """Counts, the most frequent first (ties by name), so repeated offenders lead."""
    return dict(sorted(Counter(values).items(), key=lambda item: (-item[1], item[0])))


def _events(since: datetime, until: datetime) -> list[tuple[str, str, str, str]]:
    from .models import AuditEvent

    rows = AuditEvent.objects.filter(time__gte=since, time__lt=until)
    return list(rows.values_list("kind", "user_hash", "address_hash", "route"))


def _admin_entries(since: datetime, until: datetime) -> list[dict[str, str]]:
    from django.apps import apps

    if not apps.is_installed("django.contrib.admin"):
        return []
    from django.contrib.admin.models import LogEntry
    from django.db.models import Q

    wanted = Q()
    for label in ADMIN_MODELS:
        app_label, model = label.split(".")
        wanted |= Q(content_type__app_label=app_label, content_type__model=model)
    entries = (
        LogEntry.objects.filter(wanted, action_time__gte=since, action_time__lt=until)
        .select_related("user", "content_type")
        .order_by("action_time", "pk")
    )
    return [
        {
            "time": entry.action_time.isoformat(),
            "user": keyed_hash(entry.user.get_username()),
            "action": _ADMIN_ACTIONS.get(entry.action_flag, str(entry.action_flag)),
            "object_type": f"{entry.content_type.app_label}.{entry.content_type.model}",  # type: ignore[union-attr]
            "object_id": str(entry.object_id or ""),
        }
        for entry in entries
    ]


def build(since: datetime, until: datetime) -> dict[str, Any]:
    """The whole report for [since, until) as plain data (what ``--format json`` prints)."""
    events = _events(since, until)
    of_kind = {
        kind: [
            (user or ANONYMOUS, address or UNKNOWN, route) for k, user, address, route in events if k == kind
        ]
        for kind in ("login.succeeded", "login.failed", "permission_denied")
    }
    succeeded, failed = of_kind["login.succeeded"], of_kind["login.failed"]
    denied = of_kind["permission_denied"]
    admin = _admin_entries(since, until)
    by_type: dict[str, dict[str, int]] = {}
    for entry in admin:
        actions = by_type.setdefault(entry["object_type"], {"add": 0, "change": 0, "delete": 0})
        actions[entry["action"]] = actions.get(entry["action"], 0) + 1
    return {
        "period": {"since": since.isoformat(), "until": until.isoformat()},
        "logins": {
            "succeeded": len(succeeded),
            "failed": len(failed),
            "succeeded_by_user": _ranked(user for user, _, _ in succeeded),
            "failed_by_user": _ranked(user for user, _, _ in failed),
            "failed_by_address": _ranked(address for _, address, _ in failed),
        },
        "permission_denials": {
            "total": len(denied),
            "by_route": _ranked(route or UNKNOWN for _, _, route in denied),
            "by_user": _ranked(user for user, _, _ in denied),
            "by_address": _ranked(address for _, address, _ in denied),
        },
        "admin_changes": {
            "total": len(admin),
            "by_object_type": dict(sorted(by_type.items())),
            "by_user": _ranked(entry["user"] for entry in admin),
            "entries": admin,
        },
    }


def rows(report: dict[str, Any]) -> Iterator[tuple[str, str, str, int]]:
    """(section, group, key, count) for every figure of the report; the admin entries stay in JSON."""
    for section, body in report.items():
        if section == "period":
            continue
        for group, value in body.items():
            if isinstance(value, int):
                yield section, group, "", value
            elif isinstance(value, dict):
                for key, count in value.items():
                    if isinstance(count, dict):
                        yield from ((section, f"{group}:{key}", sub, n) for sub, n in count.items())
                    else:
                        yield section, group, key, count


def as_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "group", "key", "count"])
    writer.writerows(rows(report))
    return out.getvalue()


def _counts(title: str, counts: dict[str, int]) -> list[str]:
    return [f"  {title}:", *(f"    {key:<60} {n:>6}" for key, n in counts.items())] if counts else []


def as_text(report: dict[str, Any]) -> str:
    """A plain-text rendering for a terminal."""
    logins, denials, admin = report["logins"], report["permission_denials"], report["admin_changes"]
    lines = [
        f"Security and admin events {report['period']['since']} .. {report['period']['until']}",
        "(users and addresses as keyed hashes)",
        f"Logins: {logins['succeeded']} succeeded, {logins['failed']} failed",
        *_counts("succeeded by user", logins["succeeded_by_user"]),
        *_counts("failed by user", logins["failed_by_user"]),
        *_counts("failed by address", logins["failed_by_address"]),
        f"Permission denials (403): {denials['total']}",
        *_counts("by route", denials["by_route"]),
        *_counts("by user", denials["by_user"]),
        *_counts("by address", denials["by_address"]),
        f"Admin changes to jobs and hosts: {admin['total']}",
        *(
            f"  {kind}: " + ", ".join(f"{action} {n}" for action, n in actions.items())
            for kind, actions in admin["by_object_type"].items()
        ),
        *_counts("by user", admin["by_user"]),
        *(
            f"  {e['time']} {e['user']} {e['action']} {e['object_type']} {e['object_id']}"
            for e in admin["entries"]
        ),
    ]
    return "\n".join(lines) + "\n"
