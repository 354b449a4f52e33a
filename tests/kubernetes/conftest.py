"""Fixtures: Helm and the Prometheus Operator CRDs (session), built by scripts/build-kubernetes-tools.sh."""

from __future__ import annotations

import pytest

from tests.collector.binaries import BUILD_TIMEOUT

from .tools import Tools, build_tools


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first test to need Helm may build it (minutes when cold): the per-test timeout must allow it."""
    for item in items:
        if "tools" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(BUILD_TIMEOUT + 300))


@pytest.fixture(scope="session")
def tools() -> Tools:
    return build_tools()
