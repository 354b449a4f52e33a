"""The constraints files of ``nox -s compat`` stay the two ends of what pyproject.toml allows.

constraints/oldest.txt pins each ranged dependency at its floor, constraints/newest.txt within every range,
and the classifiers name the Pythons and Djangos the ends run; so moving a floor, or the newest end, without
the other fails here rather than testing a combination users cannot install (docs/compatibility.md).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
#: The matrix axes: what pyproject.toml gives a range and the oldest end pins at its floor.
AXES = (
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp",
    "opentelemetry-instrumentation",
    "opentelemetry-semantic-conventions",
    "opentelemetry-exporter-prometheus",
    "opentelemetry-instrumentation-django",
    "opentelemetry-instrumentation-dbapi",
    "django",
)


def requirements() -> dict[str, Requirement]:
    found: dict[str, Requirement] = {}
    for line in [*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["test"]]:
        requirement = Requirement(line)
        found[canonicalize_name(requirement.name)] = requirement
    return found


def pins(end: str) -> dict[str, Version]:
    found: dict[str, Version] = {}
    for line in (ROOT / "constraints" / f"{end}.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            found[canonicalize_name(name)] = Version(version)
    return found


def floor(requirement: Requirement) -> Version:
    (lowest,) = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    return lowest


@pytest.mark.parametrize("end", ["oldest", "newest"])
def test_every_pin_is_allowed_by_pyproject(end: str) -> None:
    ranged = requirements()
    pinned = pins(end)
    assert set(AXES) <= set(pinned)
    outside = {
        name: str(version)
        for name, version in pinned.items()
        if name in ranged and not ranged[name].specifier.contains(version, prereleases=True)
    }
    assert outside == {}


def test_the_oldest_end_is_the_floor_of_every_range() -> None:
    ranged, oldest = requirements(), pins("oldest")
    for name in AXES:
        lowest = floor(ranged[name])
        assert oldest[name] >= lowest
        assert (oldest[name].release[:2], oldest[name].pre) == (lowest.release[:2], lowest.pre), name


def test_the_classifiers_name_the_tested_pythons_and_djangos() -> None:
    classifiers = set(PROJECT["classifiers"])
    djangos = [pins(end)["django"] for end in ("oldest", "newest")]
    assert {f"Framework :: Django :: {d.major}.{d.minor}" for d in djangos} <= classifiers
    pythons = {
        c.rsplit(" ", 1)[1] for c in classifiers if c.startswith("Programming Language :: Python :: 3.")
    }
    assert pythons == {"3.11", "3.12", "3.13"}
    assert PROJECT["requires-python"] == ">=3.11"
