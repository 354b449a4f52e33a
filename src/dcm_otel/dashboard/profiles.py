"""The page of one profile (staff only): its call tree, each function's share of the samples as a bar.

Server-rendered from the profile's file (:mod:`dcm_otel.profiling.storage`); the trace page links here
from each span that carries ``dcm.profile.id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse

from dcm_otel import handover
from dcm_otel.dashboard.views import render_page
from dcm_otel.profiling.storage import ProfileStore

MIN_SHARE = 0.005  # calls with less of the time are summed into one row under their caller


@dataclass(frozen=True)
class Row:
    """One call in the tree, in the order it is drawn (depth-first, most samples first)."""

    depth: int
    function: str
    file: str
    line: int
    samples: int
    ms: float
    share: float  # of the profiled time, in percent
    own: float  # of it with this call at the top of the stack, in percent


def rows(root: dict[str, Any]) -> list[Row]:
    total = root["seconds"] or 1.0
    drawn: list[Row] = []
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        children = node["children"]
        own = node["seconds"] - sum(child["seconds"] for child in children)
        drawn.append(
            Row(depth, node["function"], node["file"], node["line"], node["samples"], 1000 * node["seconds"],
                100 * node["seconds"] / total, 100 * max(own, 0.0) / total)
        )  # fmt: skip
        shown = [child for child in children if child["seconds"] >= MIN_SHARE * total]
        hidden = [child for child in children if child["seconds"] < MIN_SHARE * total]
        if hidden:
            shown.append({
                "function": "(smaller calls)", "file": "", "line": 0, "children": [],
                "samples": sum(child["samples"] for child in hidden),
                "seconds": sum(child["seconds"] for child in hidden),
            })  # fmt: skip
        stack.extend((child, depth + 1) for child in reversed(shown))
    return drawn


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


@staff_member_required
def profile_detail(request: HttpRequest, profile_id: str) -> HttpResponse:
    config = handover.config()
    profile = ProfileStore(config.profile_dir, config.profile_max_count, config.profile_max_bytes).read(
        profile_id
    )
    if profile is None:
        raise Http404(f"profile {profile_id} is not kept (any more, or on this machine)")
    context = {
        "title": f"Profile of {profile['name']}",
        "profile": profile,
        "rows": rows(profile["root"]),
        "started": _time(profile["span_start_ns"]),
        "after_ms": (profile["profiled_from_ns"] - profile["span_start_ns"]) / 1e6,
        "sampled_ms": (profile["ended_ns"] - profile["profiled_from_ns"]) / 1e6,
    }
    return render_page(request, "profile.html", context)
