"""The preview's query preparation and value formatting, as Grafana does them (no services needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcm_otel_devtools.grafana_preview.prometheus import TimeRange, interpolate, variables
from dcm_otel_devtools.grafana_preview.svg import nice_ticks
from dcm_otel_devtools.grafana_preview.units import format_value

OVERVIEW = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "overview.json"


def test_variables_take_all_and_overrides() -> None:
    board = json.loads(OVERVIEW.read_text())
    assert variables(board)["job"] == ".+"  # "All" is the variable's allValue
    assert variables(board, {"job": "web"})["job"] == "web"
    values = {"job": "web", "__rate_interval": "60s"}
    assert interpolate('rate(x{job=~"$job"}[$__rate_interval]) ${job} $unknown', values) == (
        'rate(x{job=~"web"}[60s]) web $unknown'
    )


@pytest.mark.parametrize(
    ("seconds", "scrape", "step", "rate_interval"),
    [(3600, 15.0, 15, "60s"), (86400, 15.0, 360, "375s"), (600, 1.0, 3, "4s")],
)
def test_step_and_rate_interval(seconds: float, scrape: float, step: float, rate_interval: str) -> None:
    time_range = TimeRange(1000.0, 1000.0 + seconds, scrape)
    assert time_range.step == step
    assert time_range.builtins()["__rate_interval"] == rate_interval


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.0123, "s", "12.3 ms"),
        (300, "s", "5 min"),
        (0.256, "percentunit", "25.6%"),
        (25276518400, "bytes", "23.5 GiB"),
        (1234, "short", "1.23 K"),
        (0.5, "ops", "0.5 ops/s"),
        (None, "short", "-"),
    ],
)
def test_values_are_written_like_grafana(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_ticks_are_round() -> None:
    assert nice_ticks(0, 0.067) == [0, 0.02, 0.04, 0.06, 0.08]
    assert nice_ticks(0, 25e9, binary=True) == [0, 10 * 2**30, 20 * 2**30, 30 * 2**30]
