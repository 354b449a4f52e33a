"""Fixtures: the built collector and Jaeger binaries (session), and fresh Prometheus / Jaeger servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .backends import Jaeger, Prometheus, running
from .binaries import BUILD_TIMEOUT, build

BUILDS = {"collector_binary", "jaeger_binary"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first test to need a binary may build it (minutes when cold): the per-test timeout must allow it.
    Every wait in these tests is bounded by its own timeout anyway."""
    for item in items:
        if BUILDS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.timeout(BUILD_TIMEOUT + 300))


@pytest.fixture(scope="session")
def collector_binary() -> Path:
    return build("collector")


@pytest.fixture(scope="session")
def jaeger_binary() -> Path:
    return build("jaeger")


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path)
    with running(server):
        yield server


@pytest.fixture
def jaeger(jaeger_binary: Path, tmp_path: Path) -> Iterator[Jaeger]:
    server = Jaeger(jaeger_binary, tmp_path)
    with running(server):
        yield server
