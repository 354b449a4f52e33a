"""The session's demo + Prometheus stack for the Grafana dashboard tests (see demo_stack.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dashboards.demo_stack import DemoStack, demo_stack
from tests.services import DockerEngine


@pytest.fixture(scope="session")
def stack(docker_engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    yield from demo_stack(docker_engine, tmp_path_factory.mktemp("dashboards"))
