"""Django system checks (``manage.py check``) for ``DCM_OTEL`` and the OTEL_* variables we read.

They run the same validation as startup, so what ``check`` accepts, ``init()`` accepts.
"""

from __future__ import annotations

import os
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from dcm_otel.config import ConfigError, Problem, load_config
from dcm_otel.health.settings import BUILTIN_CHECKS

# Stable ids: E001 a DCM_OTEL key, E002 an environment variable, E003 DCM_OTEL is not a dict, E004 a
# health check's dotted path does not import, E005 the trace explorer is asked for without its tables' app.
_UNKNOWN_OR_BAD_SETTING = "dcm_otel.E001"
_BAD_ENV = "dcm_otel.E002"
_NOT_A_DICT = "dcm_otel.E003"
_CHECK_NOT_IMPORTABLE = "dcm_otel.E004"
_EXPLORER_WITHOUT_APP = "dcm_otel.E005"


def _check_id(problem: Problem) -> str:
    if problem.key == "DCM_OTEL":
        return _NOT_A_DICT
    return _UNKNOWN_OR_BAD_SETTING if problem.key.startswith("DCM_OTEL[") else _BAD_ENV


def check_configuration(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        config = load_config(getattr(settings, "DCM_OTEL", {}), os.environ)
    except ConfigError as exc:
        return [checks.Error(str(p), id=_check_id(p), obj="dcm_otel") for p in exc.problems]
    found: list[checks.CheckMessage] = [
        checks.Error(
            f"DCM_OTEL['health']['checks'] names {path!r}, which does not import ({error}): expected a "
            f"built-in check ({', '.join(BUILTIN_CHECKS)}) or the dotted path of a check function",
            id=_CHECK_NOT_IMPORTABLE,
            obj="dcm_otel",
        )
        for path, error in _unimportable(config.health.checks)
    ]
    if config.trace_explorer and not apps.is_installed("dcm_otel"):
        found.append(
            checks.Error(
                "DCM_OTEL['trace_explorer'] is True, but 'dcm_otel' is not in INSTALLED_APPS: the explorer "
                "keeps traces in that app's tables (add it and run migrate, or set the key to False)",
                id=_EXPLORER_WITHOUT_APP,
                obj="dcm_otel",
            )
        )
    return found


def _unimportable(names: tuple[str, ...]) -> list[tuple[str, str]]:
    """The dotted paths among ``names`` that do not import, with why (run once the apps are loaded)."""
    found = []
    for name in names:
        if name in BUILTIN_CHECKS:
            continue
        try:
            import_string(name)
        except ImportError as error:
            found.append((name, str(error)))
    return found


def register() -> None:
    checks.register(check_configuration, "dcm_otel")
