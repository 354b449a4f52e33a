"""Which server process this is: gunicorn's master or one of its workers, told from command lines."""

from __future__ import annotations

import os
import sys

import psutil


def running_under_gunicorn() -> bool:
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    return (
        "gunicorn" in program
        or is_gunicorn_command(list(sys.orig_argv))  # python -m gunicorn
        or "gunicorn.arbiter" in sys.modules
    )


def gunicorn_master() -> psutil.Process:
    """The master is our parent when we are a worker, ourselves when we are the master (``--preload``, or
    a hook in the gunicorn config file)."""
    me = psutil.Process()
    if os.environ.get("GUNICORN_PID") == str(os.getppid()):
        return me  # a master re-executed by USR2: its parent is the old master
    try:
        parent = me.parent()
        if parent is not None and _is_gunicorn(parent):
            return parent
    except psutil.Error:
        pass
    return me


def _is_gunicorn(process: psutil.Process) -> bool:
    try:
        return is_gunicorn_command(process.cmdline())
    except psutil.Error:
        return False


def is_gunicorn_command(command: list[str]) -> bool:
    """Whether a command line runs gunicorn: the ``gunicorn`` script (directly or through python), ``python
    -m gunicorn``, or a proctitle ``gunicorn: master [app]``. Only the program counts, not its arguments:
    ``pytest tests/test_gunicorn.py`` is not a gunicorn master."""
    if not command:
        return False
    if "gunicorn" in os.path.basename(command[0]):
        return True
    arguments = command[1:]
    if "-m" in arguments:
        module = arguments[arguments.index("-m") + 1 :][:1]
        return bool(module) and module[0].split(".")[0] == "gunicorn"
    script = next((argument for argument in arguments if not argument.startswith("-")), "")
    return os.path.basename(script) == "gunicorn"
