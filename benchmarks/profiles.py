"""``python -m benchmarks.profiles``: what the profiler (docs/profiles.md) costs, configuration D in process.

Three figures, medians over rounds, the profiler off and on taking turns in each round:

- **under the threshold**: the trivial view's wall and process CPU time per request (the sampler's own
  thread counted, its looks every 50 ms included), profiling off and on with the default threshold of 1 s,
  so that no request is profiled: what every request pays;
- **past the threshold**: a view of fixed CPU work (~0.2 s of CPU), profiling off and on with a threshold of
  20 ms and the default interval of 5 ms, so that each request is sampled from 20 ms on: the slowdown of the
  profiled work, and the samples each profile got;
- **a look**: the sampler's time for one look over the stacks of 8 other threads 40 frames deep (what it
  does every 50 ms while nothing is sampled).

The sampler is switched on and off in the same process (``sampler.configure``), the middleware unchanged.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from time import perf_counter, process_time, thread_time
from typing import Any

import django

from benchmarks import configs
from benchmarks.inprocess import Requester, per_request_us
from benchmarks.paths import BUSY, TRIVIAL

PAST_THRESHOLD = 0.02
WORK_SECONDS = 0.2
THREADS, DEPTH = 8, 40


def _config(directory: str, **settings: Any) -> Any:
    from dcm_otel.config import load_config

    return load_config({"profile_dir": directory, **settings}, {})


def _busy_path(requester: Requester) -> str:
    """The busy view's path with the loop size that takes about ``WORK_SECONDS`` of CPU here, unprofiled
    (CPU time: on a busy machine the wall time would measure the other processes too)."""
    start = thread_time()
    requester.get(f"{BUSY}?n=1000000")
    steps = int(1_000_000 * WORK_SECONDS / (thread_time() - start))
    return f"{BUSY}?n={steps}"


def _slow_ms(requester: Requester, path: str, requests: int) -> dict[str, float]:
    cpu, start = process_time(), perf_counter()
    for _ in range(requests):
        assert requester.get(path) == 200
    return {
        "wall_ms": (perf_counter() - start) / requests * 1e3,
        "cpu_ms": (process_time() - cpu) / requests * 1e3,
    }


def _deep(depth: int, done: threading.Event) -> None:
    if depth:
        _deep(depth - 1, done)
    else:
        done.wait(60)


def look_us(looks: int = 500) -> float:
    """One look of a sampler that is not started, over ``THREADS`` idle threads ``DEPTH`` frames deep."""
    from dcm_otel.profiling.sampler import Sampler

    with tempfile.TemporaryDirectory(prefix="dcm-profiles-") as directory:
        sampler = Sampler(_config(directory, profiling=True))
        done = threading.Event()
        threads = [threading.Thread(target=_deep, args=(DEPTH, done)) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        time.sleep(0.1)
        start = perf_counter()
        for _ in range(looks):
            sampler.tick(looking=True)
        elapsed = perf_counter() - start
        done.set()
        for thread in threads:
            thread.join()
    return elapsed / looks * 1e6


def _medians(rounds: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {
        state: {m: round(statistics.median(v), 1) for m, v in figures.items()}
        for state, figures in rounds.items()
    }


def run(rounds: int, requests: int, slow_requests: int) -> dict[str, Any]:
    from dcm_otel.profiling import sampler

    configs.apply("D")
    django.setup()
    requester = Requester()
    below: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}
    above: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}
    samples: list[int] = []
    with tempfile.TemporaryDirectory(prefix="dcm-profiles-") as directory:
        busy = _busy_path(requester)
        for index in range(rounds):
            sampling_cpu = 0.0
            for state in ("off", "on") if index % 2 == 0 else ("on", "off"):
                running = sampler.configure(_config(directory, profiling=state == "on"))
                sampler_cpu = running.cpu_seconds() if running else 0.0
                for metric, value in per_request_us(requester, TRIVIAL, requests).items():
                    below[state].setdefault(metric, []).append(value)
                if running:
                    sampler_cpu = running.cpu_seconds() - sampler_cpu
                    below[state].setdefault("sampler_us", []).append(sampler_cpu / requests * 1e6)
                running = sampler.configure(
                    _config(directory, profiling=state == "on", profile_threshold=PAST_THRESHOLD)
                )
                sampler_cpu = running.cpu_seconds() if running else 0.0
                for metric, value in _slow_ms(requester, busy, slow_requests).items():
                    above[state].setdefault(metric, []).append(value)
                if running:
                    sampling_cpu = running.cpu_seconds() - sampler_cpu
            sampler.configure(_config(directory))  # off: the last profile written
            taken = [json.loads(path.read_text())["samples"] for path in Path(directory).glob("*.json")]
            above["on"].setdefault("sampler_us", []).append(sampling_cpu / max(sum(taken), 1) * 1e6)
            samples += taken
            for path in Path(directory).glob("*.json"):
                path.unlink()
    return {
        "below": _medians(below),
        "above": _medians(above),
        "profiles": len(samples),
        "samples_per_profile": round(statistics.median(samples), 1) if samples else 0,
        "look_us": round(look_us(), 1),
        "rounds": rounds,
        "requests": requests,
        "slow_requests": slow_requests,
    }


def _off_on(figures: dict[str, dict[str, float]], metric: str, unit: str) -> str:
    return f"{figures['off'][metric]} {unit} off, {figures['on'][metric]} {unit} on"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000, help="trivial requests per state per round")
    parser.add_argument("--slow-requests", type=int, default=10, help="busy requests per state per round")
    args = parser.parse_args()
    f = run(args.rounds, args.requests, args.slow_requests)
    below, above = f["below"], f["above"]
    print(f"profiler, configuration D in process, {f['rounds']} rounds (medians):")
    print(
        f"  under the threshold (trivial view, {f['requests']} requests):"
        f" wall {_off_on(below, 'wall_us', 'us')}; process CPU {_off_on(below, 'cpu_us', 'us')}"
    )
    print(
        f"  past the threshold ({WORK_SECONDS} s of work, sampled from {PAST_THRESHOLD} s on):"
        f" wall {_off_on(above, 'wall_ms', 'ms')}; process CPU {_off_on(above, 'cpu_ms', 'ms')};"
        f" {f['profiles']} profiles, {f['samples_per_profile']} samples each"
    )
    print(
        f"  the sampler's thread: {below['on']['sampler_us']} us CPU per request under the threshold,"
        f" {above['on']['sampler_us']} us CPU per sample past it"
    )
    print(f"  a look over {THREADS} threads {DEPTH} frames deep: {f['look_us']} us")


if __name__ == "__main__":
    main()
