"""A throwaway PostgreSQL cluster of our own (initdb + pg_ctl, trust auth, 127.0.0.1 on a free port), for
tests and benchmarks on machines with the server installed but not running (Debian: postgresql)::

    cluster = start_cluster()
    try:
        psycopg.connect(cluster.dsn)
    finally:
        cluster.close()

As root, the server runs as the ``postgres`` user (it refuses root). It is stopped by its own data
directory and postmaster PID, never by name, since other servers may run on the machine.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from dcm_otel_devtools.private_docker import log_tail, wait_until

SUPERUSER = "postgres"
HOST = "127.0.0.1"
PG_CTL_TIMEOUT = 60
#: The cluster is thrown away, so durability is traded for speed.
SERVER_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PostgresUnavailable(RuntimeError):
    """The machine cannot run a private server (not installed, no postgres user, no runuser)."""


#: Ports this process has handed out: the kernel may give a just-closed ephemeral port again, and two
#: of them in one daemon's config (health check and OTLP receiver) make it fail to start.
_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago and not handed out before in this process; callers retry on the
    rare race with another process."""
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError(f"no ephemeral port on {host} left that this process has not handed out")


def short_tempdir(prefix: str) -> Path:
    """A fresh private dir directly under /tmp.

    pytest's own tmp dirs are 0700 (the postgres user cannot enter them) and can be too deep for a
    unix socket path (~107 bytes), so daemons get a short private dir of their own.
    """
    base = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


@dataclass
class PostgresCluster:
    """Process control for a cluster we created; runs its tools as the postgres user when we are root."""

    bin_dir: Path
    root: Path
    port: int
    run_as: list[str]

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgresql.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        """The postmaster's PID (from postmaster.pid) while it runs."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.run_as, str(self.bin_dir / tool), *args],
            cwd=self.root,  # the postgres user may not be allowed into our cwd
            capture_output=True,
            text=True,
            check=False,
            timeout=PG_CTL_TIMEOUT + 30,
        )

    def _check(self, what: str, result: subprocess.CompletedProcess[str]) -> None:
        if result.returncode != 0:
            raise RuntimeError(
                f"{what} failed with status {result.returncode}:\n{result.stdout}{result.stderr}"
                f"tail of {self.log_path}:\n{log_tail(self.log_path)}"
            )

    def initdb(self) -> None:
        result = self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
        )
        self._check("initdb", result)

    def start(self) -> None:
        options = f"-k {self.root} -h {HOST} -p {self.port} {SERVER_OPTIONS}"
        result = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.log_path),
            "-w", "-t", str(PG_CTL_TIMEOUT), "start",
        )  # fmt: skip
        self._check("pg_ctl start", result)

    def stop(self) -> None:
        pid = self.pid
        if pid is None:
            return
        result = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(PG_CTL_TIMEOUT), "stop"
        )
        if result.returncode != 0 and self.pid == pid:
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown of the postmaster we started
            wait_until(lambda: self.pid is None, 10.0)

    def close(self, keep_log_in: Path | None = None) -> None:
        """Stop the server for good and remove its dir, copying its log into `keep_log_in` first if given."""
        try:
            self.stop()
        finally:
            if keep_log_in is not None and self.log_path.exists():
                shutil.copy(self.log_path, keep_log_in / self.log_path.name)
            shutil.rmtree(self.root, ignore_errors=True)


def find_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin (Debian keeps initdb/pg_ctl off PATH), else PATH."""

    def version(bin_dir: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", bin_dir.parent.name))

    candidates = sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")), key=version, reverse=True)
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        candidates.append(Path(pg_ctl).resolve().parent)
    for bin_dir in candidates:
        if (bin_dir / "initdb").is_file() and (bin_dir / "pg_ctl").is_file():
            return bin_dir
    raise PostgresUnavailable("PostgreSQL server not installed (no initdb/pg_ctl found)")


def _run_as() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix and OS user to run the server as: the postgres user when we are root."""
    if os.geteuid() != 0:
        return [], None
    try:
        owner = pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise PostgresUnavailable(f"no '{SUPERUSER}' OS user to run a private PostgreSQL as") from None
    runuser = shutil.which("runuser") or next(
        (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)), None
    )
    if runuser is None:
        raise PostgresUnavailable(
            "runuser (util-linux) not found: needed to run PostgreSQL as the postgres user"
        )
    return [runuser, "-u", SUPERUSER, "--"], owner


def start_cluster() -> PostgresCluster:
    """initdb + pg_ctl start in a short dir under /tmp that the server's user owns; returns it running."""
    bin_dir = find_bin_dir()
    run_as, owner = _run_as()
    root = short_tempdir("dcm-pg-")
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PostgresCluster(bin_dir=bin_dir, root=root, port=0, run_as=run_as)
    try:
        cluster.initdb()
        for attempt in range(3):
            cluster.port = free_port(HOST)
            try:
                cluster.start()
                break
            except RuntimeError:  # another process may have taken the port since we picked it
                if attempt == 2 or "already in use" not in log_tail(cluster.log_path, 5):
                    raise
    except BaseException:
        with suppress(Exception):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster
