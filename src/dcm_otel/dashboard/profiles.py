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

MIN_SHARE = 0.005  # calls with fewer of the samples are summed into one row under their caller


@dataclass(frozen=True)
class Row:
    """One call in the tree, in the order it is drawn (depth-first, most samples first)."""

    depth: int
    function: str
    file: str
    line: int
    samples: int
    share: float  # of all samples, in percent
    own: float  # samples with this call at the top of the stack, in percent


def rows(root: dict[str, Any]) -> list[Row]:
    total = max(root["samples"], 1)
    drawn: list[Row] = []
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        children = node["children"]
        own = node["samples"] - sum(child["samples"] for child in children)
        drawn.append(
            Row(depth, node["function"], node["file"], node["line"], node["samples"],
                100 * node["samples"] / total, 100 * own / total)
        )  # fmt: skip
        shown = [child for child in children if child["samples"] >= MIN_SHARE * total]
        hidden = sum(child["samples"] for child in children if child not in shown)
        if hidden:
            shown.append(
                {"function": "(smaller calls)", "file": "", "line": 0, "samples": hidden, "children": []}
            )
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
