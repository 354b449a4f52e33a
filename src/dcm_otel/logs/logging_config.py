"""``structured_logging()``: the ``LOGGING`` dict that makes every record one JSON line, with secrets masked,
and shipped as OTLP when a logs exporter is configured. Adopting it is one line in settings.py::

    LOGGING = dcm_otel.logs.structured_logging(LOGGING)
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

from . import commands, security

#: Loggers whose records go to the root's handlers only (their own handlers, Django's included, are
#: dropped so that nothing is written twice or in another format).
COVERED_LOGGERS = ("django", "django.server", "container_manager", "dcm_otel", "py.warnings")
FILTERS = ("dcm_otel_refused_requests", "dcm_otel_redact")  # in this order: events first, then masking
LONG_RUNNING_COMMANDS = ("runserver", "process_container_jobs")


def structured_logging(
    base: Mapping[str, Any] | None = None,
    *,
    level: str = "INFO",
    command_output: Collection[str] = LONG_RUNNING_COMMANDS,
) -> dict[str, Any]:
    """``base`` (your ``LOGGING``) merged with JSON logging; also connects the security event receivers
    and routes the output of the ``command_output`` management commands into log records.

    Every handler of ``base`` gets the redaction filter, and the JSON formatter if it has none. The root
    logger writes JSON lines to stderr (unless ``base`` gave it handlers) and feeds the OTLP bridge.
    """
    security.connect()
    commands.route_output(command_output)
    config: dict[str, Any] = copy.deepcopy(dict(base or {}))
    config.setdefault("version", 1)
    config.setdefault("disable_existing_loggers", False)
    config.setdefault("filters", {}).update({
        "dcm_otel_refused_requests": {"()": "dcm_otel.logs.security.RefusedRequestFilter"},
        "dcm_otel_redact": {"()": "dcm_otel.logs.redaction.RedactingFilter"},
        "dcm_otel_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    })  # fmt: skip
    config.setdefault("formatters", {})["dcm_otel_json"] = {"()": "dcm_otel.logs.formatter.JsonFormatter"}
    handlers = config.setdefault("handlers", {})
    for handler in handlers.values():
        handler["filters"] = [*FILTERS, *(f for f in handler.get("filters", ()) if f not in FILTERS)]
        handler.setdefault("formatter", "dcm_otel_json")
    handlers.update({
        "dcm_otel_json": {"class": "logging.StreamHandler", "formatter": "dcm_otel_json", "filters": FILTERS},
        "dcm_otel_otlp": {"()": "dcm_otel.logs.bridge.installed_handler"},
        # Django's own, kept: error mails to ADMINS when DEBUG is off.
        "dcm_otel_mail_admins": {
            "class": "django.utils.log.AdminEmailHandler", "level": "ERROR",
            "filters": [*FILTERS, "dcm_otel_debug_false"],
        },
    })  # fmt: skip
    root = config.setdefault("root", {})
    root.setdefault("level", level)
    root["handlers"] = [*(root.get("handlers") or ["dcm_otel_json"]), "dcm_otel_otlp"]
    loggers = config.setdefault("loggers", {})
    for name in COVERED_LOGGERS:
        loggers[name] = {
            "level": loggers.get(name, {}).get("level", level),
            "handlers": [],
            "propagate": True,
        }
    loggers["django"]["handlers"] = ["dcm_otel_mail_admins"]
    return config
