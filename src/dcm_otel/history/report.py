"""The historical report: rows of a period from the jobs table, analysed by ``stats``, as JSON or text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dcm_otel.history import stats

TOP_LIMIT = 5


def load_rows(since: datetime, until: datetime) -> list[stats.JobRow]:
    """The jobs created in [since, until), one query with the host joined."""
    from container_manager.models import ContainerJob

    jobs = ContainerJob.objects.filter(created_at__gte=since, created_at__lt=until).select_related(
        "docker_host"
    )
    return [
        stats.JobRow(
            image=job.docker_image or "(none)",
            host=job.docker_host.name,
            status=job.status,
            created_at=job.created_at.astimezone(UTC),
            started_at=job.started_at,
            completed_at=job.completed_at,
            exit_code=job.exit_code,
            last_error=job.last_error or "",
        )
        for job in jobs.iterator()
    ]


def build(since: datetime, until: datetime) -> dict[str, Any]:
    """The whole report as plain data (what ``--json`` prints and the admin page renders)."""
    rows = load_rows(since, until)
    images, hosts = stats.grouped(rows, "image"), stats.grouped(rows, "host")
    return {
        "period": {"since": since.isoformat(), "until": until.isoformat()},
        "totals": stats.summary(rows),
        "by_image": images,
        "by_host": hosts,
        "top_failing_images": stats.top_failing(images, TOP_LIMIT),
        "top_failing_hosts": stats.top_failing(hosts, TOP_LIMIT),
        "by_day": stats.by_day(rows),
    }


def _num(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(title: str, groups: dict[str, dict[str, Any]]) -> list[str]:
    lines = [title, f"  {'name':<40} {'jobs':>6} {'failed':>6} {'ratio':>7} {'p50 s':>9} {'p95 s':>9}"]
    for key, g in groups.items():
        d = g["duration_seconds"]
        lines.append(
            f"  {key[:40]:<40} {g['jobs']:>6} {g['failed']:>6} {_num(g['failure_ratio']):>7} "
            f"{_num(d['p50']):>9} {_num(d['p95']):>9}"
        )
    return lines


def _causes(title: str, keys: list[str], groups: dict[str, dict[str, Any]]) -> list[str]:
    lines = [title]
    for key in keys:
        codes = ", ".join(f"{code} x{n}" for code, n in groups[key]["exit_codes"])
        errors = "; ".join(f"{error[:60]} x{n}" for error, n in groups[key]["errors"]) or "-"
        lines.append(f"  {key}: {groups[key]['failed']} failed; exit codes {codes}; errors {errors}")
    return lines


def as_text(report: dict[str, Any]) -> str:
    """A plain-text rendering for a terminal."""
    totals = report["totals"]
    lines = [
        f"Jobs {report['period']['since']} .. {report['period']['until']}",
        f"  jobs {totals['jobs']}, finished {totals['finished']}, failed {totals['failed']}, "
        f"failure ratio {_num(totals['failure_ratio'])}",
        "  duration " + ", ".join(f"{p} {_num(v)} s" for p, v in totals["duration_seconds"].items()),
        *_table("By image", report["by_image"]),
        *_table("By host", report["by_host"]),
        *_causes("Top failing images", report["top_failing_images"], report["by_image"]),
        *_causes("Top failing hosts", report["top_failing_hosts"], report["by_host"]),
        "By day",
        *(
            f"  {day} jobs {d['jobs']} failed {d['failed']} ratio {_num(d['failure_ratio'])}"
            for day, d in report["by_day"].items()
        ),
    ]
    return "\n".join(lines) + "\n"
