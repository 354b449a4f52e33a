"""Configuration: precedence, derived defaults, and errors naming the key, the value and what is allowed."""

from __future__ import annotations

import pytest

from dcm_otel.config import SECRET_KEY_WORDS, Config, ConfigError, load_config


def test_defaults_are_the_embedded_setup() -> None:
    config = load_config({}, {})
    assert config.metrics_exporter == ("prometheus",)
    assert config.traces_exporter == ("none",)
    assert config.logs_exporter == ("none",)
    assert config.metrics_path == "/metrics"
    assert not config.otlp_configured


def test_an_endpoint_switches_otlp_on_for_every_signal() -> None:
    config = load_config({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert config.traces_exporter == ("otlp",)
    assert config.logs_exporter == ("otlp",)
    assert config.metrics_exporter == ("prometheus", "otlp")
    assert config.otlp_endpoint == "http://127.0.0.1:4318"


def test_a_per_signal_endpoint_also_switches_otlp_on() -> None:
    config = load_config({}, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    assert config.otlp_configured
    assert config.otlp_endpoint is None
    assert config.traces_exporter == ("otlp",)


def test_settings_win_over_environment_which_wins_over_defaults() -> None:
    env = {
        "OTEL_SERVICE_NAME": "from-env",
        "OTEL_TRACES_EXPORTER": "console",
        "DJANGO_SETTINGS_MODULE": "x.y",
    }
    config = load_config({"service_name": "from-settings"}, env)
    assert config.service_name == "from-settings"
    assert config.traces_exporter == ("console",)
    assert load_config({}, {"DJANGO_SETTINGS_MODULE": "mysite.settings"}).service_name == "mysite"
    assert load_config({}, {}).service_name == Config().service_name


def test_environment_formats_are_parsed() -> None:
    config = load_config(
        {},
        {
            "OTEL_RESOURCE_ATTRIBUTES": "team=jobs, region = eu",
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=abc",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
            "OTEL_METRIC_EXPORT_INTERVAL": "5000",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.25",
            "OTEL_SDK_DISABLED": "TRUE",
            "OTEL_METRICS_EXPORTER": "prometheus, otlp",
        },
    )
    assert config.resource_attributes == {"team": "jobs", "region": "eu"}
    assert config.otlp_headers == {"api-key": "abc"}
    assert config.otlp_timeout == 2.5
    assert config.metric_export_interval == 5.0
    assert config.sampler == "parentbased_traceidratio"
    assert config.sampler_arg == 0.25
    assert config.sdk_disabled is True
    assert config.metrics_exporter == ("prometheus", "otlp")


def test_http_known_methods_replace_the_defaults_case_sensitively() -> None:
    assert load_config({}, {}).http_known_methods == frozenset(
        ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY")
    )
    env = {"OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS": "GET, FOO,purge"}
    assert load_config({}, env).http_known_methods == {"GET", "FOO", "purge"}  # not upper-cased
    # Settings win over the variable, as for every key; a list or the comma-separated form.
    assert load_config({"http_known_methods": ["PROPFIND"]}, env).http_known_methods == {"PROPFIND"}
    assert load_config({"http_known_methods": "GET,M-SEARCH"}, {}).http_known_methods == {"GET", "M-SEARCH"}


@pytest.mark.parametrize(
    ("settings", "env", "key", "allowed"),
    [
        ({"traces_exporter": "jaeger"}, {}, "DCM_OTEL['traces_exporter']", "otlp, console, none"),
        ({}, {"OTEL_METRICS_EXPORTER": "statsd"}, "OTEL_METRICS_EXPORTER", "prometheus, otlp, console, none"),
        ({"otlp_endpoint": "localhost:4317"}, {}, "DCM_OTEL['otlp_endpoint']", "http:// or https:// URL"),
        ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://:99999"}, "OTEL_EXPORTER_OTLP_ENDPOINT", "URL"),
        ({}, {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "ftp://x"}, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "URL"),
        ({"otlp_protocol": "thrift"}, {}, "DCM_OTEL['otlp_protocol']", "grpc, http/protobuf"),
        ({}, {"OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG", "from 0 to 1"),
        ({}, {"OTEL_SDK_DISABLED": "yes"}, "OTEL_SDK_DISABLED", "true or false"),
        ({}, {"OTEL_EXPORTER_OTLP_TIMEOUT": "1.5s"}, "OTEL_EXPORTER_OTLP_TIMEOUT", "milliseconds"),
        ({"otlp_timeout": -1}, {}, "DCM_OTEL['otlp_timeout']", "positive number"),
        ({"metrics_path": "metrics"}, {}, "DCM_OTEL['metrics_path']", "starting with '/'"),
        ({"otlp_headers": "novalue"}, {}, "DCM_OTEL['otlp_headers']", "key=value"),
        ({"tracez": True}, {}, "DCM_OTEL['tracez']", "one of service_name"),
        ({"traces_exporter": "none,otlp"}, {}, "DCM_OTEL['traces_exporter']", "'none' alone"),
        ({}, {"DCM_OTEL_PROFILING": "on"}, "DCM_OTEL_PROFILING", "true or false"),
        ({"profile_threshold": 0}, {}, "DCM_OTEL['profile_threshold']", "a positive number of seconds"),
        ({}, {"DCM_OTEL_PROFILE_THRESHOLD": "1s"}, "DCM_OTEL_PROFILE_THRESHOLD", "a positive number"),
        ({"profile_db_queries": 0}, {}, "DCM_OTEL['profile_db_queries']", "an integer of at least 1"),
        ({"profile_interval": 0.0001}, {}, "DCM_OTEL['profile_interval']", "seconds from 0.001 to 1"),
        ({}, {"DCM_OTEL_PROFILE_INTERVAL": "5"}, "DCM_OTEL_PROFILE_INTERVAL", "seconds from 0.001 to 1"),
        ({"profile_dir": "profiles"}, {}, "DCM_OTEL['profile_dir']", "an absolute directory path"),
        ({"profile_max_count": -1}, {}, "DCM_OTEL['profile_max_count']", "an integer of at least 1"),
        ({"profile_max_bytes": 100}, {}, "DCM_OTEL['profile_max_bytes']", "an integer of at least 10000"),
        ({"http_known_methods": []}, {}, "DCM_OTEL['http_known_methods']", "one or more"),
        ({"http_known_methods": ["GET", "BAD METHOD"]}, {}, "DCM_OTEL['http_known_methods']", "RFC 9110"),
        ({"http_known_methods": ["GET", 1]}, {}, "DCM_OTEL['http_known_methods']", "HTTP method tokens"),
        (
            {},
            {"OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS": "GET,,POST"},
            "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS",
            "case-sensitive HTTP method tokens",
        ),
        (
            {},
            {"OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS": "GET,P(ST"},
            "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS",
            "tchar",
        ),
    ],
)
def test_invalid_values_name_key_value_and_allowed(
    settings: dict[str, object], env: dict[str, str], key: str, allowed: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(settings, env)
    (problem,) = info.value.problems
    assert problem.key == key
    message = str(problem)
    assert key in message
    assert allowed in message
    secret = any(word in key.lower() for word in SECRET_KEY_WORDS)
    assert ("'***'" if secret else repr(settings.get(key[10:-2], env.get(key)))) in message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"sampler": "sometimes", "bogus": 1}, {"OTEL_LOGS_EXPORTER": "loki"})
    assert {p.key for p in info.value.problems} == {
        "DCM_OTEL['sampler']",
        "DCM_OTEL['bogus']",
        "OTEL_LOGS_EXPORTER",
    }


def test_dcm_otel_must_be_a_dict() -> None:
    with pytest.raises(ConfigError, match=r"DCM_OTEL=.*a dict"):
        load_config(["otlp"], {})  # type: ignore[arg-type]
