"""What every ``DCM_OTEL`` parser shares: the :class:`Problem` a rejected value becomes, the
:class:`ConfigError` that carries them all, and the parsers used by both :mod:`dcm_otel.config` and
:mod:`dcm_otel.health.settings`.

Its own module so that both import it and neither imports the other back (the health settings are parsed
as one key of the config). Free of Django and the SDK: settings.py loads it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

# Keys whose values are secrets (a scrape token, an API key in the OTLP headers): an error never shows them.
SECRET_KEY_WORDS = ("token", "headers")

Choice = TypeVar("Choice", bound=str)
#: A user's hook; each key that takes one documents its arguments (docs/extending.md).
Hook = Callable[..., object]


@dataclass(frozen=True)
class Problem:
    """A rejected setting: where it came from, what it was and what would have been accepted."""

    key: str
    value: object
    allowed: str

    def __str__(self) -> str:
        shown = "'***'" if any(word in self.key.lower() for word in SECRET_KEY_WORDS) else repr(self.value)
        return f"{self.key}={shown} is invalid: expected {self.allowed}"


class ConfigError(ValueError):
    """Raised by :func:`dcm_otel.config.load_config` with every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def url_path(raw: object) -> str:
    if not isinstance(raw, str) or not raw.startswith("/") or any(c.isspace() for c in raw):
        raise ValueError("a URL path starting with '/'")
    return raw


def choice(allowed: tuple[Choice, ...]) -> Callable[[object], Choice]:
    """A parser accepting one of ``allowed`` (``typing.get_args`` of the setting's ``Literal``), any case."""

    def parse(raw: object) -> Choice:
        value = raw.strip().lower() if isinstance(raw, str) else raw
        for name in allowed:
            if value == name:
                return name
        raise ValueError("one of " + ", ".join(allowed))

    return parse


def hook(raw: object) -> Hook | None:
    """A user's hook: a callable, or the dotted path of one (what ``settings.py`` and an environment
    variable can hold), imported now so that a typo fails at startup rather than on the first request."""
    if raw is None or callable(raw):
        return raw
    allowed = "a callable or the dotted path of one, e.g. 'myproject.telemetry.request_hook'"
    parts = raw.strip().split(".") if isinstance(raw, str) else []
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):  # no relative or empty names
        raise ValueError(allowed)
    module_name, attribute = ".".join(parts[:-1]), parts[-1]
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except Exception as error:  # not found, or the module itself raised as it was imported
        raise ValueError(f"{allowed} ({type(error).__name__}: {error})") from None
    if not callable(found):
        raise ValueError(allowed)
    return found  # type: ignore[no-any-return]
