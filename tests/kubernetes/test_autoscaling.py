"""The processors' autoscaling signal (docs/kubernetes.md): KEDA's ScaledObject and the HPA example target
the processor Deployment, and their Prometheus queries, evaluated by promtool over the series several
processors report, count each waiting job once."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import yaml

from tests.services._common import unavailable

from .tools import ROOT, Tools, find

VALUES = ROOT / "deploy" / "kubernetes" / "values"
DOC = ROOT / "docs" / "kubernetes.md"


def test_off_by_default(tools: Tools) -> None:
    objects = tools.template()
    assert not {"ScaledObject", "HorizontalPodAutoscaler"} & {o["kind"] for o in objects}
    assert find(objects, "Deployment", "-processor")["spec"]["replicas"] == 1


def test_keda_scales_the_processor_deployment(tools: Tools) -> None:
    objects = tools.template(VALUES / "autoscaling-keda.yaml")
    processor = find(objects, "Deployment", "-processor")
    assert "replicas" not in processor["spec"]  # KEDA's HPA owns it
    scaled = find(objects, "ScaledObject")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {"name": processor["metadata"]["name"]}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 8)
    waiting, oldest = spec["triggers"]
    assert (waiting["type"], waiting["metricType"], waiting["metadata"]["threshold"]) == (
        "prometheus",
        "AverageValue",
        "5",
    )
    assert (oldest["type"], oldest["metricType"], oldest["metadata"]["threshold"]) == (
        "prometheus",
        "Value",
        "120",
    )
    for trigger in (waiting, oldest):
        assert trigger["metadata"]["serverAddress"] == "http://prometheus-operated.monitoring.svc:9090"
        assert 'job="jobs-api"' in trigger["metadata"]["query"]


def test_hpa_example_scales_the_processor_deployment(tools: Tools) -> None:
    objects = tools.template(VALUES / "autoscaling-hpa.yaml")
    processor = find(objects, "Deployment", "-processor")
    assert "replicas" not in processor["spec"]
    hpa = find(objects, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": processor["metadata"]["name"],
    }
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 6)
    waiting, oldest = (m["external"] for m in hpa["metrics"])
    assert waiting["metric"] == {
        "name": "dcm_queue_waiting_jobs",
        "selector": {"matchLabels": {"job": "jobs-api"}},
    }
    assert waiting["target"] == {"type": "AverageValue", "averageValue": "5"}
    assert oldest["metric"]["name"] == "dcm_queue_oldest_age_seconds"
    assert oldest["target"] == {"type": "Value", "value": "120"}


def test_keda_and_hpa_together_are_refused(tools: Tools) -> None:
    both = [
        "--set",
        "processors.autoscaling.keda.enabled=true",
        "--set",
        "processors.autoscaling.hpa.enabled=true",
    ]
    done = tools.run("template", "dcm", str(ROOT / "deploy/kubernetes/dcm-otel"), *both, check=False)
    assert done.returncode != 0
    assert "enable keda or hpa, not both" in done.stderr


def test_queries_count_each_waiting_job_once(tools: Tools, tmp_path: Path) -> None:
    """Two processors report the same queue (each observes the database): 60 pending + 41 retrying jobs
    on one host and 7 pending on another are 108 waiting jobs, not 216; running jobs and another service's
    queue do not count; the oldest age is the largest any host reports. The same for KEDA's queries and the
    prometheus-adapter rules docs/kubernetes.md gives for the HPA."""
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool (Debian prometheus) is not installed: scripts/install-services.sh")
    waiting, oldest = find(tools.template(VALUES / "autoscaling-keda.yaml"), "ScaledObject")["spec"][
        "triggers"
    ]
    adapter = {rule["name"]["as"]: rule["metricsQuery"] for rule in documented_adapter_rules()}
    matchers = 'job="jobs-api"'
    queries = {  # record -> (expression, expected labels, expected value)
        "keda:waiting_jobs": (waiting["metadata"]["query"], "{}", 108),
        "keda:oldest_age_seconds": (oldest["metadata"]["query"], "{}", 240),
        "adapter:waiting_jobs": (
            adapter["dcm_queue_waiting_jobs"].replace("<<.LabelMatchers>>", matchers),
            '{job="jobs-api"}',
            108,
        ),
        "adapter:oldest_age_seconds": (
            adapter["dcm_queue_oldest_age_seconds"].replace("<<.LabelMatchers>>", matchers),
            '{job="jobs-api"}',
            240,
        ),
    }
    rules = [{"record": record, "expr": expr} for record, (expr, _, _) in queries.items()]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "scaling", "rules": rules}]}))
    series = [_series("dcm_queue_depth", "other-app", "proc-c", "docker-1", 1000, dcm_job_status="pending")]
    series.append(_series("dcm_queue_oldest_age_seconds", "other-app", "proc-c", "docker-1", 9999))
    for instance in ("proc-a", "proc-b"):
        for host, status, value in (
            ("docker-1", "pending", 60),
            ("docker-1", "retrying", 41),
            ("docker-2", "pending", 7),
            ("docker-1", "running", 500),
        ):
            series.append(
                _series("dcm_queue_depth", "jobs-api", instance, host, value, dcm_job_status=status)
            )
        series.append(_series("dcm_queue_oldest_age_seconds", "jobs-api", instance, "docker-1", 240))
        series.append(_series("dcm_queue_oldest_age_seconds", "jobs-api", instance, "docker-2", 30))
    expectations = [
        {"expr": record, "eval_time": "5m", "exp_samples": [{"labels": record + labels, "value": value}]}
        for record, (_, labels, value) in queries.items()
    ]
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": expectations}],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    done = subprocess.run(
        [promtool, "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def documented_adapter_rules() -> list[dict[str, Any]]:
    """The prometheus-adapter `rules.external` of docs/kubernetes.md."""
    (block,) = re.findall(r"```yaml\n( *rules:\n.*?)```", DOC.read_text(), re.S)
    rules: list[dict[str, Any]] = yaml.safe_load(textwrap.dedent(block))["rules"]["external"]
    return rules


def _series(metric: str, job: str, instance: str, host: str, value: int, **labels: str) -> dict[str, str]:
    extra = "".join(f', {k}="{v}"' for k, v in labels.items())
    selector = (
        f'job="{job}", instance="{instance}", dcm_host_name="{host}", dcm_executor_type="docker"{extra}'
    )
    return {
        "series": f"{metric}{{{selector}}}",
        "values": f"{value}x10",
    }
