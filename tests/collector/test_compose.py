"""examples/compose cannot run here (no image can be pulled), so its parts are checked where they can be:
Compose parses it, the collector it runs gets a combination of our configs that the validation covers
(with every variable it needs), and the other mounted configs pass their own tools."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.alerts.tools import binary
from tests.services._common import INSTALL_HINT, unavailable

from .configs import BUILDER_CONFIG, CONFIG_DIR, ROOT, config_path, documented_combinations, env_references

COMPOSE_DIR = ROOT / "examples" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
HOST_PATHS = {"/", "/var/run/docker.sock"}  # mounted from the machine that runs the stack


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def bind_mounts(service: dict[str, Any]) -> dict[Path | str, str]:
    """Host source -> container target of a service's bind mounts (named volumes left out)."""
    mounts: dict[Path | str, str] = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source in HOST_PATHS:
            mounts[source] = target
        elif source.startswith("."):
            mounts[(COMPOSE_DIR / source).resolve()] = target
    return mounts


def collector_service() -> dict[str, Any]:
    service: dict[str, Any] = compose()["services"]["otel-collector"]
    return service


def test_compose_parses_the_file() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        unavailable(f"docker-compose not installed (Debian package docker-compose): {INSTALL_HINT}")
    done = subprocess.run(
        [tool, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_collector_runs_a_validated_combination_of_our_configs() -> None:
    service = collector_service()
    mounts = bind_mounts(service)
    ours = {source: target for source, target in mounts.items() if isinstance(source, Path)}
    assert ours, mounts
    assert all(source.parent == CONFIG_DIR and source.exists() for source in ours), ours
    passed = [arg.removeprefix("--config=") for arg in service["command"]]
    # Each --config is a mounted file of ours, in the order of a combination the tests validate.
    by_target = {target: source.stem for source, target in ours.items()}
    assert set(passed) == set(by_target), (passed, by_target)
    assert tuple(by_target[target] for target in passed) in documented_combinations()


def test_the_collector_gets_every_variable_its_configs_need() -> None:
    service = collector_service()
    names = [source.stem for source in bind_mounts(service) if isinstance(source, Path)]
    required = {
        name
        for config in names
        for name, has_default in env_references(config_path(config)).items()
        if not has_default
    }
    assert required <= set(service["environment"]), required - set(service["environment"])
    # Listening on 127.0.0.1 (the configs' default) would be unreachable from the other containers.
    assert service["environment"]["OTELCOL_OTLP_HTTP_ENDPOINT"] == "0.0.0.0:4318"


def test_the_collector_image_is_the_release_the_distribution_pins() -> None:
    release = re.search(r"^\s+version: (\S+)$", BUILDER_CONFIG.read_text(), re.MULTILINE)
    assert release is not None
    assert collector_service()["image"] == f"otel/opentelemetry-collector-contrib:{release.group(1)}"


def test_every_bind_mounted_file_exists() -> None:
    for name, service in compose()["services"].items():
        for source in bind_mounts(service):
            if isinstance(source, Path) and source.name != "secrets":
                assert source.exists(), (name, source)


def test_the_mounted_prometheus_and_alertmanager_configs_pass_their_tools() -> None:
    services = compose()["services"]
    prometheus_config = next(s for s in bind_mounts(services["prometheus"]) if str(s).endswith(".yml"))
    done = subprocess.run(
        [binary("promtool"), "check", "config", str(prometheus_config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    alertmanager_config = next(s for s in bind_mounts(services["alertmanager"]) if str(s).endswith(".yml"))
    done = subprocess.run(
        [binary("amtool"), "check-config", str(alertmanager_config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("datasource", ["Prometheus", "Jaeger", "Loki"])
def test_grafana_datasources_point_at_the_stack(datasource: str) -> None:
    document = yaml.safe_load((COMPOSE_DIR / "grafana" / "datasources.yaml").read_text())
    [url] = [d["url"] for d in document["datasources"] if d["name"] == datasource]
    host = url.split("//", 1)[1].split(":", 1)[0]
    assert host in compose()["services"], url
