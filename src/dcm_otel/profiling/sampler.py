"""The sampler: a daemon thread that finds work running past its threshold and samples its thread's stack
until the work returns.

The work does nothing for it. The request middleware and the processor's poll register the code of their
own call (:func:`watch`); every ``look`` period (``profile_threshold`` / 2, at most 50 ms) the sampler
reads every thread's stack (``sys._current_frames``), finds such a call on it and reads the call's span
from the frame's locals: a span started ``profile_threshold`` ago or more, or a request that has run
``profile_db_queries`` queries, is profiled from then on. The span gets ``dcm.profile.id`` and
``dcm.profile.trigger`` at once (so the attribute is exported and kept even if the process dies before
the profile is written), its thread's stack is sampled every ``profile_interval`` into a
:class:`~.call_tree.CallTree`, and when the call has left the stack the profile is written to the
:class:`~.storage.ProfileStore` by this thread. So a request under the threshold pays nothing at all: no
registration, no check, not even a clock read beyond the one its span takes.

Sync requests only: an async request's coroutine is on no thread's stack while it awaits.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

from opentelemetry.trace import Span

from dcm_otel.config import Config

from .call_tree import CallTree
from .storage import ProfileStore

logger = logging.getLogger("dcm_otel.profiling")

PROFILE_ID = "dcm.profile.id"
PROFILE_TRIGGER = "dcm.profile.trigger"  # duration, db_queries
MAX_ACTIVE = 16  # profiles sampled at once: when everything is slow, sampling them all would add to it
MAX_LOOK = 0.05


@dataclass(frozen=True)
class WatchPoint:
    """A call whose work may be profiled: ``local`` is the name of the frame's local the span is read from
    (by ``span_of``; None while not set or not traced), ``queries_of`` counts the work's queries so far."""

    kind: str  # request, job_cycle
    local: str
    span_of: Callable[[Any], Span | None]
    queries_of: Callable[[Any], int] | None = None


_WATCHED: dict[CodeType, WatchPoint] = {}


def watch(function: Callable[..., Any], point: WatchPoint) -> None:
    """Make the work of ``function``'s calls profiled past the threshold (called once, at import)."""
    _WATCHED[function.__code__] = point


@dataclass
class _Profile:
    id: str
    point: WatchPoint
    span: Any  # an SDK span: its start_time, end_time and name are read
    frame: FrameType  # the watched call's frame: sampling stops once it has left the thread's stack
    trigger: str
    tree: CallTree
    profiled_from_ns: int
    sampled_at: float  # perf_counter of the last sample


class Sampler:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.threshold_ns = int(config.profile_threshold * 1e9)
        self.interval = config.profile_interval
        self.look = max(self.interval, min(config.profile_threshold / 2, MAX_LOOK))
        self.store = ProfileStore(config.profile_dir, config.profile_max_count, config.profile_max_bytes)
        self.failed = 0  # profiles that could not be written: the first is logged
        self._active: dict[int, _Profile] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dcm_otel-profiler", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops the thread and writes what it was sampling (at exit: the last request's profile)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1)
        if not self._thread.is_alive():
            active, self._active = self._active, {}
            for profile in active.values():
                self._write(profile)

    def cpu_seconds(self) -> float:
        """CPU seconds the sampler's thread has used (while it runs; POSIX): what the benchmark reads."""
        assert self._thread.ident is not None
        return time.clock_gettime(time.pthread_getcpuclockid(self._thread.ident))

    def _run(self) -> None:
        next_look = 0.0
        while not self._stop.wait(self.interval if self._active else self.look):
            now = time.monotonic()
            looking = now >= next_look
            if looking:
                next_look = now + self.look
            try:
                self.tick(looking)
            except Exception:  # never seen; a broken sampler must not spin, nor reach anyone else
                logger.exception("dcm_otel: the profiler failed; it stops in this process")
                return

    def tick(self, looking: bool = True) -> None:
        """One sample of every profiled thread, then (``looking``) a look for work past its threshold."""
        frames = sys._current_frames()
        now = time.perf_counter()
        for ident, profile in list(self._active.items()):
            leaf = frames.get(ident)
            ended = getattr(profile.span, "end_time", None) is not None
            since, profile.sampled_at = now - profile.sampled_at, now
            if ended or leaf is None or not profile.tree.add(leaf, profile.frame, since):
                del self._active[ident]
                self._write(profile)
        if looking:
            own = threading.get_ident()
            for ident, leaf in frames.items():
                if ident != own and ident not in self._active:
                    self._consider(ident, leaf)

    def _consider(self, ident: int, leaf: FrameType) -> None:
        frame: FrameType | None = leaf
        while frame is not None and frame.f_code not in _WATCHED:
            frame = frame.f_back
        if frame is None:
            return
        point = _WATCHED[frame.f_code]
        subject = frame.f_locals.get(point.local)  # read only, never kept: our own object
        span = point.span_of(subject)
        started = getattr(span, "start_time", None)
        if span is None or started is None or not span.is_recording():
            return
        if point.queries_of is not None and point.queries_of(subject) >= self.config.profile_db_queries:
            trigger = "db_queries"  # said first: a request with many queries is usually slow too
        elif time.time_ns() - started >= self.threshold_ns:
            trigger = "duration"
        else:
            return
        if len(self._active) >= MAX_ACTIVE:
            return
        profile = _Profile(
            uuid.uuid4().hex,
            point,
            span,
            frame,
            trigger,
            CallTree(frame),
            time.time_ns(),
            time.perf_counter(),
        )
        span.set_attributes({PROFILE_ID: profile.id, PROFILE_TRIGGER: trigger})
        self._active[ident] = profile

    def _write(self, profile: _Profile) -> None:
        context = profile.span.get_span_context()
        tree = profile.tree
        document = {
            "id": profile.id,
            "kind": profile.point.kind,
            "name": profile.span.name,
            "trace_id": f"{context.trace_id:032x}",
            "span_id": f"{context.span_id:016x}",
            "trigger": profile.trigger,
            "threshold": self.config.profile_threshold,
            "interval": self.interval,
            "span_start_ns": profile.span.start_time,
            "profiled_from_ns": profile.profiled_from_ns,
            "ended_ns": getattr(profile.span, "end_time", None) or time.time_ns(),
            "samples": tree.root.samples,
            "seconds": round(tree.root.seconds, 6),
            "truncated": tree.truncated,
            "root": tree.root.as_dict(),
        }
        try:
            self.store.write(document)
        except (OSError, ValueError):
            self.failed += 1
            if self.failed == 1:
                logger.exception(
                    "dcm_otel: a profile could not be written to %s (logged once)", self.store.directory
                )


_lock = threading.Lock()
_sampler: Sampler | None = None
_hooked = False


def configure(config: Config) -> Sampler | None:
    """The sampler of this process for ``config``: started when ``profiling`` is on, else stopped. Called
    by the runtime each time it (re-)instruments; a forked child starts its own."""
    global _sampler, _hooked
    with _lock:
        if _sampler is not None:
            _sampler.stop()
            _sampler = None
        if config.profiling:
            _sampler = Sampler(config).start()
        if not _hooked:
            os.register_at_fork(after_in_child=_restart_after_fork)
            atexit.register(_stop_at_exit)
            _hooked = True
        return _sampler


def _stop_at_exit() -> None:
    if _sampler is not None:
        _sampler.stop()


def _restart_after_fork() -> None:
    """Threads do not survive a fork (gunicorn ``--preload``): the child starts a sampler of its own."""
    global _sampler, _lock
    _lock = threading.Lock()
    if _sampler is not None:
        _sampler = Sampler(_sampler.config).start()
