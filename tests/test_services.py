"""The real-service fixtures work: a container runs on the Docker Engine, SQL runs on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docker.errors
import pytest

from tests.services import DSN_ENV, REQUIRE_ENV, DockerEngine, Postgres, unavailable
from tests.services.docker_engine import connect_external as docker_from_env
from tests.services.postgres import connect_external as postgres_from_env

ROOT = Path(__file__).resolve().parent.parent
TARGET = f"{Path(__file__).relative_to(ROOT)}::test_busybox_container_output"


@pytest.mark.services
def test_busybox_container_output(docker_engine: DockerEngine) -> None:
    client = docker_engine.client()
    try:
        out = client.containers.run(docker_engine.image, ["echo", "hello"], network_mode="none", remove=True)
        assert b"hello" in out
        container = client.containers.run(
            docker_engine.image,
            ["sh", "-c", "echo out; echo err >&2; exit 3"],
            network_mode="none",
            detach=True,
        )
        try:
            assert container.wait(timeout=30)["StatusCode"] == 3
            assert container.logs(stdout=True, stderr=False) == b"out\n"
            assert container.logs(stdout=False, stderr=True) == b"err\n"
        finally:
            container.remove(force=True)
    finally:
        client.close()


@pytest.mark.services
def test_docker_engine_stop_start(docker_engine: DockerEngine) -> None:
    """Needs a private engine: stop() skips (or fails under DCM_OTEL_REQUIRE_SERVICES=1) for DOCKER_HOST."""
    with docker_engine.stopped():
        assert docker_engine.pid is None
        assert not docker_engine.ping()
        with pytest.raises(docker.errors.DockerException):
            docker_engine.client(timeout=2)
    assert docker_engine.pid is not None
    client = docker_engine.client()
    try:
        assert client.containers.run(docker_engine.image, ["true"], network_mode="none", remove=True) == b""
    finally:
        client.close()


@pytest.mark.services
def test_docker_host_engine_is_used(docker_engine: DockerEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_engine.base_url)
    external = docker_from_env()
    assert external is not None
    assert not external.owned
    external.ensure_image()  # already there: a no-op
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="did not start it"):
        external.stop()


@pytest.mark.services
def test_postgres_select_one(postgres: Postgres) -> None:
    with postgres.connect() as conn:
        assert conn.execute("select 1").fetchone() == (1,)


@pytest.mark.services
def test_postgres_table_roundtrip(postgres: Postgres) -> None:
    db = postgres.create_database("dcm_otel_services_roundtrip")
    try:
        assert db.dbname == "dcm_otel_services_roundtrip"
        with db.connect() as conn:
            conn.execute("create table job (id serial primary key, name text not null)")
            conn.execute("insert into job (name) values (%s), (%s)", ("a", "b"))
            assert conn.execute("select name from job order by id").fetchall() == [("a",), ("b",)]
            assert conn.execute("select current_database()").fetchone() == (db.dbname,)
    finally:
        postgres.drop_database(db.dbname)
    entry = db.django_database()
    assert entry["ENGINE"] == "django.db.backends.postgresql"
    assert (entry["NAME"], entry["HOST"], entry["PORT"]) == (db.dbname, db.host, str(db.port))


@pytest.mark.services
def test_postgres_stop_start(postgres: Postgres) -> None:
    """Needs a private server: stop() skips (or fails when services are required) for an external one."""
    with postgres.stopped():
        assert postgres.pid is None
        assert not postgres.ping()
    assert postgres.pid is not None
    assert postgres.ping()


@pytest.mark.services
def test_postgres_dsn_server_is_used(postgres: Postgres, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DSN_ENV, postgres.dsn)
    external = postgres_from_env()
    assert external is not None
    assert not external.owned
    assert (external.host, external.port, external.user) == (postgres.host, postgres.port, postgres.user)


def test_unavailable_skips_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no widget"):
        unavailable("no widget")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="no widget"):
        unavailable("no widget")


@pytest.mark.parametrize(("required", "outcome"), [("", "1 skipped"), ("1", "1 error")])
def test_missing_dockerd_skips_or_fails(required: str, outcome: str) -> None:
    """End to end, in a child pytest whose PATH has no dockerd and no DOCKER_HOST."""
    env = {k: v for k, v in os.environ.items() if k not in {"DOCKER_HOST", REQUIRE_ENV}}
    env.update(PATH="/nonexistent", **({REQUIRE_ENV: required} if required else {}))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rsE", "-q", TARGET],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert outcome in result.stdout, result.stdout + result.stderr
    assert "dockerd not installed" in result.stdout
