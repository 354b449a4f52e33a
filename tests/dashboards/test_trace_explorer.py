"""The trace explorer in a real headless Chromium, on the README's demo with a real Docker Engine: a job
queued from the jobs page leads, through its page's link, to one waterfall with the web request that queued
it, the processor's run and the run's Docker calls, in order, with durations that fit inside each other,
and no console error."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.dashboards.cdp import chromium
from tests.dashboards.test_live_dashboard import login
from tests.services import DockerEngine
from tests.test_demo import running_demo, wait_up

SCREENSHOTS = os.environ.get("DCM_OTEL_SCREENSHOTS")
TRACE_TIMEOUT = 60.0
SLACK_NS = 5_000_000  # a child may start a little before its parent: the run starts at the job's started_at
HARVEST_NS = 10_000_000_000
LAUNCH = {"docker containers.create", "docker containers.start"}

RUN = '.dcm-span[data-name="dcm.job.run"]'
SPANS = """
Array.from(document.querySelectorAll('.dcm-span')).map(e => ({
  name: e.dataset.name, depth: Number(e.dataset.depth), process: e.dataset.process,
  start: Number(e.dataset.startNs), end: Number(e.dataset.endNs),
  width: e.querySelector('.dcm-span-bar').getBoundingClientRect().width,
}))
"""


@pytest.mark.services
def test_a_queued_jobs_trace_in_the_browser(tmp_path: Path, docker_engine: DockerEngine) -> None:
    env = {"DOCKER_HOST": docker_engine.base_url}
    with running_demo(tmp_path, "--no-private-docker", env=env) as demo, chromium() as page:
        wait_up(demo)
        login(page, demo.base_url, "admin", "admin", "/")
        page.evaluate(
            "document.querySelector('input[name=name]').value = 'traced';"
            "document.querySelector('input[name=command]').value = 'sleep 1';"
            "document.querySelector('form[action=\"/jobs/new/\"]').submit()"
        )
        page.wait_for("document.getElementById('job-trace') !== null && document.readyState === 'complete'")
        page.evaluate("document.getElementById('job-trace').click()")
        page.wait_for(
            "location.pathname.startsWith('/admin/dcm-otel/traces/') && !location.pathname.includes('/job/')"
            f" && document.querySelectorAll('{RUN}').length === 1"
            " && document.readyState === 'complete'",
            TRACE_TIMEOUT,
        )
        spans: list[dict[str, Any]] = page.evaluate(SPANS)
        names = [s["name"] for s in spans]
        request = spans[names.index("POST /jobs/new/")]
        run = spans[names.index("dcm.job.run")]
        docker = [s for s in spans if s["name"].startswith("docker ")]
        assert request is spans[0], names  # the request that queued the job comes first
        assert run["depth"] == request["depth"] + 1, spans  # the run, under it through its link
        assert run["process"] != request["process"]  # the job processor's, not the web server's
        assert {s["name"] for s in docker} >= LAUNCH, names
        for call in docker:
            assert names.index(call["name"]) > names.index("dcm.job.run")
            assert call["depth"] > run["depth"]
            assert call["process"] == run["process"]
            assert run["start"] - SLACK_NS <= call["start"] <= call["end"], call
            # The harvest's calls (logs, remove) come after the run's end, its completed_at; soon after.
            assert call["end"] <= run["end"] + HARVEST_NS, call
            if call["name"] in LAUNCH:
                assert call["end"] <= run["end"], call
        starts = [s["start"] for s in docker]
        assert starts == sorted(starts)  # siblings in the order they happened
        # Plausible durations: the request takes well under a second, the run (sleep 1) at least a second
        # and less than the minute the test waits; the bars are drawn in proportion.
        assert 0 < request["end"] - request["start"] < 2e9
        assert 1e9 <= run["end"] - run["start"] < 60e9
        assert run["width"] > request["width"]
        page.evaluate(f"document.querySelector('{RUN} .dcm-span-name').click()")
        page.wait_for(f"!document.querySelector('{RUN} + .dcm-span-details').hidden")
        assert page.errors == []
        if SCREENSHOTS:
            page.screenshot(Path(SCREENSHOTS) / "trace-explorer.png")
