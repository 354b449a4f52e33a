"""The Helm chart (deploy/kubernetes/dcm-otel), rendered offline for every documented values set: Helm's own
strict lint, every object against the Kubernetes 1.37 schema, the Prometheus Operator CRDs and KEDA's model,
and what the objects must say (probes, the collector configs, the gateway the agents resolve, the alert
catalog, the Alertmanager config, the autoscaling queries evaluated by promtool)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dcm_otel.health.settings import HealthSettings
from tests.collector.configs import CONFIG_DIR, env_references
from tests.services._common import unavailable

from .tools import (
    CHART,
    ROOT,
    InvalidObjectError,
    Tools,
    container,
    env_of,
    find,
    validate,
    values_id,
    values_sets,
)

RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
ALERTMANAGER_DIR = ROOT / "deploy" / "alertmanager"
SETS = pytest.mark.parametrize("values", values_sets(), ids=values_id)


def test_docs_list_every_values_set() -> None:
    documented = set(
        re.findall(r"^\| `([a-z-]+\.yaml)` \|", (ROOT / "docs" / "kubernetes.md").read_text(), re.M)
    )
    assert documented == {p.name for p in values_sets() if p is not None}


@SETS
def test_lint_strict(tools: Tools, values: Path | None) -> None:
    args = ["lint", "--strict", str(CHART)] + (["--values", str(values)] if values else [])
    done = tools.run(*args)
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout


@SETS
def test_every_rendered_object_validates(tools: Tools, values: Path | None) -> None:
    objects = tools.template(values)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "DaemonSet", "Service", "ConfigMap", "ServiceMonitor", "PodMonitor"} <= kinds
    assert {"PrometheusRule", "Secret"} <= kinds
    for obj in objects:
        validate(obj, tools.crd_dir)


def test_the_validators_refuse_what_a_cluster_would(tools: Tools) -> None:
    """Each validator is not vacuous: a misspelt field or a wrong type in each kind of object is refused."""
    objects = tools.template(ROOT / "deploy" / "kubernetes" / "values" / "autoscaling-keda.yaml")
    broken: list[dict[str, Any]] = []
    deployment = find(objects, "Deployment", "-app")
    container(deployment)["livenessProbe"]["httpGet"]["paht"] = "/health/"
    broken.append(deployment)
    service = find(objects, "Service", "-gateway")
    service["spec"]["ports"][0]["port"] = "4317"
    broken.append(service)
    monitor = find(objects, "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    broken.append(monitor)
    rule = find(objects, "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"
    broken.append(rule)
    pod_monitor = find(objects, "PodMonitor")
    pod_monitor["metadata"]["labels"]["bad"] = 1
    broken.append(pod_monitor)
    scaled = find(objects, "ScaledObject")
    scaled["spec"]["triggers"][0]["metdata"] = scaled["spec"]["triggers"][0].pop("metadata")
    broken.append(scaled)
    scaled_type = find(
        tools.template(ROOT / "deploy" / "kubernetes" / "values" / "autoscaling-keda.yaml"), "ScaledObject"
    )
    scaled_type["spec"]["maxReplicaCount"] = "many"
    broken.append(scaled_type)
    for obj in broken:
        with pytest.raises(InvalidObjectError, match=obj["kind"]):
            validate(obj, tools.crd_dir)


def test_app_probes_and_scrape_target(tools: Tools) -> None:
    objects = tools.template()
    app = find(objects, "Deployment", "-app")
    main = container(app)
    defaults = HealthSettings()
    assert (
        main["livenessProbe"]["httpGet"]
        == {"path": defaults.live_path, "port": "http"}
        == {
            "path": "/health/",
            "port": "http",
        }
    )
    assert main["readinessProbe"]["httpGet"] == {"path": defaults.ready_path, "port": "http"}
    (port,) = main["ports"]
    service = find(objects, "Service", "-app")
    assert service["spec"]["ports"][0]["targetPort"] == port["name"] == "http"
    assert service["spec"]["selector"].items() <= app["spec"]["template"]["metadata"]["labels"].items()
    monitor = find(objects, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    assert env_of(app)["DCM_OTEL_METRICS_PATH"] == "/metrics"
    # Scraped, so not also sent by OTLP (every figure would reach Prometheus twice).
    assert env_of(app)["OTEL_METRICS_EXPORTER"] == "prometheus"


def test_metrics_token_reaches_the_app_and_the_scrape(tools: Tools) -> None:
    objects = tools.template(
        None, "--set", "metrics.tokenSecret.name=scrape", "--set", "metrics.allowedNetworks={10.0.0.0/8}"
    )
    env = env_of(find(objects, "Deployment", "-app"))
    assert env["DCM_OTEL_METRICS_TOKEN"] == {"secretKeyRef": {"name": "scrape", "key": "token"}}
    assert env["DCM_OTEL_METRICS_IPS"] == "10.0.0.0/8"
    (endpoint,) = find(objects, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["authorization"] == {"type": "Bearer", "credentials": {"name": "scrape", "key": "token"}}


@pytest.mark.parametrize(("protocol", "port"), [("http/protobuf", 4318), ("grpc", 4317)])
def test_app_and_processors_send_otlp_to_their_nodes_agent(tools: Tools, protocol: str, port: int) -> None:
    objects = tools.template(None, "--set", f"otlp.protocol={protocol}")
    agent = find(objects, "DaemonSet", "-agent")
    host_ports = {p["containerPort"]: p["hostPort"] for p in container(agent)["ports"] if "hostPort" in p}
    assert host_ports == {4317: 4317, 4318: 4318}
    for suffix, exporter in (("-app", "prometheus"), ("-processor", "otlp")):
        workload = find(objects, "Deployment", suffix)
        env = env_of(workload)
        names = list(env)
        assert env["K8S_NODE_IP"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
        # $(K8S_NODE_IP) expands only when defined before the variable that uses it.
        assert names.index("K8S_NODE_IP") < names.index("OTEL_EXPORTER_OTLP_ENDPOINT")
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://$(K8S_NODE_IP):{host_ports[port]}"
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == protocol
        assert env["OTEL_METRICS_EXPORTER"] == exporter
        assert env["OTEL_SERVICE_NAME"] == "django-app"
    processor = container(find(objects, "Deployment", "-processor"))
    assert processor["command"] == ["python", "manage.py", "process_container_jobs"]


def test_shared_sources_are_links_not_copies() -> None:
    """Helm reads no file outside the chart: files/ holds links to the one copy of each source, which
    Helm follows (and `helm package` stores as the files' content)."""
    for name, target in {
        "collector": CONFIG_DIR,
        "rules": RULES_DIR,
        "alertmanager": ALERTMANAGER_DIR,
    }.items():
        link = CHART / "files" / name
        assert link.is_symlink(), link
        assert link.resolve() == target.resolve()


def test_collector_config_map_is_collector_config(tools: Tools) -> None:
    objects = tools.template()
    config_map = find(objects, "ConfigMap", "-collector-config")
    assert config_map["data"] == {p.name: p.read_text() for p in sorted(CONFIG_DIR.glob("*.yaml"))}
    agent = container(find(objects, "DaemonSet", "-agent"))
    assert agent["args"] == ["--config=/etc/otelcol/base.yaml", "--config=/etc/otelcol/agent.yaml"]
    mount = next(m for m in agent["volumeMounts"] if m["name"] == "config")
    assert mount["mountPath"] == "/etc/otelcol"


def test_packaged_chart_carries_the_sources(tools: Tools, tmp_path: Path) -> None:
    """A chart package (what a registry serves) holds the linked files' content, not the links."""
    tools.run("package", str(CHART), "--destination", str(tmp_path))
    (package,) = tmp_path.glob("dcm-otel-*.tgz")
    objects = tools.template(None, chart=package)
    assert (
        find(objects, "ConfigMap", "-collector-config")["data"]["agent.yaml"]
        == (CONFIG_DIR / "agent.yaml").read_text()
    )
    assert find(objects, "PrometheusRule")["spec"]["groups"]


def test_gateway_service_is_headless_and_what_the_agents_resolve(tools: Tools) -> None:
    objects = tools.template(None, namespace="telemetry")
    service = find(objects, "Service", "-gateway")
    gateway = find(objects, "Deployment", "-gateway")
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"].items() <= gateway["spec"]["template"]["metadata"]["labels"].items()
    assert (
        not service["spec"]["selector"].items()
        <= find(objects, "DaemonSet", "-agent")["spec"]["template"]["metadata"]["labels"].items()
    )
    agent_env = env_of(find(objects, "DaemonSet", "-agent"))
    assert agent_env["OTELCOL_GATEWAY_HOSTNAME"] == f"{service['metadata']['name']}.telemetry.svc"
    (port,) = service["spec"]["ports"]
    assert str(port["port"]) == agent_env["OTELCOL_GATEWAY_PORT"] == "4317"
    assert port["targetPort"] in {
        p["name"] for p in container(gateway)["ports"] if p["containerPort"] == 4317
    }
    # ... and agent.yaml's load_balancing exporter resolves exactly those two variables by DNS.
    agent_config = yaml.safe_load((CONFIG_DIR / "agent.yaml").read_text())
    for exporter in (v for k, v in agent_config["exporters"].items() if k.split("/")[0] == "load_balancing"):
        dns = exporter["resolver"]["dns"]
        assert dns["hostname"] == "${env:OTELCOL_GATEWAY_HOSTNAME}"
        assert dns["port"].startswith("${env:OTELCOL_GATEWAY_PORT")
    # Every gateway listens on the pod's address, so the resolved pod IPs answer.
    assert env_of(gateway)["OTELCOL_OTLP_GRPC_ENDPOINT"] == "0.0.0.0:4317"
    # Spans go by trace id, so every gateway writes span-metric series of every service: told apart by the
    # pod's name (prometheus.yaml's otelcol_gateway label).
    assert env_of(gateway)["OTELCOL_GATEWAY_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}


@SETS
def test_gateway_gets_every_variable_its_overlays_read(tools: Tools, values: Path | None) -> None:
    gateway = find(tools.template(values), "Deployment", "-gateway")
    files = [arg.removeprefix("--config=/etc/otelcol/") for arg in container(gateway)["args"]]
    assert files[0] == "base.yaml"
    read: dict[str, bool] = {}
    for name in files:
        read.update(env_references(CONFIG_DIR / name))
    env = env_of(gateway)
    missing = [name for name, has_default in read.items() if not has_default and name not in env]
    assert not missing, f"{values_id(values)}: the gateway's {files} read {missing}, which it does not set"
    unread = set(env) - set(read) - {"K8S_NODE_NAME"}
    assert not unread, f"{values_id(values)}: the gateway sets {unread}, which none of {files} reads"


def test_a_missing_backend_variable_fails_the_render(tools: Tools) -> None:
    done = tools.run(
        "template", "dcm", str(CHART), "--set", "gateway.overlays={prometheus,newrelic}", check=False
    )
    assert done.returncode != 0
    assert "NEW_RELIC_LICENSE_KEY, which has no default" in done.stderr


def test_prometheus_rule_is_the_whole_catalog(tools: Tools) -> None:
    rule = find(tools.template(), "PrometheusRule")
    expected = [
        group
        for path in sorted(RULES_DIR.glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    assert rule["spec"]["groups"] == expected
    alerts = {r["alert"] for g in expected for r in g["rules"] if "alert" in r}
    assert {"DcmJobQueueStalled", "DcmJobProcessorHeartbeatMissing", "DcmDockerHostDown"} <= alerts


def test_a_new_rule_file_joins_the_prometheus_rule(tools: Tools, tmp_path: Path) -> None:
    """Any *.yml added to deploy/prometheus/rules is in the PrometheusRule, with no change to the chart."""
    tree = tmp_path / "repo"
    for part in ("deploy", "collector/config"):
        shutil.copytree(ROOT / part, tree / part, symlinks=True)
    new_group = {
        "name": "extra.alerts",
        "rules": [{"alert": "ExtraAlert", "expr": "vector(1) > 2", "for": "1m"}],
    }
    (tree / "deploy/prometheus/rules/zz-extra.yml").write_text(yaml.safe_dump({"groups": [new_group]}))
    rule = find(tools.template(None, chart=tree / "deploy/kubernetes/dcm-otel"), "PrometheusRule")
    assert rule["spec"]["groups"][-1] == new_group
    assert len(rule["spec"]["groups"]) == 1 + sum(
        len(yaml.safe_load(p.read_text())["groups"]) for p in RULES_DIR.glob("*.yml")
    )


def test_alertmanager_secret_is_the_shipped_config(tools: Tools) -> None:
    secret = find(
        tools.template(None, "--set", "prometheusOperator.alertmanagerConfig.credentialsSecret=am-creds"),
        "Secret",
        "-alertmanager",
    )
    data = secret["stringData"]
    templates = sorted((ALERTMANAGER_DIR / "templates").glob("*.tmpl"))
    assert set(data) == {"alertmanager.yaml", *(p.name for p in templates)}
    for path in templates:
        assert data[path.name] == path.read_text().rstrip("\n")
    shipped = (ALERTMANAGER_DIR / "alertmanager.yml").read_text()
    rendered = data["alertmanager.yaml"]
    # Only the two paths the operator mounts elsewhere differ.
    assert rendered == (
        shipped.replace("- templates/*.tmpl", "- /etc/alertmanager/config/*.tmpl")
        .replace("/etc/alertmanager/secrets/", "/etc/alertmanager/secrets/am-creds/")
        .rstrip("\n")
    )
    config = yaml.safe_load(rendered)
    assert config["templates"] == ["/etc/alertmanager/config/*.tmpl"]
    assert config["global"]["smtp_auth_password_file"] == "/etc/alertmanager/secrets/am-creds/smtp-password"
    assert config["route"] == yaml.safe_load(shipped)["route"]


def test_alertmanager_config_passes_amtool(tools: Tools, tmp_path: Path) -> None:
    """The rendered config, as the operator's Alertmanager would read it, passes Alertmanager's own check."""
    amtool = shutil.which("amtool")
    if amtool is None:
        unavailable("amtool (Debian prometheus-alertmanager) is not installed: scripts/install-services.sh")
    data = find(tools.template(), "Secret", "-alertmanager")["stringData"]
    config = tmp_path / "alertmanager.yaml"
    config.write_text(data.pop("alertmanager.yaml").replace("/etc/alertmanager/config/", f"{tmp_path}/"))
    for name, text in data.items():
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [amtool, "check-config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f" - {len(data)} templates\n" in done.stdout, done.stdout


#: Overlays the chart cannot offer yet: they read files (certificates, a refreshed access token) that it does
#: not mount (docs/kubernetes.md, "Not in the chart yet").
NEEDS_FILES = {"tls", "mtls", "bearer-auth", "agent-tls", "googlecloud"}


def test_values_schema_overlays_are_the_collector_overlays() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    allowed = schema["properties"]["gateway"]["properties"]["overlays"]["items"]["enum"]
    assert sorted(allowed) == sorted(
        p.stem for p in CONFIG_DIR.glob("*.yaml") if p.stem not in {"base", "agent", *NEEDS_FILES}
    )
    assert {p.stem for p in CONFIG_DIR.glob("*.yaml")} >= NEEDS_FILES  # the list names real overlays


@pytest.mark.parametrize(
    ("setting", "refusal"),
    [
        (["--set", "app.replicas=two"], "at '/app/replicas': got string, want integer"),
        (["--set", "app.replica=2"], "additional properties 'replica' not allowed"),
        (["--set", "gateway.overlays={prometheus,kafka}"], "at '/gateway/overlays/1'"),
        (["--set", "app.probes.readinessPath=ready"], "at '/app/probes/readinessPath'"),
        (["--set", "otlp.protocol=http"], "at '/otlp/protocol'"),
        (["--set", "processors.autoscaling.keda.enabled=yes"], "at '/processors/autoscaling/keda/enabled'"),
    ],
)
def test_values_schema_refuses_a_wrong_value(tools: Tools, setting: list[str], refusal: str) -> None:
    done = tools.run("template", "dcm", str(CHART), *setting, check=False)
    assert done.returncode != 0
    assert "values don't meet the specifications of the schema" in done.stderr
    assert refusal in done.stderr, done.stderr


def test_values_schema_accepts_every_documented_set() -> None:
    """The same schema as a plain JSON schema: each documented set is valid (Helm merges it with the
    defaults, which are valid too)."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.validate(defaults, schema)
    for values in values_sets()[1:]:
        assert values is not None
        merged = _merge(defaults, yaml.safe_load(values.read_text()))
        jsonschema.validate(merged, schema)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out
