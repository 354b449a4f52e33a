"""What the instrumentation costs per call (``nox -s bench``): ``containers.list`` and
``containers.inspect`` timed bare, with dcm_otel's wrappers on no-op providers, instrumented by dcm_otel,
and instrumented by ``opentelemetry-instrumentation-requests`` instead (what a user would reach for: the
Docker SDK speaks HTTP through requests), against the same Engine in the same run.

Both instrumentations feed the same real SDK pipeline (always-on sampling, batch span processor, metric
reader); only the exporter discards. Three figures per call: the wall time (median), the calling thread's
CPU time (median of ``time.thread_time``), and the process's CPU time over the whole block (mean): the
last counts what dcm_otel's background thread does with the call (it makes the span and the point after
the call) and what it has left at the end of the block (drained by the tracer provider's force_flush,
inside the measurement), and the batch processor's thread. The sides alternate in blocks, one operation
at a time, so that drift in the Engine's speed hits all alike.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from time import perf_counter, process_time, thread_time
from typing import Any

import docker
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import NoOpTracerProvider

from dcm_otel.instrumentation.docker import DockerInstrumentor

_BLOCKS = 10
_WARMUP_CALLS = 20


class _DiscardingSpanExporter(SpanExporter):
    """Keeps nothing: retained spans would slow the garbage collector and skew later samples."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


@dataclass
class _Samples:
    wall: list[float] = field(default_factory=list)
    thread_cpu: list[float] = field(default_factory=list)
    process_cpu: float = 0.0
    calls: int = 0


@dataclass(frozen=True)
class _Side:
    """How a side instruments the Docker SDK: ``instrumentor`` with ``providers``, or nothing at all."""

    instrumentor: Callable[[], Any] | None = None
    providers: Mapping[str, Any] = field(default_factory=dict)


def _time_block(
    side: _Side, call: Callable[[], Any], count: int, flush: Callable[[], object], into: _Samples
) -> None:
    """``count`` calls under ``side``; the process CPU time runs from the first call to the end of
    ``flush`` (the tracer provider's force_flush, which drains dcm_otel's deferred calls too), so the work an
    instrumentation leaves for later is counted, and instrumenting and uninstrumenting are not."""
    instrumentor = side.instrumentor() if side.instrumentor is not None else None
    if instrumentor is not None:
        instrumentor.instrument(skip_dep_check=True, **side.providers)
    try:
        cpu = process_time()
        for _ in range(count):
            started, thread = perf_counter(), thread_time()
            call()
            into.thread_cpu.append(thread_time() - thread)
            into.wall.append(perf_counter() - started)
        flush()
        into.process_cpu += process_time() - cpu
        into.calls += count
    finally:
        if instrumentor is not None:
            instrumentor.uninstrument()


def bench_overhead(client: docker.DockerClient, n: int) -> dict[str, dict[str, float]]:
    """Per operation and side (``bare``, ``noop``: dcm_otel's wrappers on no-op providers,
    ``instrumented``: dcm_otel, ``requests``: the requests instrumentation): ``<side>_s`` the median wall
    time per call, ``<side>_thread_cpu_s`` the calling thread's median CPU time per call and
    ``<side>_process_cpu_s`` the process's CPU time per call; ``ratio`` = instrumented / bare wall time
    (the old target was < 1.02) and ``noop_ratio`` = noop / bare.

    ``n`` calls per operation and side. The Engine needs one local image, to create (not start) the
    container that is inspected; the container is removed afterwards.
    """
    if DockerInstrumentor().is_instrumented_by_opentelemetry:
        raise RuntimeError("bench_overhead needs the Docker SDK uninstrumented; call uninstrument() first")
    images = client.api.images(quiet=True)
    if not images:
        raise RuntimeError("bench_overhead needs one local image on the Engine to create a container from")
    container_id = client.api.create_container(images[0], command=["true"])["Id"]
    operations: dict[str, Callable[[], Any]] = {
        "containers.list": lambda: client.api.containers(all=True),
        "containers.inspect": lambda: client.api.inspect_container(container_id),
    }
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(_DiscardingSpanExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    sdk = {"tracer_provider": tracer_provider, "meter_provider": meter_provider}
    sides = {
        "bare": _Side(),
        "noop": _Side(
            DockerInstrumentor,
            {"tracer_provider": NoOpTracerProvider(), "meter_provider": NoOpMeterProvider()},
        ),
        "instrumented": _Side(DockerInstrumentor, sdk),
        "requests": _Side(RequestsInstrumentor, sdk),
    }
    samples = {side: {name: _Samples() for name in operations} for side in sides}
    block = max(1, n // _BLOCKS)
    try:
        for side in sides.values():
            for call in operations.values():
                _time_block(side, call, _WARMUP_CALLS, tracer_provider.force_flush, _Samples())
        for done in range(0, n, block):
            for name, call in operations.items():
                for side_name, side in sides.items():
                    _time_block(
                        side,
                        call,
                        min(block, n - done),
                        tracer_provider.force_flush,
                        samples[side_name][name],
                    )
    finally:
        client.api.remove_container(container_id, force=True)
        tracer_provider.shutdown()
        meter_provider.shutdown()
    report: dict[str, dict[str, float]] = {}
    for name in operations:
        row: dict[str, float] = {}
        for side in sides:
            taken = samples[side][name]
            row[f"{side}_s"] = statistics.median(taken.wall)
            row[f"{side}_thread_cpu_s"] = statistics.median(taken.thread_cpu)
            row[f"{side}_process_cpu_s"] = taken.process_cpu / taken.calls
        row["ratio"] = row["instrumented_s"] / row["bare_s"]
        row["noop_ratio"] = row["noop_s"] / row["bare_s"]
        report[name] = row
    return report
