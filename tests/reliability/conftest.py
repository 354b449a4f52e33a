"""Fixtures for the reliability tests: the backend in each of its three states."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.otlp_receiver import start_receiver
from tests.reliability._support import black_hole, refused_endpoint


@pytest.fixture(params=["live", "refused", "black-holed"])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(state, OTLP endpoint) of a receiver that answers, a port that refuses, a server that never answers."""
    if request.param == "live":
        receiver = start_receiver()
        yield request.param, receiver.endpoint
        receiver.close()
    elif request.param == "refused":
        yield request.param, refused_endpoint()
    else:
        with black_hole() as endpoint:
            yield request.param, endpoint


def otlp_env(endpoint: str, **extra: str) -> dict[str, str]:
    """Every signal over OTLP/HTTP, exported often, so a bad backend is hit while requests are served."""
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        **extra,
    }
