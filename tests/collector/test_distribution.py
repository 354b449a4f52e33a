"""The built distribution against the shipped configs: it holds exactly the components they use, every
combination docs/collector.md documents passes `validate`, a broken config fails with the collector's own
message, and every environment variable the configs read is documented."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .configs import (
    BUILDER_CONFIG,
    DOC,
    SAMPLE_ENV,
    config_files,
    documented_combinations,
    env_references,
    validate,
)

KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")


def used_components() -> dict[str, set[str]]:
    """Component types (the part of an id before "/") that the configs define, by kind."""
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for path in config_files():
        document = yaml.safe_load(path.read_text())
        for kind in KINDS:
            used[kind].update(component_id.split("/")[0] for component_id in document.get(kind) or {})
    return used


def built_components(binary: Path) -> dict[str, set[str]]:
    """What `dcm-otelcol components` says the binary holds, by kind."""
    done = subprocess.run([str(binary), "components"], capture_output=True, text=True, timeout=60, check=True)
    listing = yaml.safe_load(done.stdout)
    return {kind: {entry["name"] for entry in listing.get(kind) or []} for kind in KINDS}


def test_the_distribution_holds_exactly_the_components_the_configs_use(collector_binary: Path) -> None:
    assert built_components(collector_binary) == used_components()


def test_every_module_is_pinned_to_one_collector_release() -> None:
    versions = re.findall(r"^\s+- gomod: (\S+) (v\S+)$", BUILDER_CONFIG.read_text(), re.MULTILINE)
    core = {v for module, v in versions if module.startswith("go.opentelemetry.io/") and v.startswith("v0.")}
    contrib = {v for module, v in versions if "opentelemetry-collector-contrib" in module}
    stable = {v for module, v in versions if v.startswith("v1.")}
    assert len(core) == 1, versions
    assert contrib == core, versions
    # Stable core modules (v1.x) are released with the v0.x ones: v0.N.0 goes with v1.(N-94).0.
    release = int(next(iter(core)).split(".")[1])
    assert stable <= {f"v1.{release - 94}.0"}, versions


DOCUMENTED = documented_combinations()


def test_the_docs_document_every_config_file() -> None:
    documented = {name for combination in DOCUMENTED for name in combination}
    assert documented == {path.stem for path in config_files()}
    assert all(combination[0] == "base" for combination in DOCUMENTED), DOCUMENTED


@pytest.mark.parametrize("combination", DOCUMENTED, ids=["+".join(c) for c in DOCUMENTED])
def test_documented_combination_validates(collector_binary: Path, combination: tuple[str, ...]) -> None:
    done = validate(collector_binary, combination)
    assert done.returncode == 0, done.stderr


def test_a_config_using_the_removed_loki_exporter_fails_validation(
    collector_binary: Path, tmp_path: Path
) -> None:
    """What users copy from old guides: the `loki` exporter, removed from the collector in v0.131."""
    broken = tmp_path / "loki-exporter.yaml"
    broken.write_text(
        "exporters:\n  loki:\n    endpoint: http://loki:3100/loki/api/v1/push\n"
        "service:\n  pipelines:\n    logs/loki:\n      receivers: [otlp]\n      exporters: [loki]\n"
    )
    done = validate(collector_binary, ["base", broken])
    assert done.returncode != 0
    assert "'exporters' unknown type: \"loki\"" in done.stderr, done.stderr


def test_an_unset_endpoint_fails_validation(collector_binary: Path) -> None:
    """Endpoints come from the environment with no default: forgetting one is caught before the start."""
    env = {name: value for name, value in SAMPLE_ENV.items() if name != "NEW_RELIC_OTLP_ENDPOINT"}
    done = validate(collector_binary, ["base", "newrelic"], env=env)
    assert done.returncode != 0
    assert "exporters::otlp_http/newrelic: at least one endpoint must be specified" in done.stderr, (
        done.stderr
    )


def test_every_environment_variable_is_documented_and_secrets_have_no_default() -> None:
    references: dict[str, bool] = {}
    for path in config_files():
        references.update(env_references(path))
    assert set(references) == set(SAMPLE_ENV)
    doc = DOC.read_text()
    assert not [name for name in references if f"`{name}`" not in doc]
    secrets = [name for name in references if name.endswith(("_KEY", "_TOKEN", "_PASSWORD"))]
    assert secrets, references
    assert not [name for name in secrets if references[name]], "a secret with a default value"


def test_no_config_writes_a_secret() -> None:
    """Credentials appear only as ${env:...} references, never as literal header values."""
    for path in config_files():
        for kind in ("exporters", "extensions"):
            for component in (yaml.safe_load(path.read_text()).get(kind) or {}).values():
                for name, value in ((component or {}).get("headers") or {}).items():
                    if name.lower() in {"api-key", "authorization", "dd-api-key"}:
                        assert "${env:" in str(value), (path.name, name)


def test_an_unset_ingest_token_fails_validation(collector_binary: Path) -> None:
    """bearer-auth.yaml never starts open: without the token the collector refuses the config."""
    env = {name: value for name, value in SAMPLE_ENV.items() if name != "OTELCOL_INGEST_TOKEN"}
    done = validate(collector_binary, ["base", "tls", "bearer-auth", "debug"], env=env)
    assert done.returncode != 0
    assert "bearertokenauth/ingest: no bearer token provided" in done.stderr, done.stderr


def test_the_collectors_own_metrics_endpoint_has_no_tls_setting(
    collector_binary: Path, tmp_path: Path
) -> None:
    """Why tls.yaml leaves it on 127.0.0.1 (docs/collector.md, "Ingest security"): should a release take
    the setting, this fails and tls.yaml should use it."""
    with_tls = tmp_path / "telemetry-tls.yaml"
    with_tls.write_text(
        "service:\n  telemetry:\n    metrics:\n      readers:\n        - pull:\n            exporter:\n"
        "              prometheus: {host: 127.0.0.1, port: 8888, tls: {cert_file: /etc/tls/server.crt}}\n"
    )
    done = validate(collector_binary, ["base", "debug", with_tls])
    assert done.returncode != 0
    assert "'readers[0].pull.exporter.prometheus' has invalid keys: tls" in done.stderr, done.stderr
