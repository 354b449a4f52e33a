"""The shared directory of snapshot files, and how a scrape reads it.

- ``<pid>-<start>.json``: one process's cumulative figures, replaced atomically (temp file + ``os.replace``)
  at every write. ``<start>`` is the process start time in centiseconds: a recycled pid gets a new file
  instead of overwriting a finished process's, and "alive" means "a process with this pid exists and
  started then" (one ``/proc/<pid>/stat`` read through psutil).
- ``archive.json``: the monotonic figures (counters, histograms) of finished processes, plus the names of
  the files folded into it. Folding happens under the ``.lock`` flock and writes the archive *before*
  deleting the folded files; a scrape reads the process files first and the archive last, skipping files
  the archive names. Whenever a fold happens, each finished process is counted exactly once, and a server
  whose workers are recycled often (``--max-requests``) still has only a handful of files to read.
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
from dcm_otel.prometheus._merge import OnMismatch, add_figures, monotonic_only

try:
    import fcntl
except ImportError:  # Windows: no folding; finished processes' files are then read at every scrape
    fcntl = None  # type: ignore[assignment]

FORMAT = 1
ARCHIVE = "archive.json"
LOCK = ".lock"
_PROCESS_FILE = re.compile(r"^(\d+)-(\d+)\.json$")
_TEMP_FILE = re.compile(r"^\.(\d+)-(\d+)\.json\.tmp$")
# A folded file's name is remembered this long, so a scrape that read it just before the fold skips it.
_FOLDED_NAMES_KEPT_SECONDS = 3600.0


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

    def add_other_processes(self, total: Figures, own: ProcessIdentity, on_mismatch: OnMismatch) -> None:
        """Add every other process's figures into ``total``, which already holds this process's fresh ones.

        Live processes are added newest file first (a gauge keeps the first value seen), then the files of
        finished processes, then the archive.
        """
        identities, _ = self._listing()
        snapshots = [
            snapshot for i in identities if i != own and (snapshot := self.read_snapshot(i)) is not None
        ]
        archive = self.read_archive() or Archive()  # after the files: see the module docstring
        pending = [snapshot for snapshot in snapshots if snapshot.identity.stem not in archive.folded]
        live: list[Snapshot] = []
        finished: list[Snapshot] = []
        for snapshot in pending:
            (live if snapshot.identity.is_alive() else finished).append(snapshot)
        for snapshot in sorted(live, key=lambda snapshot: snapshot.written, reverse=True):
            add_figures(total, snapshot.figures, live=True, on_mismatch=on_mismatch)
        for snapshot in finished:
            add_figures(total, snapshot.figures, live=False, on_mismatch=on_mismatch)
        add_figures(total, archive.figures, live=False, on_mismatch=on_mismatch)

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

    def _listing(self) -> tuple[list[ProcessIdentity], list[ProcessIdentity]]:
        """The process files and the leftover temp files, by the identity in their names."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:  # removed by the server's on_exit hook: nothing left to read
            return [], []
        except OSError as exc:
            warn_once(f"list:{self.path}", "dcm_otel: cannot list metrics directory %s: %s", self.path, exc)
            return [], []
        return _identities(names, _PROCESS_FILE), _identities(names, _TEMP_FILE)

    # ---- folding finished processes into the archive

    def fold_finished(self, own: ProcessIdentity, on_mismatch: OnMismatch) -> None:
        """Move the monotonic figures of finished processes into the archive and delete their files.

        Cheap when nothing finished (a listing and one liveness check per file), and skipped while another
        process holds the lock: it will be done at a later tick.
        """
        identities, temps = self._listing()
        finished = [identity for identity in identities if identity != own and not identity.is_alive()]
        for identity in temps:
            if identity != own and not identity.is_alive():
                self._remove(f".{identity.stem}.json.tmp")
        if not finished:
            return
        with self._exclusive() as locked:
            if locked:
                self._fold(finished, on_mismatch)

    def _fold(self, finished: list[ProcessIdentity], on_mismatch: OnMismatch) -> None:
        archive = self.read_archive()
        if archive is None:  # never overwrite an archive we could not read: that would reset the counters
            return
        now = time.time()
        folded = {stem: at for stem, at in archive.folded.items() if now - at < _FOLDED_NAMES_KEPT_SECONDS}
        for identity in finished:
            if identity.stem not in archive.folded:
                snapshot = self.read_snapshot(identity)
                if snapshot is not None:
                    add_figures(
                        archive.figures, monotonic_only(snapshot.figures), live=False, on_mismatch=on_mismatch
                    )
            folded[identity.stem] = now  # also refreshes a name whose file could not be deleted before
        document = {"format": FORMAT, "folded": folded, "metrics": encode_figures(archive.figures)}
        self._write_atomically(ARCHIVE, document)
        for identity in finished:
            self._remove(f"{identity.stem}.json")

    @contextmanager
    def _exclusive(self) -> Iterator[bool]:
        if fcntl is None:
            yield False
            return
        fd = os.open(os.path.join(self.path, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # releases the flock

    # ---- whole-directory housekeeping

    def clear(self) -> None:
        """Delete every snapshot, temp file and the archive: the server starts from zero."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return
        for name in names:
            if (
                name == ARCHIVE
                or _PROCESS_FILE.match(name)
                or _TEMP_FILE.match(name)
                or name.endswith(".tmp")
            ):
                self._remove(name)

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
