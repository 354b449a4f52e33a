"""The processor's poll heartbeat, as files in the ``multiprocess_dir`` the web servers share with it.

A ``process_container_jobs`` process and the web process whose ``/ready/`` runs the ``queue`` check share
nothing in memory; when they share ``multiprocess_dir`` (as they must for the processor's figures to show on
the web ``/metrics``), each processor touches ``processor-<pid>.heartbeat`` there after a poll and the check
reads the newest. The file's mtime is the heartbeat: no content to parse, nothing to lock.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import time

SUFFIX = ".heartbeat"
#: A poll touches the file at most this often: polls can be much more frequent than a heartbeat needs.
MIN_INTERVAL_S = 1.0


class HeartbeatFile:
    """This process's heartbeat file; removed at exit, so a processor that stops cleanly is not "stalled"."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, f"processor-{os.getpid()}{SUFFIX}")
        self._last = float("-inf")

    def beat(self) -> None:
        """Mark a poll now; a directory that is gone or read-only costs the heartbeat, never the poll."""
        now = time.monotonic()
        if now - self._last < MIN_INTERVAL_S:
            return
        first = self._last == float("-inf")
        self._last = now
        try:
            with open(self.path, "a"):
                os.utime(self.path)
        except OSError:
            return
        if first:
            atexit.register(self.remove)

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def latest_poll(directory: str) -> float | None:
    """The Unix time of the newest poll of any processor sharing ``directory``, None when none has written."""
    times = []
    for path in glob.glob(os.path.join(glob.escape(directory), f"processor-*{SUFFIX}")):
        with contextlib.suppress(OSError):
            times.append(os.stat(path).st_mtime)
    return max(times, default=None)
