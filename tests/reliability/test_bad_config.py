"""(Issue 12.6) Every value of every ``DCM_OTEL`` key, of every variable dcm_otel reads and of the SDK-read
variables that made the SDK raise or warn (``config.SDK_ENV``) either starts telemetry, or is refused by
dcm_otel's own error naming the key, the value and what is allowed: never an exception (or a logged
warning or traceback) from the SDK. Hypothesis draws
arbitrary values and values close to the valid ones; example counts are bounded to keep the suite fast."""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcm_otel import providers
from dcm_otel.config import KEYS, SDK_ENV, SIGNAL_ENDPOINT_ENV, Config, ConfigError, Problem, load_config
from dcm_otel.health.settings import _PARSERS as HEALTH_KEYS
from dcm_otel.telemetry_resource import build_resource
from tests.project_factory import write_project
from tests.test_init import ONE_LINE, manage

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENV_NAMES = sorted({k.env for k in KEYS if k.env} | set(SIGNAL_ENDPOINT_ENV) | set(SDK_ENV))

# Words and shapes the valid values are made of, so that drawn values are often valid or nearly so.
WORDS = [
    "otlp", "prometheus", "console", "none", "grpc", "http/protobuf", "always_on", "traceidratio",
    "parentbased_always_off", "trace_based", "processor", "all", "cpu", "memory", "true", "false", "unset",
    "0", "1", "-1", "0.5", "1.5", "2048", "64", "1e3", "nan", "inf", "", " ", "k=v", "a=b,c=d", "=", "/",
    "/metrics", "/x y", "password", "1_000", "0x10",
]  # fmt: skip
ENDPOINTS = st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["http", "https", "ftp", ""]),
    st.sampled_from(["127.0.0.1", "localhost", "[::1]", "", "a b", "[::1"]),
    st.sampled_from(["", ":", ":0", ":4318", ":65536", ":-1", ":x"]),
    st.sampled_from(["", "/", "/v1", "?q", "#f"]),
)
# What a process environment can hold: no NUL, no lone surrogates.
ENV_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=24)
WORD_TEXT = st.one_of(
    st.sampled_from(WORDS),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(",".join),
    st.integers(-10, 10**7).map(str),
    ENDPOINTS,
)
ENV_VALUES = st.one_of(WORD_TEXT, ENV_TEXT)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.sampled_from(WORDS), ENDPOINTS
)
SETTING_VALUES = st.one_of(
    SCALARS,
    st.text(max_size=20),
    st.lists(st.one_of(st.sampled_from(WORDS), st.integers(), st.none()), max_size=3),
    st.dictionaries(st.sampled_from(WORDS), st.one_of(st.sampled_from(WORDS), st.integers()), max_size=3),
)
HEALTH_VALUES = st.one_of(
    SETTING_VALUES,
    st.dictionaries(st.sampled_from([*HEALTH_KEYS, "nope"]), SETTING_VALUES, max_size=3),
)


class _Tracebacks(logging.Handler):
    """Records the SDK's and the exporters' warnings, errors and logged exceptions."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def sdk_complaints() -> Iterator[list[logging.LogRecord]]:
    handler = _Tracebacks()
    root = logging.getLogger("opentelemetry")
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)


def start(config: Config) -> None:
    """Make the providers and exporters the config names (not set globally), then shut them down: what the
    SDK refuses raises here or logs. Nothing is recorded, so nothing is exported. The snapshot directory is
    a temporary one, not a drawn path."""
    with tempfile.TemporaryDirectory() as directory:
        config = dataclasses.replace(config, multiprocess_dir=directory)
        resource = build_resource(config)
        tracer_provider = providers._tracer_provider(config, resource, [])
        meter_provider, endpoint = providers._meter_provider(config, resource, [])
        logger_provider = providers._logger_provider(config, resource, [])
        for provider in (tracer_provider, meter_provider, logger_provider):
            provider.shutdown()
        if endpoint is not None:
            endpoint.shutdown()


def check(settings_dict: Mapping[str, object], environ: Mapping[str, str]) -> None:
    """Either dcm_otel's ConfigError naming each key and what it allows, or a start with no SDK complaint."""
    with mock.patch.dict(os.environ, environ, clear=True), sdk_complaints() as complaints:
        try:
            config = load_config(settings_dict, os.environ)
        except ConfigError as exc:
            refused: list[Problem] = exc.problems
        else:
            refused = []
            start(config)
    assert not complaints, [record.getMessage() for record in complaints]
    for problem in refused:
        assert [k for k in (*settings_dict, *environ) if k in problem.key], f"{problem} names no given key"
        assert problem.allowed
        assert str(problem).startswith(problem.key + "=")


@pytest.mark.parametrize("key", [k.name for k in KEYS if k.name != "health"])
@EXAMPLES
@given(value=SETTING_VALUES)
def test_every_setting_value_starts_or_is_refused_by_name(key: str, value: Any) -> None:
    check({key: value}, {})


@EXAMPLES
@given(value=HEALTH_VALUES)
def test_every_health_setting_starts_or_is_refused_by_name(value: Any) -> None:
    check({"health": value}, {})


@pytest.mark.parametrize("name", ENV_NAMES)
@EXAMPLES
@given(value=ENV_VALUES)
def test_every_environment_value_starts_or_is_refused_by_name(name: str, value: str) -> None:
    check({}, {name: value})


@settings(max_examples=60, deadline=None)
@given(environ=st.dictionaries(st.sampled_from(ENV_NAMES), ENV_VALUES, min_size=2, max_size=5))
def test_combinations_of_variables_start_or_are_refused_by_name(environ: dict[str, str]) -> None:
    """Some values are only invalid together (a batch larger than its queue)."""
    check({}, environ)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "many"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_BLRP_SCHEDULE_DELAY", ""),
    ],
)
def test_a_variable_only_the_sdk_reads_stops_startup_with_our_error(
    tmp_path: Path, name: str, value: str
) -> None:
    """The SDK raised these at import or when its processors were made; the one line reports them first."""
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    result = manage(project, "migrate", **{name: value, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: dcm_otel: {name}={value!r} is invalid" in result.stderr
    assert "opentelemetry/sdk" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("settings_dict", "environ"),
    [
        ({"metrics_token": "short-secret-1"}, {}),
        ({"health": {"details_token": "short-secret-1"}}, {}),
        ({}, {"OTEL_EXPORTER_OTLP_HEADERS": "api-key=short-secret-1\x7f"}),
    ],
)
def test_an_invalid_secret_is_named_never_shown(
    settings_dict: dict[str, Any], environ: dict[str, str]
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(settings_dict, environ)
    assert "short-secret-1" not in str(error.value)
    assert "=***" in str(error.value).replace("'", "")
