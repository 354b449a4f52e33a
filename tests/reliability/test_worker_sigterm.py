"""(Issue 12.4) SIGTERM to one gunicorn worker in the middle of a load: what it buffered (spans not yet
exported, metrics never exported: the interval is longer than the test) is flushed as it exits, so the
receiver holds exactly one span per request it served and a request count equal to what it served."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from tests.otlp_receiver import OtlpReceiver
from tests.project_factory import write_project
from tests.reliability._support import report
from tests.reliability.conftest import otlp_env
from tests.test_gunicorn import ONE_LINE, get, gunicorn, receiver

__all__ = ["receiver"]  # the fixture

REQUESTS, SIGTERM_AFTER = 600, 300
CLIENTS = 6
ARRIVAL_TIMEOUT = 30.0


def spans_of(receiver: OtlpReceiver, pid: int) -> int:
    return sum(
        1
        for s in receiver.spans()
        if s.kind == ProtoSpan.SPAN_KIND_SERVER and s.name == "GET /pid/" and s.resource["process.pid"] == pid
    )


def counted_by(receiver: OtlpReceiver, pid: int) -> int:
    """The last cumulative /pid/ request count the process exported (0 if none)."""
    counts = [
        point.count
        for resource, attributes, point in receiver.metric_points("http.server.request.duration")
        if resource["process.pid"] == pid and attributes.get("http.route") == "/pid/"
    ]
    return max(counts, default=0)


def test_a_terminated_worker_flushes_what_it_buffered(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    # Spans leave in batches of 64 as they fill, the rest at exit; metrics leave only at exit.
    env = otlp_env(receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="600000", OTEL_METRIC_EXPORT_INTERVAL="600000")
    served: Counter[int] = Counter()
    lock = threading.Lock()
    terminated: list[int] = []

    with gunicorn(project, "-w", "2", **env) as (_, base):

        def one(_: int) -> None:
            pid = int(get(base + "/pid/"))
            with lock:
                served[pid] += 1
                if not terminated and sum(served.values()) >= SIGTERM_AFTER:
                    terminated.append(pid)
                    os.kill(pid, signal.SIGTERM)  # a worker of the gunicorn this test started

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            list(pool.map(one, range(REQUESTS)))
        [victim] = terminated
        flushed = receiver.wait_for(lambda: counted_by(receiver, victim) == served[victim], ARRIVAL_TIMEOUT)
        receiver.wait_for(lambda: spans_of(receiver, victim) == served[victim], ARRIVAL_TIMEOUT)
    report(
        "SIGTERM to one gunicorn worker mid-load",
        requests=sum(served.values()),
        served_by_terminated=served[victim],
        spans_received_from_it=spans_of(receiver, victim),
        requests_counted_from_it=counted_by(receiver, victim),
    )
    assert sum(served.values()) == REQUESTS
    assert served[victim] > 0
    assert flushed, (counted_by(receiver, victim), served[victim])
    assert spans_of(receiver, victim) == served[victim]
