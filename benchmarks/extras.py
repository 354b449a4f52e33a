"""The benchmarks beside the request tables, so that one ``nox -s bench`` reports everything: the Docker
SDK instrumentation's cost per call (issue 4), the queue gauges' collection time (issue 5,
:mod:`benchmarks.queue`) and the cost of a log record through the JSON formatter and the OTLP bridge."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import docker.errors

from benchmarks import queue
from benchmarks.docker_calls import bench_overhead
from benchmarks.json_logs import measure
from dcm_otel_devtools import private_docker
from dcm_otel_devtools.private_postgres import PostgresUnavailable


class Unavailable(Exception):
    """Why the Docker section cannot run here."""


@contextmanager
def _engine() -> Iterator[tuple[docker.DockerClient, str]]:
    """The Engine of ``DOCKER_HOST`` (or the default socket) if one answers, else a private dockerd started
    for the section and stopped after it, so that it idles through none of the other measurements."""
    base_url = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if private_docker.ping(base_url):
        client = docker.DockerClient(base_url=base_url, version="auto")
        try:
            yield client, f"the running Engine at {base_url}"
        finally:
            client.close()
        return
    if shutil.which("dockerd") is None:
        raise Unavailable(f"no Engine answers at {base_url} and dockerd is not installed")
    if os.geteuid() != 0:
        raise Unavailable(f"no Engine answers at {base_url} and a private dockerd needs root")
    busybox = private_docker.static_busybox()
    if busybox is None:
        raise Unavailable(f"no Engine answers at {base_url} and no static busybox to make an image from")
    with tempfile.TemporaryDirectory(prefix="dcm_otel_bench-dockerd-") as tmp:
        try:
            daemon = private_docker.PrivateDockerd.create(Path(tmp) / "dockerd.log")
            with daemon:
                client = docker.DockerClient(base_url=daemon.base_url, version="auto")
                try:
                    private_docker.import_busybox_image(client, busybox)
                    yield client, f"a private dockerd (unix socket, vfs, pid {daemon.pid})"
                finally:
                    client.close()
        except private_docker.DockerdError as error:
            raise Unavailable(f"the private dockerd did not start: {error}") from error


#: (label, key suffix) of the figures bench_overhead returns per side; the CPU ones carry the bar.
_DOCKER_FIGURES = {
    "wall, median": "_s",
    "calling thread CPU, median": "_thread_cpu_s",
    "process CPU, mean": "_process_cpu_s",
}


def docker_section(calls: int) -> str:
    """The per-call table, or the reason the section was skipped."""
    try:
        with _engine() as (client, where):
            figures = bench_overhead(client, calls)
    except (Unavailable, docker.errors.DockerException) as error:
        return f"Docker SDK instrumentation: skipped ({error})"
    lines = [
        f"Docker SDK instrumentation (issues 4, 17): {where}, {calls} calls per operation and side;"
        " µs per call, added = side - bare",
        "",
        "| operation | figure | bare | dcm_otel | added | requests instr. | added | dcm_otel, no-op |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ratios = []
    for name, row in figures.items():
        for figure, suffix in _DOCKER_FIGURES.items():
            bare, ours, theirs, noop = (
                row[side + suffix] * 1e6 for side in ("bare", "instrumented", "requests", "noop")
            )
            lines.append(
                f"| {name} | {figure} | {bare:.0f} | {ours:.0f} | {ours - bare:+.0f} | {theirs:.0f}"
                f" | {theirs - bare:+.0f} | {noop:.0f} |"
            )
            if "CPU" in figure:
                ratios.append((f"{name}, {figure}", (ours - bare) / (theirs - bare)))
    worst = max(ratio for _, ratio in ratios)
    verdict = "met" if worst <= 1.0 else "NOT met"
    lines += [
        "",
        *(f"docker: {label}: dcm_otel added / requests added = {ratio:.2f}" for label, ratio in ratios),
        f"docker: worst CPU ratio = {worst:.2f} (bar <= 1.00: {verdict})",
    ]
    return "\n".join(lines)


def queue_section(jobs: int) -> str:
    """Median and worst collection time of the queue gauges on a private PostgreSQL, or why it was skipped."""
    try:
        figures = queue.run(jobs)
    except PostgresUnavailable as error:
        return f"Queue gauges: skipped ({error})"
    verdict = "met" if figures["median_ms"] < figures["budget_ms"] else "NOT met"
    return (
        f"Queue gauges (issue 5): {figures['jobs']} jobs (seeded in {figures['seed_seconds']} s), one"
        f" collection: median {figures['median_ms']} ms, max {figures['max_ms']} ms over"
        f" {figures['collections']} (budget < {figures['budget_ms']:g} ms: {verdict})"
    )


def logs_section(records: int) -> str:
    figures = measure(records=records)
    return "\n".join(
        [
            f"Log records (best of 5 x {records}, inside a span):",
            "",
            "| step | us/record |",
            "|---|---|",
            f"| plain logging.Formatter line | {figures['plain_us']:.2f} |",
            f"| JSON line, masked | {figures['json_us']:.2f} |",
            f"| OTLP bridge | {figures['otlp_bridge_us']:.2f} |",
            "",
            f"JSON / plain = {figures['json_ratio']:.2f}, (JSON + OTLP) / plain ="
            f" {figures['json_and_otlp_ratio']:.2f}",
        ]
    )
