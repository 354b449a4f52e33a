"""The cost rules (deploy/prometheus/rules/dcm-otel-cost.yml) on a real Prometheus scraping the demo, whose
processor runs real jobs on a real Docker Engine: the cost per job Prometheus recorded for each image and
host equals the one worked out here from the raw series it read (the container CPU and memory samples and
the job counts of the hour before that evaluation) and the prices in the file."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest
import requests
import yaml

from tests.dashboards.demo_stack import COST_RULES, DemoStack
from tests.services._common import wait_until

pytestmark = pytest.mark.services
COST = "dcm_host_image:job_cost:avg1h"
GROUP = ("job", "dcm_host_name", "container_image_name")
Key = tuple[str, ...]


def query(url: str, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    params = {"query": expr, **({"time": repr(at)} if at is not None else {})}
    body = requests.get(f"{url}/api/v1/query", params=params, timeout=30).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def prices() -> dict[str, float]:
    rules = yaml.safe_load(COST_RULES.read_text())["groups"][0]["rules"]
    return {
        r["record"]: float(re.fullmatch(r"vector\((.+)\)", r["expr"])[1])  # type: ignore[index]
        for r in rules
        if r["record"].startswith("dcm:price:")
    }


def raw(url: str, metric: str, at: float) -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
    """The samples of ``metric`` in the hour ending at ``at``, as the rule read them; times in integer
    milliseconds, as Prometheus keeps them (differences of float seconds near 1.8e9 lose digits)."""
    return [
        (s["metric"], [(round(float(t) * 1000), float(v)) for t, v in s["values"]])
        for s in query(url, f"{metric}[1h]", at)
    ]


def increase(samples: list[tuple[int, float]], at_ms: int) -> float | None:
    """Prometheus 2.x ``increase`` over [at - 1h, at]: counter resets added back, extrapolated to the
    range ends when a sample is close to them (within 1.1 average intervals; towards the start, no further
    than where the counter would be 0), else by half an interval; None under two samples."""
    if len(samples) < 2:
        return None
    (first_t, first), (last_t, last) = samples[0], samples[-1]
    result, previous = last - first, 0.0
    for _, value in samples:
        if value < previous:
            result += previous
        previous = value
    sampled = (last_t - first_t) / 1000
    average = sampled / (len(samples) - 1)
    to_start, to_end = (first_t - (at_ms - 3_600_000)) / 1000, (at_ms - last_t) / 1000
    if result > 0 and first >= 0:
        to_start = min(to_start, sampled * (first / result))
    interval = sampled
    for gap in (to_start, to_end):
        interval += gap if gap < average * 1.1 else average / 2
    return result * (interval / sampled)


def expected_costs(url: str, at: float) -> dict[Key, float]:
    """Cost per job per (job, host, image) from the raw series: mean of each series' samples, the same
    series from several processes counted once (max), CPU modes added up, priced, over the jobs."""
    cpu_modes: dict[Key, float] = defaultdict(float)
    for labels, samples in raw(url, "container_cpu_usage", at):
        key = (*(labels[g] for g in GROUP), labels["cpu_mode"])
        cpu_modes[key] = max(cpu_modes[key], sum(v for _, v in samples) / len(samples))
    cpu: dict[Key, float] = defaultdict(float)
    for key, cores in cpu_modes.items():
        cpu[key[:-1]] += cores
    memory: dict[Key, float] = defaultdict(float)
    for labels, samples in raw(url, "container_memory_usage_bytes", at):
        key = tuple(labels[g] for g in GROUP)
        memory[key] = max(memory[key], sum(v for _, v in samples) / len(samples) / 2**30)
    runs: dict[Key, float] = {}
    for labels, samples in raw(url, "dcm_job_duration_seconds_count", at):
        counted = increase(samples, round(at * 1000))
        if counted is not None:
            key = tuple(labels.get(g, "") for g in GROUP)
            runs[key] = runs.get(key, 0.0) + counted
    price = prices()
    return {
        key: (cpu[key] * price["dcm:price:cpu_hour"] + memory[key] * price["dcm:price:memory_gib_hour"]) / n
        for key, n in runs.items()
        if n > 0 and key in cpu and key in memory
    }


def latest_evaluation(url: str) -> float:
    return float(query(url, f"max(timestamp({COST}))")[0]["value"][1])


def recorded_costs(url: str, at: float) -> dict[Key, float]:
    return {tuple(s["metric"][g] for g in GROUP): float(s["value"][1]) for s in query(url, COST, at)}


def test_cost_per_job_equals_the_one_from_the_raw_series(stack: DemoStack) -> None:
    url = stack.prometheus_url
    # Needs a job that ran after its image's container figures appeared (a few rounds of the demo's jobs).
    assert wait_until(lambda: bool(query(url, f"{COST} > 0")), 240, 2), "no cost per job was recorded"
    seen: list[tuple[dict[Key, float], dict[Key, float]]] = []
    # A scrape still in flight when the rules ran is in the raw series read afterwards but not in that
    # evaluation: compare at one of a few successive evaluations (a wrong rule differs at every one).
    for _ in range(5):
        at = latest_evaluation(url)
        recorded, expected = recorded_costs(url, at), expected_costs(url, at)
        seen.append((recorded, expected))
        if recorded.keys() == expected.keys() and all(
            recorded[k] == pytest.approx(expected[k], rel=1e-9) for k in recorded
        ):
            break
        wait_until(lambda previous=at: latest_evaluation(url) > previous, 10, 0.2)
    else:
        pytest.fail(f"recorded vs. computed at five evaluations: {seen}")
    assert recorded, seen
    assert all(value > 0 for value in recorded.values())
