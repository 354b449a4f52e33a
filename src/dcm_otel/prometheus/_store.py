"""The shared directory of snapshot files, and how a scrape reads it.

- ``<pid>-<start>.json``: one process's cumulative figures, replaced atomically (temp file + ``os.replace``)
  at every write. ``<start>`` is the process start time in centiseconds, so a recycled pid gets a new file
  instead of overwriting a finished process's.
- ``<pid>-<start>.alive``: flocked by its process for as long as it runs. The kernel drops the lock when the
  process ends, however it ends, so "finished" means "this lock is free": no clock or pid guess, and a
  process judged finished can never write again. (Without flock, or without that file: psutil's pid and
  start time.)
- ``archive.json``: the monotonic figures (counters, histograms) of finished processes, plus the names of
  the files folded into it.
- ``.lock``: a fold (read the archive, add the finished files, write the archive, delete those files) holds
  it exclusively and a scrape reads every file and the archive holding it shared, so a scrape sees each
  finished process exactly once, in its own file or in the archive. A fold that dies before deleting the
  files leaves their names in the archive, and readers skip them until a later fold deletes them.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psutil

from dcm_otel.prometheus._figures import Figures, decode_figures, encode_figures
from dcm_otel.prometheus._log import warn_once
from dcm_otel.prometheus._merge import OnMismatch, Part, sum_figures

try:
    import fcntl
except ImportError:  # Windows: no folding; finished processes' files are then read at every scrape
    fcntl = None  # type: ignore[assignment]

FORMAT = 1
ARCHIVE = "archive.json"
LOCK = ".lock"
_PROCESS_FILE = re.compile(r"^(\d+)-(\d+)\.json$")
_ALIVE_FILE = re.compile(r"^(\d+)-(\d+)\.alive$")
_TEMP_FILE = re.compile(r"^\.(\d+)-(\d+)\.json\.tmp$")


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """A process incarnation: the pid alone is recycled by the OS."""

    pid: int
    started: int  # centiseconds since the epoch

    @property
    def stem(self) -> str:
        return f"{self.pid}-{self.started}"

    @classmethod
    def current(cls) -> ProcessIdentity:
        pid = os.getpid()
        return cls(pid, _start_of(pid) or 0)

    def is_alive(self) -> bool:
        return _start_of(self.pid) == self.started


def _start_of(pid: int) -> int | None:
    try:
        return round(psutil.Process(pid).create_time() * 100)
    except psutil.Error:
        return None


@dataclass(frozen=True, slots=True)
class Snapshot:
    identity: ProcessIdentity
    written: float
    figures: Figures


@dataclass(slots=True)
class Archive:
    folded: dict[str, float] = field(default_factory=dict)  # file stem -> when it was folded in
    figures: Figures = field(default_factory=dict)


class SnapshotDir:
    """Reads and writes one multiprocess directory; every method is safe to call from any process."""

    def __init__(self, path: str) -> None:
        self.path = path

    # ---- writing

    def hold_alive(self, identity: ProcessIdentity) -> int | None:
        """Lock this process's ``.alive`` file; keep the returned descriptor open until the process ends.

        Locked under a temp name, then renamed: the ``.alive`` name never shows an unlocked file of a live
        process. None where there is no flock; raises OSError."""
        if fcntl is None:
            return None
        temp = os.path.join(self.path, f".{identity.stem}.alive.tmp")
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.replace(temp, os.path.join(self.path, f"{identity.stem}.alive"))
        except OSError:
            os.close(fd)
            raise
        return fd

    def write(self, identity: ProcessIdentity, figures: Figures) -> None:
        """Replace this process's file; raises OSError (the caller decides how loudly to complain).

        A removed directory is not made again: the server's ``on_exit`` hook removes it before the master's
        own exit handlers (``--preload``) write their last snapshot."""
        document = {
            "format": FORMAT,
            "pid": identity.pid,
            "started": identity.started,
            "written": time.time(),
            "metrics": encode_figures(figures),
        }
        self._write_atomically(f"{identity.stem}.json", document)

    def _write_atomically(self, name: str, document: dict[str, Any]) -> None:
        data = json.dumps(document, separators=(",", ":")).encode()
        final = os.path.join(self.path, name)
        temp = os.path.join(self.path, f".{name}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temp, final)

    # ---- reading

    def other_processes(self, own: ProcessIdentity) -> list[Part]:
        """Every other process's figures, each with whether it still runs: live processes newest file first
        (a gauge keeps the first value seen), then finished ones, then the archive.

        Read holding ``.lock`` shared, so no fold happens in between (see the module docstring)."""
        with self._locked(shared=True):
            identities, _, _ = self._listing()
            snapshots = [
                snapshot for i in identities if i != own and (snapshot := self.read_snapshot(i)) is not None
            ]
            archive = self.read_archive() or Archive()
        pending = [snapshot for snapshot in snapshots if snapshot.identity.stem not in archive.folded]
        live: list[Snapshot] = []
        finished: list[Snapshot] = []
        for snapshot in pending:
            (finished if self.is_finished(snapshot.identity) else live).append(snapshot)
        live.sort(key=lambda snapshot: snapshot.written, reverse=True)
        return [
            *((snapshot.figures, True) for snapshot in live),
            *((snapshot.figures, False) for snapshot in finished),
            (archive.figures, False),
        ]

    def is_finished(self, identity: ProcessIdentity) -> bool:
        """True once the process has ended: its ``.alive`` lock is free."""
        if fcntl is None:
            return not identity.is_alive()
        try:
            fd = os.open(os.path.join(self.path, f"{identity.stem}.alive"), os.O_RDONLY)
        except FileNotFoundError:  # it could not make one (it warned), or the directory is gone
            return not identity.is_alive()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)
        return True

    def read_snapshot(self, identity: ProcessIdentity) -> Snapshot | None:
        document = self._read_json(f"{identity.stem}.json")
        if document is None:
            return None
        try:
            _check_format(document)
            return Snapshot(identity, float(document["written"]), decode_figures(document["metrics"]))
        except Exception as exc:  # whatever is wrong with one file, the scrape goes on without it
            warn_once(
                f"corrupt:{self.path}",
                "dcm_otel: skipping damaged metrics file %s/%s.json: %s",
                self.path,
                identity.stem,
                exc,
            )
            return None

    def read_archive(self) -> Archive | None:
        """The archive, an empty one if there is none yet, None if it cannot be read."""
        document = self._read_json(ARCHIVE, missing={})
        if document is None:
            return None
        if not document:
            return Archive()
        try:
            _check_format(document)
            folded = {str(stem): float(at) for stem, at in document["folded"].items()}
            return Archive(folded, decode_figures(document["metrics"]))
        except Exception as exc:
            warn_once(f"archive:{self.path}", "dcm_otel: cannot use %s/%s: %s", self.path, ARCHIVE, exc)
            return None

    def _read_json(self, name: str, missing: Any = None) -> Any:
        try:
            with open(os.path.join(self.path, name), "rb") as file:
                return json.loads(file.read())
        except FileNotFoundError:
            return missing
        except (OSError, ValueError) as exc:
            warn_once(f"read:{self.path}", "dcm_otel: cannot read %s/%s: %s", self.path, name, exc)
            return None

    def _listing(self) -> tuple[list[ProcessIdentity], list[ProcessIdentity], list[ProcessIdentity]]:
        """The process files, the ``.alive`` files and the leftover temp files, by the identity in their
        names."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:  # removed by the server's on_exit hook: nothing left to read
            return [], [], []
        except OSError as exc:
            warn_once(f"list:{self.path}", "dcm_otel: cannot list metrics directory %s: %s", self.path, exc)
            return [], [], []
        return (
            _identities(names, _PROCESS_FILE),
            _identities(names, _ALIVE_FILE),
            _identities(names, _TEMP_FILE),
        )

    # ---- folding finished processes into the archive

    def fold_finished(self, own: ProcessIdentity, on_mismatch: OnMismatch) -> None:
        """Move the monotonic figures of finished processes into the archive and delete their files.

        Cheap when nothing finished (a listing and one lock probe per file), and skipped while a scrape or
        another fold holds the lock: it will be done at a later tick.
        """
        identities, alive, temps = self._listing()
        finished = [identity for identity in identities if identity != own and self.is_finished(identity)]
        for identity in temps:
            if identity != own and self.is_finished(identity):
                self._remove(f".{identity.stem}.json.tmp")
        for identity in set(alive) - set(identities):  # ended before its first write: nothing to fold
            if self.is_finished(identity):
                self._remove(f"{identity.stem}.alive")
        if not finished:
            return
        with self._locked(shared=False) as locked:
            if locked:
                self._fold(finished, on_mismatch)

    def _fold(self, finished: list[ProcessIdentity], on_mismatch: OnMismatch) -> None:
        archive = self.read_archive()
        if archive is None:  # never overwrite an archive we could not read: that would reset the counters
            return
        now = time.time()
        # A name is needed only while its file is left (a fold ended between the archive and the deletes).
        folded = {
            stem: at
            for stem, at in archive.folded.items()
            if os.path.exists(os.path.join(self.path, f"{stem}.json"))
        }
        parts: list[Part] = [(archive.figures, False)]
        for identity in finished:
            if identity.stem not in archive.folded and (snapshot := self.read_snapshot(identity)) is not None:
                parts.append((snapshot.figures, False))
            folded[identity.stem] = now
        figures = sum_figures(parts, on_mismatch, round_up=True)
        document = {"format": FORMAT, "folded": folded, "metrics": encode_figures(figures)}
        self._write_atomically(ARCHIVE, document)
        for identity in finished:
            self._remove(f"{identity.stem}.json")
            self._remove(f"{identity.stem}.alive")

    @contextmanager
    def _locked(self, *, shared: bool) -> Iterator[bool]:
        """``.lock`` held: a scrape waits for a fold (milliseconds); a fold does not wait, it yields False."""
        if fcntl is None:
            yield False
            return
        try:
            fd = os.open(os.path.join(self.path, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:  # removed by the server's on_exit hook: nothing to read or fold
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # releases the flock

    # ---- whole-directory housekeeping

    def clear(self, *, live_too: bool = False) -> None:
        """Delete every snapshot, temp file and the archive: the server starts from zero. The ``.alive``
        files go too, those of running processes only with ``live_too`` (the directory is being removed)."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return
        for name in names:
            if name == ARCHIVE or _PROCESS_FILE.match(name) or name.endswith(".tmp"):
                self._remove(name)
        for identity in _identities(names, _ALIVE_FILE):
            if live_too or self.is_finished(identity):
                self._remove(f"{identity.stem}.alive")

    def _remove(self, name: str) -> None:
        try:
            os.unlink(os.path.join(self.path, name))
        except FileNotFoundError:
            pass
        except OSError as exc:
            warn_once(f"remove:{self.path}", "dcm_otel: cannot delete %s/%s: %s", self.path, name, exc)


def _identities(names: list[str], pattern: re.Pattern[str]) -> list[ProcessIdentity]:
    return [ProcessIdentity(int(match[1]), int(match[2])) for name in names if (match := pattern.match(name))]


def _check_format(document: Any) -> None:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("unknown file format")
