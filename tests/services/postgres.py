"""Session fixture `postgres`: a real PostgreSQL server for tests that need one.

Order of preference: the server at DCM_OTEL_TEST_POSTGRES_DSN if it answers, else a throwaway cluster
(initdb + pg_ctl, trust auth, 127.0.0.1 on a free port) removed at session end, else skip (or fail when
DCM_OTEL_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from dcm_otel_devtools.private_postgres import (
    HOST,
    SUPERUSER,
    PostgresCluster,
    PostgresUnavailable,
    start_cluster,
)

from ._common import INSTALL_HINT, log_tail, port_open, unavailable, wait_until

if TYPE_CHECKING:
    import psycopg

DSN_ENV = "DCM_OTEL_TEST_POSTGRES_DSN"


@dataclass
class Postgres:
    """Where a reachable PostgreSQL server is, plus helpers; `owned` clusters can be stopped mid-test."""

    host: str
    port: int
    user: str
    dbname: str
    dsn: str
    password: str | None = None
    _cluster: PostgresCluster | None = field(default=None, repr=False, compare=False)

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

    def _require_cluster(self, action: str) -> PostgresCluster:
        if self._cluster is None:
            unavailable(f"cannot {action} the PostgreSQL server at {DSN_ENV}: this session did not start it")
        return self._cluster


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
    """A throwaway cluster (dcm_otel_devtools.private_postgres); skip (or fail) if the machine has none."""
    try:
        cluster = start_cluster()
    except PostgresUnavailable as exc:
        unavailable(f"{exc}: {INSTALL_HINT}")
    return Postgres(
        host=HOST, port=cluster.port, user=SUPERUSER, dbname="postgres", dsn=cluster.dsn, _cluster=cluster
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
            server._cluster.close(keep_log_in=tmp_path_factory.mktemp("postgres"))
