"""The OTLP exporters' headers and TLS files: parsed as the specification says, checked at startup (a missing
file, a file with no PEM block, half a client pair, a malformed header string: key, value, allowed; a
header's value never shown), and handed to the exporters of each protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcm_otel import providers
from dcm_otel.config import Config, ConfigError, load_config
from tests.test_config import test_invalid_values_name_key_value_and_allowed as assert_one_problem

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


@pytest.fixture
def pem(tmp_path: Path) -> dict[str, str]:
    files = {"ca": CERT, "cert": CERT, "key": KEY}
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    return {name: str(tmp_path / name) for name in files}


def test_the_headers_variable_is_percent_decoded_as_the_specification_says() -> None:
    environ = {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc%2Cdef , x-tenant=a%3Db"}
    assert load_config({}, environ).otlp_headers == {"Authorization": "Bearer abc,def", "x-tenant": "a=b"}
    # The settings' own form is taken as written.
    assert load_config({"otlp_headers": {"x": "a%20b"}}, {}).otlp_headers == {"x": "a%20b"}


@pytest.mark.parametrize(
    "name",
    ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS"],
)
@pytest.mark.parametrize("value", ["Authorization", "Authorization=Bearer%0Asecret-1", "bad name=secret-1"])
def test_a_malformed_header_string_is_named_never_shown(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({}, {name: value})
    (problem,) = raised.value.problems
    assert problem.key == name
    message = str(problem)
    assert f"{name}='***' is invalid" in message
    assert "secret-1" not in message
    assert "percent-encoded" in message
    assert "printable ASCII" in message


def test_tls_files_are_read_from_the_variables(pem: dict[str, str]) -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_CERTIFICATE": pem["ca"],
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": pem["cert"],
        "OTEL_EXPORTER_OTLP_CLIENT_KEY": pem["key"],
    }
    config = load_config({}, environ)
    assert (config.otlp_certificate, config.otlp_client_certificate, config.otlp_client_key) == (
        pem["ca"],
        pem["cert"],
        pem["key"],
    )


@pytest.mark.parametrize(
    ("settings", "env", "key", "allowed"),
    [
        (
            {},
            {"OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"},
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "No such file",
        ),
        ({"otlp_certificate": "{key}"}, {}, "DCM_OTEL['otlp_certificate']", "holding a CERTIFICATE"),
        (
            {"otlp_client_key": "{cert}", "otlp_client_certificate": "{cert}"},
            {},
            "DCM_OTEL['otlp_client_key']",
            "PRIVATE KEY",
        ),
        (
            {"otlp_client_certificate": "{cert}"},
            {},
            "DCM_OTEL['otlp_client_certificate']",
            "together with otlp_client_key",
        ),
        (
            {},
            {"OTEL_EXPORTER_OTLP_CLIENT_KEY": "{key}"},
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            "together with otlp_client_certificate",
        ),
        (
            {},
            {"OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE": "{tmp}"},
            "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
            "readable PEM file",
        ),
        (
            {},
            {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": "{cert}"},
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
        ),
        ({"otlp_certificate": 42}, {}, "DCM_OTEL['otlp_certificate']", "the path of a readable PEM file"),
    ],
)
def test_a_wrong_tls_file_stops_startup_naming_key_value_and_allowed(
    pem: dict[str, str],
    tmp_path: Path,
    settings: dict[str, object],
    env: dict[str, str],
    key: str,
    allowed: str,
) -> None:
    places = {**pem, "tmp": str(tmp_path)}
    settings = {k: v.format(**places) if isinstance(v, str) else v for k, v in settings.items()}
    env = {k: v.format(**places) for k, v in env.items()}
    assert_one_problem(settings, env, key, allowed)


def test_http_exporters_get_the_files_and_headers(pem: dict[str, str]) -> None:
    config = Config(
        otlp_endpoint="https://collector:4318",
        otlp_headers={"Authorization": "Bearer abc"},
        otlp_certificate=pem["ca"],
        otlp_client_certificate=pem["cert"],
        otlp_client_key=pem["key"],
    )
    kwargs = providers._otlp_kwargs(config, "traces")
    assert kwargs["endpoint"] == "https://collector:4318/v1/traces"
    assert kwargs["headers"] == {"Authorization": "Bearer abc"}
    assert (kwargs["certificate_file"], kwargs["client_certificate_file"], kwargs["client_key_file"]) == (
        pem["ca"],
        pem["cert"],
        pem["key"],
    )


def test_grpc_exporters_get_credentials_made_from_the_files(pem: dict[str, str]) -> None:
    import grpc

    config = Config(otlp_endpoint="https://collector:4317", otlp_protocol="grpc", otlp_certificate=pem["ca"])
    kwargs = providers._otlp_kwargs(config, "logs")
    assert kwargs["insecure"] is False
    assert isinstance(kwargs["credentials"], grpc.ChannelCredentials)


def test_a_per_signal_variable_wins_over_the_general_setting(
    pem: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exporters read OTEL_EXPORTER_OTLP_<SIGNAL>_* themselves: no argument may override it."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x=1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", pem["ca"])
    config = Config(otlp_endpoint="https://c:4318", otlp_headers={"y": "2"}, otlp_certificate=pem["ca"])
    traces, logs = providers._otlp_kwargs(config, "traces"), providers._otlp_kwargs(config, "logs")
    assert "headers" not in traces
    assert "certificate_file" not in traces
    assert logs["headers"] == {"y": "2"}
    assert logs["certificate_file"] == pem["ca"]


def test_the_exporters_ca_is_not_replaced_by_the_environments_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets REQUESTS_CA_BUNDLE replace a session's own verify; the exporters' session keeps it."""
    import requests

    from dcm_otel.otlp_http_session import ExporterSession, exporter_session

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    url = "https://collector:4318/v1/traces"
    plain, ours = requests.Session(), exporter_session()
    assert isinstance(ours, ExporterSession)
    for session in (plain, ours):
        session.verify = "/etc/dcm/tls/collector-ca.crt"
    assert plain.merge_environment_settings(url, {}, None, None, None)["verify"] != plain.verify  # the bug
    assert ours.merge_environment_settings(url, {}, None, None, None)["verify"] == ours.verify
    ours.verify = True  # no CA given: the environment's bundle, as before
    assert ours.merge_environment_settings(url, {}, None, None, None)["verify"].endswith(
        "ca-certificates.crt"
    )
    # The environment is read once per set of arguments, not on every export.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/elsewhere.crt")
    assert ours.merge_environment_settings(url, {}, None, None, None)["verify"].endswith(
        "ca-certificates.crt"
    )
    assert ours.merge_environment_settings(url + "?x", {}, None, None, None)["verify"] == "/elsewhere.crt"
    # A credential provider gives the exporters a session of its own: none is passed.
    monkeypatch.setenv("OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER", "google")
    assert exporter_session() is None
    assert "session" not in providers._otlp_kwargs(Config(otlp_endpoint="https://c:4318"), "traces")
