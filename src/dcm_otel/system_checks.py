"""Django system checks (``manage.py check``) for ``DCM_OTEL`` and the OTEL_* variables we read.

They run the same validation as startup, so what ``check`` accepts, ``init()`` accepts.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core import checks

from dcm_otel.config import ConfigError, Problem, load_config

# Stable ids: E001 a DCM_OTEL key, E002 an environment variable, E003 DCM_OTEL is not a dict.
_UNKNOWN_OR_BAD_SETTING = "dcm_otel.E001"
_BAD_ENV = "dcm_otel.E002"
_NOT_A_DICT = "dcm_otel.E003"


def _check_id(problem: Problem) -> str:
    if problem.key == "DCM_OTEL":
        return _NOT_A_DICT
    return _UNKNOWN_OR_BAD_SETTING if problem.key.startswith("DCM_OTEL[") else _BAD_ENV


def check_configuration(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        load_config(getattr(settings, "DCM_OTEL", {}), os.environ)
    except ConfigError as exc:
        return [checks.Error(str(p), id=_check_id(p), obj="dcm_otel") for p in exc.problems]
    return []


def register() -> None:
    checks.register(check_configuration, "dcm_otel")
