"""Run by ``nox -s build`` in a fresh virtualenv holding the dcm_otel wheel next to the contrib Django,
requests and psycopg instrumentations and django-prometheus, as pip resolved them together.

Loads every OpenTelemetry entry point (dcm_otel's distro, configurator and instrumentors, and contrib's
instrumentors), imports the contrib instrumentor classes and django_prometheus, and checks that the
OpenTelemetry packages are one lock-step release: the SDK's own version for the 1.x packages, and the
semantic-conventions release the SDK requires for the 0.x ones. Exits non-zero with the reason otherwise.
"""

from __future__ import annotations

import importlib
from importlib.metadata import distribution, distributions, entry_points

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

GROUPS = ("opentelemetry_distro", "opentelemetry_configurator", "opentelemetry_instrumentor")
CONTRIB_INSTRUMENTORS = {
    "django": "opentelemetry.instrumentation.django:DjangoInstrumentor",
    "requests": "opentelemetry.instrumentation.requests:RequestsInstrumentor",
    "psycopg": "opentelemetry.instrumentation.psycopg:PsycopgInstrumentor",
}


def load_entry_points() -> dict[str, set[str]]:
    """``distribution: {group:name}`` of every OpenTelemetry entry point, each loaded."""
    loaded: dict[str, set[str]] = {}
    for group in GROUPS:
        for entry_point in entry_points(group=group):
            entry_point.load()
            owner = canonicalize_name(entry_point.dist.name) if entry_point.dist else "?"
            loaded.setdefault(owner, set()).add(f"{group}:{entry_point.name}")
    return loaded


def otel_versions() -> dict[str, str]:
    return {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in distributions()
        if canonicalize_name(d.metadata["Name"]).startswith("opentelemetry-")
    }


def contrib_release() -> str:
    """The semantic-conventions release the installed SDK pins, which its contrib packages share."""
    for line in distribution("opentelemetry-sdk").requires or []:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) == "opentelemetry-semantic-conventions":
            (pin,) = requirement.specifier
            return pin.version
    raise SystemExit("opentelemetry-sdk names no opentelemetry-semantic-conventions release")


def main() -> None:
    loaded = load_entry_points()
    ours = loaded.get("dcm-otel", set())
    if {entry.split(":")[0] for entry in ours} != set(GROUPS):
        raise SystemExit(f"dcm_otel's entry points in {GROUPS} are incomplete: {sorted(ours)}")
    contrib = {entry.split(":")[1] for name, found in loaded.items() if name != "dcm-otel" for entry in found}
    if missing := set(CONTRIB_INSTRUMENTORS) - contrib:
        raise SystemExit(f"no contrib instrumentor entry point for {sorted(missing)}")
    for target in CONTRIB_INSTRUMENTORS.values():
        module, _, name = target.partition(":")
        getattr(importlib.import_module(module), name)
    importlib.import_module("django_prometheus")

    versions = otel_versions()
    sdk, release = versions["opentelemetry-sdk"], contrib_release()
    astray = {
        name: found
        for name, found in versions.items()
        if found != (release if found.startswith("0.") else sdk)
    }
    if astray:
        raise SystemExit(f"not one release (SDK {sdk}, contrib {release}): {astray}")
    print(
        f"dcm_otel next to contrib {release} on SDK {sdk}: {len(versions)} OpenTelemetry packages, "
        f"{sum(map(len, loaded.values()))} entry points loaded; django_prometheus imported"
    )


if __name__ == "__main__":
    main()
