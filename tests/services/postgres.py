"""Session fixture `postgres`: a real PostgreSQL server for tests that need one.

Order of preference: the server at DCM_OTEL_TEST_POSTGRES_DSN if it answers, else a throwaway cluster
(initdb + pg_ctl, trust auth, 127.0.0.1 on a free port) removed at session end, else skip (or fail when
DCM_OTEL_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._common import (
    INSTALL_HINT,
    free_port,
    is_root,
    keep_log,
    log_tail,
    port_open,
    short_tempdir,
    unavailable,
    wait_until,
)

if TYPE_CHECKING:
    import psycopg

DSN_ENV = "DCM_OTEL_TEST_POSTGRES_DSN"
SUPERUSER = "postgres"
HOST = "127.0.0.1"
PG_CTL_TIMEOUT = 60
#: The cluster is thrown away, so durability is traded for speed.
SERVER_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


@dataclass
class _Cluster:
    """Process control for a cluster this session created; runs as the postgres user when we are root."""

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

    def close(self, keep_logs_in: Path) -> None:
        try:
            self.stop()
        finally:
            keep_log(self.log_path, keep_logs_in)
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Postgres:
    """Where a reachable PostgreSQL server is, plus helpers; `owned` clusters can be stopped mid-test."""

    host: str
    port: int
    user: str
    dbname: str
    dsn: str
    password: str | None = None
    _cluster: _Cluster | None = field(default=None, repr=False, compare=False)

    @property
    def owned(self) -> bool:
        return self._cluster is not None

    @property
    def pid(self) -> int | None:
        return self._cluster.pid if self._cluster is not None else None

    def connect(self, autocommit: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
        import psycopg

        return psycopg.connect(self.dsn, autocommit=autocommit, connect_timeout=5)

    def ping(self) -> bool:
        import psycopg

        try:
            with self.connect() as conn:
                conn.execute("select 1")
        except psycopg.Error:
            return False
        return True

    def django_database(self) -> dict[str, Any]:
        """A `DATABASES` entry; DSN parameters Django has no key for (sslmode, ...) go into OPTIONS."""
        from psycopg.conninfo import conninfo_to_dict

        extra = {
            k: v
            for k, v in conninfo_to_dict(self.dsn).items()
            if k not in {"host", "hostaddr", "port", "user", "password", "dbname"}
        }
        entry: dict[str, Any] = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": self.dbname,
            "USER": self.user,
            "PASSWORD": self.password or "",
            "HOST": self.host,
            "PORT": str(self.port),
        }
        if extra:
            entry["OPTIONS"] = extra
        return entry

    def create_database(self, name: str) -> Postgres:
        """A fresh database `name` (dropped first if left over) on this server, as a new `Postgres`."""
        from psycopg import sql
        from psycopg.conninfo import make_conninfo

        self.drop_database(name)
        with self.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return dataclasses.replace(self, dbname=name, dsn=make_conninfo(self.dsn, dbname=name))

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        """Stop the private server (pg_ctl -m fast); returns once its port refuses connections."""
        cluster = self._require_cluster("stop")
        cluster.stop()
        if not wait_until(lambda: not port_open(self.host, self.port), 10.0):
            raise RuntimeError(f"PostgreSQL on {self.host}:{self.port} still accepts connections after stop")

    def start(self) -> None:
        """Start the private server again on the same port; returns once it answers a query."""
        cluster = self._require_cluster("start")
        if cluster.pid is None:
            cluster.start()
        if not wait_until(self.ping, 30.0, 0.2):
            raise RuntimeError(f"PostgreSQL did not answer after start; tail:\n{log_tail(cluster.log_path)}")

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """Server down inside the block and back up after it, even if the block raises."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def _require_cluster(self, action: str) -> _Cluster:
        if self._cluster is None:
            unavailable(f"cannot {action} the PostgreSQL server at {DSN_ENV}: this session did not start it")
        return self._cluster


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
    unavailable(f"PostgreSQL server not installed (no initdb/pg_ctl found): {INSTALL_HINT}")


def connect_external() -> Postgres | None:
    """The server DCM_OTEL_TEST_POSTGRES_DSN names, if it answers; its real host/port/user come from libpq."""
    dsn = os.environ.get(DSN_ENV, "").strip()
    if not dsn:
        return None
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            info = conn.info
            return Postgres(
                host=info.host,
                port=info.port,
                user=info.user,
                dbname=info.dbname,
                dsn=dsn,
                password=info.password or None,
            )
    except psycopg.Error as exc:
        warnings.warn(f"{DSN_ENV} does not answer ({exc}); starting a private PostgreSQL", stacklevel=2)
        return None


def start_private() -> Postgres:
    """initdb + pg_ctl start in a short dir under /tmp that the postgres user owns."""
    bin_dir = find_bin_dir()
    run_as: list[str] = []
    owner: pwd.struct_passwd | None = None
    if is_root():  # the server refuses to run as root
        try:
            owner = pwd.getpwnam(SUPERUSER)
        except KeyError:
            unavailable(f"no '{SUPERUSER}' OS user to run a private PostgreSQL as: {INSTALL_HINT}")
        runuser = shutil.which("runuser") or next(
            (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)), None
        )
        if runuser is None:
            unavailable("runuser (util-linux) not found: needed to run PostgreSQL as the postgres user")
        run_as = [runuser, "-u", SUPERUSER, "--"]
    root = short_tempdir("dcm-pg-")
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = _Cluster(bin_dir=bin_dir, root=root, port=0, run_as=run_as)
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
    return Postgres(
        host=HOST,
        port=cluster.port,
        user=SUPERUSER,
        dbname="postgres",
        dsn=f"postgresql://{SUPERUSER}@{HOST}:{cluster.port}/postgres",
        _cluster=cluster,
    )


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """A PostgreSQL server; use `create_database()` for per-test databases, `django_database()` for Django."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg not installed: pip install -e '.[test]'")
    server = connect_external() or start_private()
    try:
        yield server
    finally:
        if server._cluster is not None:
            server._cluster.close(keep_logs_in=tmp_path_factory.mktemp("postgres"))
