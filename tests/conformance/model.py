"""Loads the vendored semantic-conventions model (v1.44.0): the attribute registry, attribute groups,
metrics, spans, events and entities, with ``extends``/``ref``/``ref_group`` resolved.

Both file formats of the release are read: the ``groups:`` files and the ``file_format: definition/2``
ones (``attributes:`` with ``key``, ``attribute_groups:`` with ``ref``/``ref_group``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent / "semconv-v1.44.0"
VERSION = (ROOT / "VERSION").read_text().strip().removeprefix("v")


@dataclass(frozen=True)
class Attribute:
    """A registry attribute: ``members`` is the enum's values (None if not an enum)."""

    key: str
    type: str
    stability: str
    members: frozenset[str] | None = None
    deprecated: str | None = None


@dataclass(frozen=True)
class Requirement:
    """An attribute's requirement level in one convention: ``level`` is required, conditionally_required,
    recommended or opt_in; ``condition`` the model's text for the conditional levels."""

    level: str
    condition: str = ""


@dataclass
class Convention:
    """A metric, span, event or entity group: its attributes with their requirement levels."""

    id: str
    type: str
    stability: str
    attributes: dict[str, Requirement] = field(default_factory=dict)
    metric_name: str = ""
    instrument: str = ""
    unit: str = ""
    span_kind: str = ""
    name: str = ""
    deprecated: str | None = None
    entity_associations: tuple[str, ...] = ()


@dataclass
class Model:
    """Registry attributes by key; metric, span, event, entity and attribute groups by id."""

    attributes: dict[str, Attribute]
    groups: dict[str, Convention]

    def metric(self, name: str) -> Convention | None:
        """The metric group of ``name``, if the model defines one."""
        return next((g for g in self.groups.values() if g.type == "metric" and g.metric_name == name), None)

    def convention(self, id: str) -> Convention:
        """The group ``id`` (``span.http.server``, ``log-exception``, ...)."""
        return self.groups[id]

    def entity(self, name: str) -> Convention | None:
        """The entity group called ``name`` (``process``, ``container``, ...)."""
        return next((g for g in self.groups.values() if g.type == "entity" and g.name == name), None)


def _requirement(raw: Any) -> Requirement:
    if raw is None:
        return Requirement("recommended")
    if isinstance(raw, str):
        return Requirement(raw)
    level, condition = next(iter(raw.items()))
    return Requirement(level, str(condition).strip())


def _deprecated(raw: Any) -> str | None:
    if not raw:
        return None
    return str(raw.get("reason", "deprecated")) if isinstance(raw, dict) else str(raw)


def _attribute(raw: dict[str, Any]) -> Attribute:
    kind = raw["type"]
    members = None
    if isinstance(kind, dict):
        members = frozenset(str(m["value"]) for m in kind["members"])
        kind = "enum"
    return Attribute(
        raw.get("id") or raw["key"], str(kind), raw.get("stability", "development"), members,
        _deprecated(raw.get("deprecated")),
    )  # fmt: skip


def _files() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "model").rglob("*.yaml"))]


@cache
def load() -> Model:
    """The model, resolved once."""
    attributes: dict[str, Attribute] = {}
    raw_groups: dict[str, dict[str, Any]] = {}
    for document in _files():
        for raw in document.get("attributes", []) or []:  # definition/2 registry
            attributes[raw["key"]] = _attribute(raw)
        for raw in document.get("attribute_groups", []) or []:
            raw_groups[raw["id"]] = {"type": "attribute_group", **raw}
        for raw in document.get("groups", []) or []:
            raw_groups[raw["id"]] = raw
            for attr in raw.get("attributes", []) or []:
                if "id" in attr:
                    attributes[attr["id"]] = _attribute(attr)

    resolved: dict[str, dict[str, Requirement]] = {}

    def resolve(id: str) -> dict[str, Requirement]:
        if id not in resolved:
            raw = raw_groups[id]
            own: dict[str, Requirement] = {}
            if raw.get("extends") in raw_groups:
                own.update(resolve(raw["extends"]))
            for attr in raw.get("attributes", []) or []:
                if "ref_group" in attr:
                    own.update(resolve(attr["ref_group"]))
                else:
                    key = attr.get("ref") or attr["id"]
                    if "requirement_level" in attr or key not in own:  # a bare ref keeps the inherited level
                        own[key] = _requirement(attr.get("requirement_level"))
            resolved[id] = own
        return resolved[id]

    groups = {
        id: Convention(
            id,
            raw["type"],
            raw.get("stability", "development"),
            resolve(id),
            metric_name=raw.get("metric_name", ""),
            instrument=raw.get("instrument", ""),
            unit=raw.get("unit", ""),
            span_kind=raw.get("span_kind", ""),
            name=raw.get("name", ""),
            deprecated=_deprecated(raw.get("deprecated")),
            entity_associations=tuple(raw.get("entity_associations", ())),
        )
        for id, raw in raw_groups.items()
    }
    return Model(attributes, groups)
