"""Instrumentors in the opentelemetry-python-contrib pattern, one package per library, and their registry.

Configuration reaches them as arguments, as contrib's ``instrument(tracer_provider=..., meter_provider=...)``
does: :func:`dcm_otel.init` calls ``instrument(config=..., tracer_provider=..., meter_provider=...)`` on
each one its config switches on. An instrumentor instrumented without ``config=`` (by hand, or by
``opentelemetry-instrument`` when another configurator set up the providers) uses :func:`config_of`'s
defaults, ``Config()``. Settings read after the instrumentors ran (under ``opentelemetry-instrument``, once
Django's apps load) re-instrument them with the settings' config (``dcm_otel.runtime``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dcm_otel.config import Config


@dataclass(frozen=True)
class Registered:
    """One instrumentor: the ``Config`` switch that turns it on, its ``opentelemetry_instrumentor`` entry
    point (name and ``module:Class`` value, as in pyproject.toml), loaded only when used."""

    flag: str
    entry_point: str
    target: str

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    def load(self) -> Any:
        """The instrumentor class (BaseInstrumentor is untyped)."""
        return getattr(importlib.import_module(self.module), self.target.partition(":")[2])


#: Every instrumentor, in the order :func:`dcm_otel.init` instruments them; a test holds it equal to the
#: entry points of pyproject.toml.
INSTRUMENTORS = (
    Registered("instrument_django", "dcm_django", "dcm_otel.instrumentation.django:DjangoInstrumentor"),
    Registered("instrument_db", "dcm_django_db", "dcm_otel.instrumentation.db:DjangoDbInstrumentor"),
    Registered("instrument_docker", "dcm_docker", "dcm_otel.instrumentation.docker:DockerInstrumentor"),
    Registered("instrument_jobs", "dcm_jobs", "dcm_otel.instrumentation.jobs:JobsInstrumentor"),
    Registered(
        "instrument_resources",
        "dcm_resources",
        "dcm_otel.instrumentation.resource_usage:ResourcesInstrumentor",
    ),
)


def config_of(kwargs: Mapping[str, Any]) -> Config:
    """``instrument(config=...)``, else the defaults."""
    config = kwargs.get("config")
    return config if isinstance(config, Config) else Config()
