"""Helm and the schemas the chart's rendered objects are checked against, all offline: Helm and the
Prometheus Operator CRDs built from Go modules by scripts/build-kubernetes-tools.sh (cached), the Kubernetes
1.37 OpenAPI schemas as JSON schemas (the kubernetes-validate package), KEDA's ScaledObject model
(cloudcoil-models-keda, generated from KEDA's CRD)."""

from __future__ import annotations

import copy
import re
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pydantic
import yaml
from cloudcoil.models.keda.v1alpha1 import ScaledObject

from tests.collector.binaries import run_build_script

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "kubernetes" / "dcm-otel"
VALUES_DIR = ROOT / "deploy" / "kubernetes" / "values"
BUILD_SCRIPT = ROOT / "scripts" / "build-kubernetes-tools.sh"
KUBERNETES_VERSION = "1.37"
CRD_GROUP = "monitoring.coreos.com"
POD_FIELDS = {
    "spec.nodeName": "node-1",
    "status.hostIP": "10.1.2.3",
    "metadata.name": "pod-1",
    "metadata.namespace": "observability",
}
SECRET_VALUE = "a-secret-from-a-kubernetes-secret"
ENV_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
GO_LATE_FLAGS = re.compile(r"^(\^)(\(\?[a-zA-Z]+\))")


def values_sets() -> list[Path | None]:
    """Every documented values set; None is the chart's own defaults."""
    return [None, *sorted(VALUES_DIR.glob("*.yaml"))]


def values_id(values: Path | None) -> str:
    return values.stem if values else "defaults"


@dataclass(frozen=True)
class Tools:
    helm: Path
    crd_dir: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.helm), *args], capture_output=True, text=True, timeout=120, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def template(
        self, values: Path | None = None, *extra: str, chart: Path = CHART, namespace: str = "observability"
    ) -> list[dict[str, Any]]:
        args = ["template", "dcm", str(chart), "--namespace", namespace, *extra]
        if values is not None:
            args += ["--values", str(values)]
        return [doc for doc in yaml.safe_load_all(self.run(*args).stdout) if doc]


def build_tools() -> Tools:
    helm, crd_dir = run_build_script(BUILD_SCRIPT)[-2:]
    return Tools(Path(helm), Path(crd_dir))


def find(objects: Sequence[Mapping[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    """The one rendered object of this kind (whose name ends with name_suffix)."""
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"{len(found)} {kind} objects named *{name_suffix}"
    return dict(found[0])


def container(workload: Mapping[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(only)


def env_of(workload: Mapping[str, Any]) -> dict[str, Any]:
    """name -> value (or the valueFrom mapping), in the container's order."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(workload).get("env", [])}


def pod_environment(env: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """A container's variables as the kubelet sets them: `$(NAME)` of an earlier variable expanded, the
    downward-API fields and Secret values given sample values."""
    out: dict[str, str] = {}
    for item in env:
        source = item.get("valueFrom", {})
        if "fieldRef" in source:
            value = POD_FIELDS[source["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in source:
            value = SECRET_VALUE
        else:
            value = ENV_REFERENCE.sub(lambda m: out.get(m.group(1), m.group(0)), str(item["value"]))
        out[item["name"]] = value
    return out


# --- validation ---------------------------------------------------------------------------------------


class InvalidObjectError(Exception):
    """A rendered object that its schema refuses."""


def validate(obj: Mapping[str, Any], crd_dir: Path) -> None:
    """Raise InvalidObjectError unless obj validates: against the Kubernetes schema (strict: unknown fields
    refused, as `kubectl apply --validate=strict` does), its CRD's openAPIV3Schema, or KEDA's model."""
    group = obj["apiVersion"].split("/")[0]
    try:
        if group == CRD_GROUP:
            validate_crd_object(obj, crd_dir)
        elif group == "keda.sh":
            validate_scaled_object(obj)
        else:
            kubernetes_validate.validate(dict(obj), KUBERNETES_VERSION, strict=True)
    except (
        kubernetes_validate.ValidationError,
        jsonschema.ValidationError,
        pydantic.ValidationError,
    ) as error:
        raise InvalidObjectError(f"{obj['kind']} {obj['metadata']['name']}: {error}") from error


def validate_crd_object(obj: Mapping[str, Any], crd_dir: Path) -> None:
    schema = crd_schema(crd_dir, obj["apiVersion"], obj["kind"])
    jsonschema.validate(dict(obj), schema, cls=jsonschema.Draft7Validator)
    kubernetes_validate.validate(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]},
        KUBERNETES_VERSION,
        strict=True,
    )


@cache
def crd_schema(crd_dir: Path, api_version: str, kind: str) -> dict[str, Any]:
    group, version = api_version.split("/")
    for path in crd_dir.glob(f"{group}_*.yaml"):
        crd = yaml.load(path.read_text(), Loader=CrdLoader)
        if crd["spec"]["names"]["kind"] != kind:
            continue
        for served in crd["spec"]["versions"]:
            if served["name"] == version:
                return strict(served["schema"]["openAPIV3Schema"])
    raise LookupError(f"no CRD in {crd_dir} serves {kind} {api_version}")


class CrdLoader(yaml.SafeLoader):
    """YAML 1.1 reads a bare `=` (a relabelling action in the CRDs' enums) as its "value" tag: a string."""


CrdLoader.add_constructor("tag:yaml.org,2002:value", CrdLoader.construct_yaml_str)


def strict(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema with unknown fields refused wherever the API server would prune them (an object with
    `properties` that neither preserves unknown fields nor defines additionalProperties), and Go's regular
    expressions in Python's spelling (an inline flag such as `(?i)` after `^` moves to the front)."""
    out = copy.deepcopy(dict(schema))
    for node in _schemas(out):
        if isinstance(node.get("pattern"), str):
            node["pattern"] = GO_LATE_FLAGS.sub(r"\2\1", node["pattern"])
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
    return out


def _schemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key in {"properties", "patternProperties"}:
                for child in value.values():
                    yield from _schemas(child)
            elif key in {"items", "additionalProperties", "not"}:
                yield from _schemas(value)
            elif key in {"allOf", "anyOf", "oneOf"}:
                for child in value:
                    yield from _schemas(child)


def validate_scaled_object(obj: Mapping[str, Any]) -> None:
    """KEDA publishes no JSON schema on a registry this build reaches; its CRD, as the cloudcoil model
    generated from it, checks every field's type and required fields, and a round trip through it keeps
    every field (a misspelt field would be dropped, so the comparison fails)."""
    model = ScaledObject.model_validate(obj)
    dumped = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    if (dumped["apiVersion"], dumped["kind"], dumped["spec"]) != (
        obj["apiVersion"],
        obj["kind"],
        obj["spec"],
    ):
        raise InvalidObjectError(
            f"fields KEDA's ScaledObject does not have: {obj['spec']} became {dumped['spec']}"
        )
