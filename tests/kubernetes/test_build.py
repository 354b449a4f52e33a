"""scripts/build-kubernetes-tools.sh: Helm is the pinned release, the CRDs are the operator's, and a second
run reuses the cache."""

from __future__ import annotations

import re
import subprocess

import yaml

from .tools import BUILD_SCRIPT, CrdLoader, Tools


def pinned(name: str) -> str:
    found = re.search(rf"^{name}=(\S+)$", BUILD_SCRIPT.read_text(), re.MULTILINE)
    assert found is not None
    return found.group(1)


def test_helm_is_the_pinned_release(tools: Tools) -> None:
    done = tools.run("version", "--short")
    assert done.stdout.strip() == pinned("HELM_VERSION")


def test_crds_are_the_operators_monitoring_api(tools: Tools) -> None:
    kinds = {}
    for path in tools.crd_dir.glob("*.yaml"):
        crd = yaml.load(path.read_text(), Loader=CrdLoader)
        assert crd["kind"] == "CustomResourceDefinition"
        assert crd["spec"]["group"] == "monitoring.coreos.com"
        kinds[crd["spec"]["names"]["kind"]] = [v["name"] for v in crd["spec"]["versions"] if v["served"]]
        assert crd["metadata"]["annotations"]["controller-gen.kubebuilder.io/version"] == pinned(
            "CONTROLLER_TOOLS_VERSION"
        )
    assert {"ServiceMonitor", "PodMonitor", "PrometheusRule", "Prometheus", "Alertmanager"} <= kinds.keys()
    assert "v1" in kinds["PrometheusRule"]
    assert "v1alpha1" in kinds["AlertmanagerConfig"]


def test_a_second_run_reuses_the_cache(tools: Tools) -> None:
    before = tools.helm.stat().st_mtime_ns
    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == [str(tools.helm), str(tools.crd_dir)]
    assert done.stderr.count(": cached (") == 2
    assert tools.helm.stat().st_mtime_ns == before
