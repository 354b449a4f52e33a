"""docs/metrics.md states the semconv version the model has, and each metric's stability as the model
says it (``ours`` for the ``dcm.`` namespace), for exactly the metrics of its main table."""

from __future__ import annotations

import re

from tests.conformance.model import VERSION, load
from tests.test_metrics_contract import DOC, documented

_STABILITY = re.compile(r"^\| `([a-z0-9_.]+)` \| ([a-z_ ]+) \|$", re.M)


def claims() -> dict[str, str]:
    section = DOC.read_text().split("## Semantic conventions version and stability", 1)[1]
    return dict(_STABILITY.findall(section))


def test_the_version_is_the_models() -> None:
    assert f"semantic conventions **v{VERSION}**" in DOC.read_text()
    assert VERSION == "1.44.0"


def test_stability_claims_match_the_model() -> None:
    model = load()
    stated = claims()
    assert stated.keys() == documented().keys(), "the stability table lists the main table's metrics"
    for name, claim in stated.items():
        convention = model.metric(name)
        if name.startswith("dcm."):
            expected = "ours"
        else:
            expected = convention.stability if convention else "not in the model"
        assert claim == expected, name
