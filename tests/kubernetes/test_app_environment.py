"""The environment the chart gives the app and the processors, as the kubelet expands it, is what dcm_otel
accepts at startup (its own settings parsing), and says what the chart means: OTLP to the node's agent,
/metrics scraped from the app only, the token and networks of the scrape."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcm_otel.config import load_config
from dcm_otel.settings_parsing import ConfigError

from .tools import SECRET_VALUE, Tools, container, find, pod_environment, values_id, values_sets


@pytest.mark.parametrize("values", values_sets(), ids=values_id)
def test_dcm_otel_accepts_the_pods_environment(tools: Tools, values: Path | None) -> None:
    objects = tools.template(values)
    app = load_config({}, pod_environment(container(find(objects, "Deployment", "-app"))["env"]))
    processor = load_config({}, pod_environment(container(find(objects, "Deployment", "-processor"))["env"]))
    for config in (app, processor):
        assert config.otlp_endpoint in {"http://10.1.2.3:4318", "http://10.1.2.3:4317"}
        assert config.traces_exporter == config.logs_exporter == ("otlp",)
        assert config.resource_attributes == {
            "k8s.pod.name": "pod-1",
            "k8s.namespace.name": "observability",
            "k8s.node.name": "node-1",
        }
    assert app.metrics_exporter == ("prometheus",)
    assert processor.metrics_exporter == ("otlp",)
    assert app.health.live_path == "/health/"
    if values is not None and values.stem == "autoscaling-keda":
        assert app.metrics_token == SECRET_VALUE


def test_scrape_networks_reach_the_app_and_a_wrong_one_stops_it(tools: Tools) -> None:
    objects = tools.template(None, "--set", "metrics.allowedNetworks={10.0.0.0/8,192.168.1.7}")
    config = load_config({}, pod_environment(container(find(objects, "Deployment", "-app"))["env"]))
    assert [str(n) for n in config.metrics_ips] == ["10.0.0.0/8", "192.168.1.7/32"]
    objects = tools.template(None, "--set", "metrics.allowedNetworks={10.0.0.0/33}")
    with pytest.raises(ConfigError, match="DCM_OTEL_METRICS_IPS"):
        load_config({}, pod_environment(container(find(objects, "Deployment", "-app"))["env"]))
