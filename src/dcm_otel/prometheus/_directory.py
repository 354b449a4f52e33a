"""Where the workers of one gunicorn server meet: a private directory named after their master process."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile

import psutil

from dcm_otel.process import gunicorn_master, running_under_gunicorn
from dcm_otel.prometheus._log import logger
from dcm_otel.prometheus._store import LOCK, SnapshotDir

_SERVER_DIR = re.compile(r"^dcm_otel-(\d+)-(\d+)$")


def default_multiprocess_dir() -> str | None:
    """The directory to share when running under gunicorn, None otherwise (one process: nothing to share).

    Named after the master's pid and start time, so every worker of one server finds the same directory and
    a restarted server (same pid again, as in a container) gets a new one. Created with mode 0o700; a
    directory of that name that is not ours (another user, a symlink, open permissions) is refused.
    """
    if not running_under_gunicorn():
        return None
    master = gunicorn_master()
    try:
        started = round(master.create_time())
    except psutil.Error:
        return None
    _remove_dirs_of_stopped_servers(tempfile.gettempdir())
    path = os.path.join(tempfile.gettempdir(), f"dcm_otel-{master.pid}-{started}")
    return path if _ensure_private_dir(path) else None


def prepare_multiprocess_dir(path: str | None) -> None:
    """Empty (or create) the directory: call it from gunicorn's ``on_starting`` hook so a server starts
    from zero even when it finds the files of an earlier run."""
    if path is None:
        return
    if _ensure_private_dir(path):
        SnapshotDir(path).clear()


def remove_multiprocess_dir(path: str | None) -> None:
    """Delete the directory and its files: for gunicorn's ``on_exit`` hook, so /tmp does not collect them."""
    if path is None:
        return
    SnapshotDir(path).clear(live_too=True)
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(path, LOCK))
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _remove_dirs_of_stopped_servers(parent: str) -> None:
    """A server stopped without the ``on_exit`` hook leaves its directory behind; the next one removes it.
    Only directories of this user whose master (pid and start time) no longer runs, and only our files."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        match = _SERVER_DIR.match(name)
        if (
            match
            and not _is_running(int(match[1]), int(match[2]))
            and _is_private_dir(os.path.join(parent, name))
        ):
            remove_multiprocess_dir(os.path.join(parent, name))


def _is_running(pid: int, started: int) -> bool:
    try:
        return round(psutil.Process(pid).create_time()) == started
    except psutil.Error:
        return False


def _ensure_private_dir(path: str) -> bool:
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        logger.warning("dcm_otel: cannot create the metrics directory %s: %s", path, exc)
        return False
    if _is_private_dir(path):
        return True
    logger.warning(
        "dcm_otel: not using %s for metrics: it must be a directory of this user with mode 0o700", path
    )
    return False


def _is_private_dir(path: str) -> bool:
    """A real directory (not a symlink), of this user, that nobody else may read or write."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    owned = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return stat.S_ISDIR(info.st_mode) and owned and not info.st_mode & 0o077
