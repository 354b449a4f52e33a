"""A report as JSON or plain text, with or without the per-check details."""

from __future__ import annotations

from typing import Any

from dcm_otel.health.results import Report


def as_dict(report: Report, details: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"status": report.status}
    if details:
        body["checks"] = {
            r.name: {"status": r.status, "duration_s": round(r.duration, 6), "reason": r.reason}
            for r in report.results
        }
    return body


def as_text(report: Report, details: bool) -> str:
    lines: list[str] = [report.status]
    if details:
        lines += [f"{r.name} {r.status} {r.duration:.3f}s {r.reason}".rstrip() for r in report.results]
    return "\n".join(lines) + "\n"
