"""One workload run for the whole directory: its OTLP export and its /metrics exposition."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.otlp_receiver import OtlpReceiver, start_receiver
from tests.project_factory import project_env, write_project
from tests.services.docker_engine import DockerEngine
from tests.services.postgres import Postgres

HERE = Path(__file__).resolve().parent
SETTINGS_TAIL = """
ROOT_URLCONF = "urls_conformance"
DATABASES.update({databases!r})
DCM_OTEL = {{
    "service_version": "1.0.0",
    "queue_metrics": "all",
    "resource_metrics": "all",
    "docker_probe_interval": 1,
    "container_stats_interval": 1,
    "metric_export_interval": 600,
}}
import dcm_otel; dcm_otel.init()
"""


@dataclass
class Capture:
    """What the workload exported over OTLP, and the /metrics body it scraped at the end."""

    receiver: OtlpReceiver
    exposition: str
    stdout: str


@pytest.fixture(scope="package")
def capture(
    tmp_path_factory: pytest.TempPathFactory, docker_engine: DockerEngine, postgres: Postgres
) -> Iterator[Capture]:
    project_dir = tmp_path_factory.mktemp("conformance")
    pg = postgres.create_database("dcm_conformance").django_database()
    project = write_project(
        project_dir,
        settings_tail=SETTINGS_TAIL.format(databases={"pg": pg}),
        installed_apps=("container_manager",),
    )
    for name in ("workload.py", "urls_conformance.py"):
        shutil.copy(HERE / name, project / name)
    receiver = start_receiver()
    try:
        env = project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
        done = subprocess.run(
            [sys.executable, str(project / "workload.py"), docker_engine.base_url, docker_engine.image,
             str(project)],
            env=env, capture_output=True, text=True, timeout=150,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        dump = os.environ.get("DCM_OTEL_CONFORMANCE_DUMP")  # a directory: keep the raw export to study
        if dump:
            for path, messages in receiver.received.items():
                for i, message in enumerate(messages):
                    name = f"{path.strip('/').replace('/', '_')}_{i}.pb"
                    (Path(dump) / name).write_bytes(message.SerializeToString())
        yield Capture(receiver, (project / "metrics.txt").read_text(), done.stdout)
    finally:
        receiver.close()
        postgres.drop_database("dcm_conformance")
