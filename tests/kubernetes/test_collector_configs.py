"""The collectors as the chart runs them: the ConfigMap's files, each pod's `--config` arguments and its
environment (downward-API fields and Secret values given sample values), through the built collector's
`validate`, for every documented values set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.collector.binaries import build
from tests.collector.configs import validate

from .tools import Tools, container, find, pod_environment, values_id, values_sets


@pytest.fixture(scope="module")
def collector_binary() -> Path:
    return build("collector")


@pytest.mark.parametrize("values", values_sets(), ids=values_id)
def test_agent_and_gateway_configs_validate(
    tools: Tools, collector_binary: Path, values: Path | None, tmp_path: Path
) -> None:
    objects = tools.template(values)
    config_dir = tmp_path / "otelcol"
    config_dir.mkdir()
    for name, text in find(objects, "ConfigMap", "-collector-config")["data"].items():
        (config_dir / name).write_text(text)
    for kind, suffix in (("DaemonSet", "-agent"), ("Deployment", "-gateway")):
        main = container(find(objects, kind, suffix))
        files = [Path(arg.replace("--config=/etc/otelcol/", f"{config_dir}/")) for arg in main["args"]]
        assert all(f.is_file() for f in files), main["args"]
        environment = pod_environment(main["env"])
        # The pod's mounts (the node's / at /hostfs for the host metrics) as directories here.
        for mount in main["volumeMounts"]:
            local = tmp_path / "mounts" / mount["name"]
            local.mkdir(parents=True, exist_ok=True)
            environment = {k: v.replace(mount["mountPath"], str(local)) for k, v in environment.items()}
        done = validate(collector_binary, files, environment)
        assert done.returncode == 0, f"{values_id(values)} {suffix}: {done.stdout}{done.stderr}"
