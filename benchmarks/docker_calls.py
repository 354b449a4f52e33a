"""What the instrumentation costs per call (``nox -s bench``): ``containers.list`` and
``containers.inspect`` timed bare and instrumented, against the same Engine in the same run.

Instrumented calls go to a real SDK pipeline as in production (always-on sampling, batch span
processor, metric reader); only the exporter discards, so export work is not counted. The spans and
points are made by the instrumentation's background thread while the block runs; the rest is drained
when the block uninstruments, outside the timed calls. A third side runs the wrappers with no-op
providers, which separates this library's own cost from the SDK's. The sides alternate in blocks so
that drift in the Engine's speed hits all alike; each reports its median.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any

import docker
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


def _per_call_times(call: Callable[[], Any], count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = perf_counter()
        call()
        times.append(perf_counter() - started)
    return times


def _time_side(
    providers: Mapping[str, Any] | None, operations: Mapping[str, Callable[[], Any]], count: int
) -> dict[str, list[float]]:
    instrumentor = DockerInstrumentor()
    if providers is not None:
        instrumentor.instrument(skip_dep_check=True, **providers)
    try:
        return {name: _per_call_times(call, count) for name, call in operations.items()}
    finally:
        if providers is not None:
            instrumentor.uninstrument()


def bench_overhead(client: docker.DockerClient, n: int) -> dict[str, dict[str, float]]:
    """Per operation: median seconds per call ``bare_s``, ``noop_s`` (wrappers, no-op providers) and
    ``instrumented_s`` (SDK), with ``ratio`` = instrumented / bare (the target is < 1.02) and
    ``noop_ratio`` = noop / bare.

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
    sides: dict[str, Mapping[str, Any] | None] = {
        "bare": None,
        "noop": {"tracer_provider": NoOpTracerProvider(), "meter_provider": NoOpMeterProvider()},
        "instrumented": {"tracer_provider": tracer_provider, "meter_provider": meter_provider},
    }
    samples: dict[str, dict[str, list[float]]] = {side: {name: [] for name in operations} for side in sides}
    block = max(1, n // _BLOCKS)
    try:
        for providers in sides.values():
            _time_side(providers, operations, _WARMUP_CALLS)
        for done in range(0, n, block):
            for side, providers in sides.items():
                for name, times in _time_side(providers, operations, min(block, n - done)).items():
                    samples[side][name] += times
    finally:
        client.api.remove_container(container_id, force=True)
        tracer_provider.shutdown()
        meter_provider.shutdown()
    report = {}
    for name in operations:
        bare, noop, instrumented = (statistics.median(samples[side][name]) for side in sides)
        report[name] = {
            "bare_s": bare,
            "noop_s": noop,
            "instrumented_s": instrumented,
            "ratio": instrumented / bare,
            "noop_ratio": noop / bare,
        }
    return report
