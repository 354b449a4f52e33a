"""The sampler on real threads and real SDK spans: work past the threshold (or past the query count) is
profiled from outside and linked from its span, work under it is not; the profile holds code locations
and never a local's value; the directory keeps the newest profiles within both bounds."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span

from dcm_otel.config import load_config
from dcm_otel.profiling import sampler
from dcm_otel.profiling.call_tree import CallTree
from dcm_otel.profiling.storage import ProfileStore


class Work:
    """What a watched call keeps in its local, as the request middleware's ``serving`` does."""

    def __init__(self, span: Span, queries: int) -> None:
        self.span, self.queries = span, queries


def watched_call(span: Span, seconds: float, queries: int = 0) -> None:
    work = Work(span, queries)  # the local the watch point reads
    password = "hunter2-never-in-a-profile"  # a local value no profile may hold
    busy_inner(seconds, password)
    del work


def busy_inner(seconds: float, secret: str) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        secret.upper()


sampler.watch(
    watched_call,
    sampler.WatchPoint(
        "request", "work", lambda work: getattr(work, "span", None), lambda work: work.queries
    ),
)


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    return tmp_path / "profiles"


def _sampler(profiles: Path, **settings: Any) -> sampler.Sampler:
    config = load_config({"profiling": True, "profile_dir": str(profiles), **settings}, {})
    return sampler.Sampler(config).start()


def _run(spans: InMemorySpanExporter, seconds: float, queries: int = 0) -> ReadableSpan:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    with provider.get_tracer("test").start_as_current_span("GET /work/") as span:
        watched_call(span, seconds, queries)
    return spans.get_finished_spans()[-1]


def _stored(profiles: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(profiles.glob("*.json"))]


def _functions(node: dict[str, Any]) -> Iterator[str]:
    yield node["function"]
    for child in node["children"]:
        yield from _functions(child)


def test_work_past_the_threshold_is_profiled_and_linked(spans: InMemorySpanExporter, profiles: Path) -> None:
    running = _sampler(profiles, profile_threshold=0.05, profile_interval=0.002)
    try:
        ended = _run(spans, 0.5)
    finally:
        running.stop()
    (profile,) = _stored(profiles)
    assert ended.attributes is not None
    assert ended.attributes["dcm.profile.id"] == profile["id"]
    assert ended.attributes["dcm.profile.trigger"] == "duration" == profile["trigger"]
    context = ended.get_span_context()
    assert (profile["trace_id"], profile["span_id"]) == (
        f"{context.trace_id:032x}",
        f"{context.span_id:016x}",
    )
    assert profile["root"]["function"] == "watched_call"  # rooted at the watched call
    assert "busy_inner" in set(_functions(profile["root"]))
    assert profile["samples"] >= 5
    assert profile["span_start_ns"] + 50_000_000 <= profile["profiled_from_ns"]  # only once past it
    text = (next(profiles.glob("*.json"))).read_text()
    assert "hunter2" not in text  # frames only: never a local's value
    assert set(profile["root"]) == {"function", "file", "line", "samples", "seconds", "children"}


def test_work_under_the_threshold_is_not(spans: InMemorySpanExporter, profiles: Path) -> None:
    running = _sampler(profiles, profile_threshold=5)
    try:
        ended = _run(spans, 0.3)
    finally:
        running.stop()
    assert "dcm.profile.id" not in (ended.attributes or {})
    assert _stored(profiles) == []


def test_work_with_many_queries_is_profiled_under_the_threshold(
    spans: InMemorySpanExporter, profiles: Path
) -> None:
    running = _sampler(profiles, profile_threshold=5, profile_db_queries=50)
    try:
        ended = _run(spans, 0.3, queries=80)
    finally:
        running.stop()
    (profile,) = _stored(profiles)
    assert (ended.attributes or {})["dcm.profile.trigger"] == "db_queries" == profile["trigger"]


def test_configure_starts_and_stops_the_process_sampler(profiles: Path) -> None:
    on = sampler.configure(load_config({"profiling": True, "profile_dir": str(profiles)}, {}))
    try:
        assert on is not None
        assert on._thread.is_alive()
    finally:
        off = sampler.configure(load_config({}, {}))
    assert off is None
    assert not on._thread.is_alive()


def _stack_of(tree: CallTree, root: FrameType, seconds: float) -> bool:
    """A sample of this call's own stack (root → here), standing for ``seconds``."""
    return tree.add(sys._getframe(), root, seconds)


def _frame_of_a_call() -> FrameType:
    return sys._getframe()


def test_a_sample_stands_for_the_time_since_the_one_before() -> None:
    root = sys._getframe()
    tree = CallTree(root)
    assert _stack_of(tree, root, 0.25)
    assert _stack_of(tree, root, 0.5)
    assert tree.add(root, root, 0.125)  # the root itself at the top: its own time
    (child,) = tree.root.children.values()
    assert (tree.root.samples, tree.root.seconds) == (3, 0.875)
    assert (child.location[0], child.samples, child.seconds) == ("_stack_of", 2, 0.75)
    returned = _frame_of_a_call()
    assert not tree.add(root, returned, 1.0)  # the work has returned: its frame is not on the stack


def _profile(number: int, padding: int = 0) -> dict[str, Any]:
    return {"id": f"{number:032x}", "padding": "x" * padding}


def test_the_directory_keeps_the_newest_within_the_count(profiles: Path) -> None:
    store = ProfileStore(str(profiles), max_count=3, max_bytes=10_000_000)
    for number in range(1, 6):
        store.write(_profile(number))
    assert [p["id"] for p in _stored(profiles)] == [f"{n:032x}" for n in (3, 4, 5)]
    assert store.read(f"{1:032x}") is None  # evicted: the page says so (404)
    assert store.read(f"{5:032x}") == _profile(5)


def test_the_directory_keeps_the_newest_within_the_bytes(profiles: Path) -> None:
    store = ProfileStore(str(profiles), max_count=100, max_bytes=25_000)
    for number in range(1, 6):
        store.write(_profile(number, padding=10_000))
    assert [p["id"] for p in _stored(profiles)] == [f"{n:032x}" for n in (4, 5)]
    assert sum(path.stat().st_size for path in profiles.glob("*.json")) <= 25_000


def test_ids_that_are_not_profile_ids_read_nothing(profiles: Path) -> None:
    store = ProfileStore(str(profiles), max_count=3, max_bytes=10_000_000)
    store.write(_profile(7))
    assert store.read("../" + f"{7:032x}") is None
    assert store.read("*") is None
    with pytest.raises(ValueError, match="not a profile id"):
        store.write({"id": "../escape"})
