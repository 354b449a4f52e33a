"""The console output of long-running management commands (``runserver``, ``process_container_jobs``) as
log records, so that everything such a process writes is one JSON stream.

Only the commands named are affected, and only when no explicit ``stdout``/``stderr`` was passed to them:
a command whose output is data (``dumpdata``) keeps writing it as it is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection
from typing import Any

import wrapt

# ECMA-48 escape sequences: CSI (colours, cursor moves), OSC (titles, hyperlinks) and the two-byte ones.
_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


class LogStream:
    """A text stream that turns every line written to it into one record of ``logger``, as plain text: a
    command styles its output when the process's stdout is a terminal (``self.style``), and those escape
    codes would be noise in a log message."""

    def __init__(self, logger: logging.Logger, level: int) -> None:
        self._logger = logger
        self._level = level
        self._pending = ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        self._emit(self._pending)
        self._pending = ""

    def _emit(self, line: str) -> None:
        """Whole lines only: an escape sequence split across two writes is stripped once joined."""
        plain = _ESCAPE_SEQUENCE.sub("", line).rstrip()
        if plain.strip():
            self._logger.log(self._level, plain)

    def isatty(self) -> bool:
        return False


def route_output(commands: Collection[str]) -> None:
    """Make the named commands' ``self.stdout`` (INFO) and ``self.stderr`` (WARNING) log records on the
    logger named after the command's module."""
    names = frozenset(commands)
    if names:
        wrapt.register_post_import_hook(lambda module: _wrap(module, names), "django.core.management.base")


def _wrap(module: Any, names: frozenset[str]) -> None:
    def execute(wrapped: Callable[..., Any], command: Any, args: Any, kwargs: Any) -> Any:
        module_name = type(command).__module__
        if module_name.rsplit(".", 1)[-1] in names and not kwargs.get("stdout") and not kwargs.get("stderr"):
            logger = logging.getLogger(module_name)
            command.stdout = module.OutputWrapper(LogStream(logger, logging.INFO))
            command.stderr = module.OutputWrapper(LogStream(logger, logging.WARNING))
        return wrapped(*args, **kwargs)

    if not getattr(module.BaseCommand.execute, "_dcm_otel_routed", False):
        wrapt.wrap_function_wrapper(module, "BaseCommand.execute", execute)
        module.BaseCommand.execute._dcm_otel_routed = True
