"""One validated configuration object, built from ``settings.DCM_OTEL``, ``OTEL_*`` variables and defaults.

Precedence per key: the ``DCM_OTEL`` dict in settings, then the environment variable, then the default.
Every problem is collected (not just the first) so ``manage.py check`` can report them all, and each
names the key, the value and what is allowed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from string import Formatter
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from dcm_otel.access_control import IpNetwork, parse_networks, parse_token
from dcm_otel.health.settings import HealthSettings, parse_health
from dcm_otel.otlp_security import TLS_FILES, client_pair_problems, env_headers, signal_env_problems
from dcm_otel.otlp_security import headers as _headers
from dcm_otel.otlp_security import pairs as _pairs
from dcm_otel.profiling.settings import absolute_path, sampling_interval
from dcm_otel.settings_parsing import (
    SECRET_KEY_WORDS,
    Choice,
    ConfigError,
    Hook,
    Problem,
    choice,
    hook,
    url_path,
)

__all__ = ["SECRET_KEY_WORDS", "Config", "ConfigError", "Problem", "load_config"]

# Each choice setting's values are defined once, as its type; the tuples validation names derive from it.
TracesExporter = Literal["otlp", "console", "none"]
MetricsExporter = Literal["prometheus", "otlp", "console", "none"]
LogsExporter = Literal["otlp", "console", "none"]
ExemplarFilter = Literal["always_off", "trace_based", "always_on"]
OtlpProtocol = Literal["grpc", "http/protobuf"]
OtlpEncoder = Literal["fast", "official"]  # how http/protobuf payloads are encoded
Sampler = Literal[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
]
ProcessKind = Literal["processor", "all", "none"]  # which process kind observes queue or resource figures
HostMetricGroup = Literal["cpu", "memory", "filesystem", "disk", "network", "process", "none"]

TRACES_EXPORTERS: tuple[TracesExporter, ...] = get_args(TracesExporter)
METRICS_EXPORTERS: tuple[MetricsExporter, ...] = get_args(MetricsExporter)
LOGS_EXPORTERS: tuple[LogsExporter, ...] = get_args(LogsExporter)
EXEMPLAR_FILTERS: tuple[ExemplarFilter, ...] = get_args(ExemplarFilter)
OTLP_PROTOCOLS: tuple[OtlpProtocol, ...] = get_args(OtlpProtocol)
OTLP_ENCODERS: tuple[OtlpEncoder, ...] = get_args(OtlpEncoder)
SAMPLERS: tuple[Sampler, ...] = get_args(Sampler)
QUEUE_METRICS: tuple[ProcessKind, ...] = get_args(ProcessKind)
HOST_METRIC_GROUPS: tuple[HostMetricGroup, ...] = get_args(HostMetricGroup)
# The HTTP conventions' known methods: RFC 9110's, PATCH (RFC 5789) and QUERY; a request with any other is
# reported as _OTHER. ``http_known_methods`` replaces the list (OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS).
DEFAULT_HTTP_KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY")
)
DEFAULT_EXCLUDED_PATHS = ("/health/", "/ready/", "/metrics", "/static/", "/favicon.ico")
# Case-insensitive fragments of the field, attribute and ``KEY=value`` names whose values are masked.
DEFAULT_REDACT_KEYS = (
    "password",
    "passwd",
    "secret",
    "token",
    "key",
    "authorization",
    "cookie",
    "session",
    "credential",
    "env",
)


@dataclass(frozen=True)
class Config:
    """Everything the providers, exporters and instrumentation need, already parsed."""

    service_name: str = "django-app"
    service_version: str | None = None
    environment: str | None = None
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    traces_exporter: tuple[TracesExporter, ...] = ("none",)
    metrics_exporter: tuple[MetricsExporter, ...] = ("prometheus",)
    logs_exporter: tuple[LogsExporter, ...] = ("none",)
    otlp_endpoint: str | None = None
    otlp_protocol: OtlpProtocol = "http/protobuf"
    otlp_headers: Mapping[str, str] = field(default_factory=dict)
    otlp_timeout: float = 10.0
    otlp_encoder: OtlpEncoder = "fast"
    # PEM files (docs/collector.md, "Ingest security"): the CA that signs the collector's certificate, and
    # this app's client certificate and key for a collector that requires mutual TLS.
    otlp_certificate: str | None = None
    otlp_client_certificate: str | None = None
    otlp_client_key: str | None = None
    sampler: Sampler = "parentbased_always_on"
    sampler_arg: float = 1.0
    sdk_disabled: bool = False
    metric_export_interval: float = 60.0
    metrics_exemplar_filter: ExemplarFilter = "always_off"
    metrics_path: str = "/metrics"
    metrics_token: str | None = None  # with metrics_ips unset too, /metrics is open to every caller
    metrics_ips: tuple[IpNetwork, ...] = ()
    multiprocess_dir: str | None = None
    excluded_paths: tuple[str, ...] = DEFAULT_EXCLUDED_PATHS
    http_known_methods: frozenset[str] = DEFAULT_HTTP_KNOWN_METHODS
    request_hook: Callable[..., object] | None = None  # (span, request), the server span just started
    response_hook: Callable[..., object] | None = None  # (span, request, response), before the span ends
    instrument_django: bool = True
    instrument_db: bool = True
    instrument_docker: bool = True
    instrument_jobs: bool = True
    job_trace_propagation: bool = True
    queue_metrics: ProcessKind = "processor"
    db_sqlcommenter: bool = False
    db_repeated_query_threshold: int = 5
    db_hook: Hook | None = None  # db_hook(span, alias, sql), docs/extending.md
    docker_request_hook: Hook | None = None  # docker_request_hook(span, operation, args, kwargs)
    docker_response_hook: Hook | None = None  # docker_response_hook(span, operation, result, error)
    job_hook: Hook | None = None  # job_hook(span, job)
    middleware_spans: bool = False
    health: HealthSettings = field(default_factory=HealthSettings)
    redact_keys: tuple[str, ...] = DEFAULT_REDACT_KEYS
    instrument_resources: bool = True
    resource_metrics: ProcessKind = (
        "processor"  # process kind that probes Docker hosts, samples containers, system.*
    )
    host_metrics: tuple[HostMetricGroup, ...] = HOST_METRIC_GROUPS[:-1]
    docker_probe_interval: float = 15.0
    docker_probe_timeout: float = 5.0
    container_stats_interval: float = 10.0
    otlp_configured: bool = False  # derived: an endpoint is set here or in a per-signal variable
    shutdown_timeout: float = 5.0
    # The trace explorer in the admin (docs/trace-explorer.md): None follows settings.DEBUG.
    trace_explorer: bool | None = None
    trace_explorer_max_traces: int = 500
    trace_explorer_max_bytes: int = 20_000_000
    tracing_url: str | None = None  # e.g. http://jaeger:16686/trace/{trace_id}
    # Security events kept for ``manage.py dcm_audit_report`` (docs/audit.md), newest first within bounds.
    audit_events: bool = True
    audit_max_events: int = 100_000
    audit_max_age_days: int = 90
    # Profiles of slow requests and job cycles (docs/profiles.md), off by default.
    profiling: bool = False
    profile_threshold: float = 1.0
    profile_db_queries: int = 100
    profile_interval: float = 0.005
    profile_dir: str | None = None  # None: dcm_otel-profiles in the system's temporary directory
    profile_max_count: int = 100
    profile_max_bytes: int = 20_000_000


# ---- parsers: each turns a raw value (settings object or env string) into a typed one or raises ValueError


def _str(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("a non-empty string")
    return raw.strip()


def _optional_str(raw: object) -> str | None:
    return None if raw is None else _str(raw)


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError("true or false")


def _positive_float(raw: object) -> float:
    if isinstance(raw, bool):
        raise ValueError("a positive number of seconds")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("a positive number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("a positive number of seconds")
    return value


def _millis_env(raw: str) -> float:
    """OTEL_* durations are integers in milliseconds; the config keeps seconds."""
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("a positive integer number of milliseconds") from None
    if value <= 0:
        raise ValueError("a positive integer number of milliseconds")
    return value / 1000


def _ratio(raw: object) -> float:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("a number from 0 to 1") from None
    if isinstance(raw, bool) or not 0 <= value <= 1:
        raise ValueError("a number from 0 to 1")
    return value


def _exporters(allowed: tuple[Choice, ...]) -> Callable[[object], tuple[Choice, ...]]:
    by_name: dict[str, Choice] = {name: name for name in allowed}

    def parse(raw: object) -> tuple[Choice, ...]:
        items = raw.split(",") if isinstance(raw, str) else raw
        expected = "a comma-separated string or list of " + ", ".join(allowed)
        if not isinstance(items, list | tuple) or not items:
            raise ValueError(expected)
        names = [by_name.get(n) for n in dict.fromkeys(str(i).strip().lower() for i in items)]
        chosen = tuple(n for n in names if n is not None)
        if len(chosen) < len(names) or ("none" in chosen and len(chosen) > 1):
            raise ValueError(expected + " ('none' alone)")
        return chosen

    return parse


def _endpoint(raw: object) -> str:
    allowed = "an http:// or https:// URL with a host, e.g. http://127.0.0.1:4318"
    if not isinstance(raw, str):
        raise ValueError(allowed)
    try:
        parts = urlsplit(raw.strip())
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        raise ValueError(allowed) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValueError(allowed)
    return raw.strip().rstrip("/")


def _paths(raw: object) -> tuple[str, ...]:
    if isinstance(raw, str) or not isinstance(raw, list | tuple):
        raise ValueError("a list of URL path prefixes starting with '/'")
    return tuple(url_path(p) for p in raw)


def _redact_keys(raw: object) -> tuple[str, ...]:
    """Name fragments to mask; a string is the environment's comma-separated form."""
    items = raw.split(",") if isinstance(raw, str) else raw
    allowed = "a list (or comma-separated string) of non-empty name fragments, e.g. password,token"
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) and i.strip() for i in items):
        raise ValueError(allowed)
    return tuple(dict.fromkeys(i.strip().lower() for i in items))


def _positive_int(minimum: int) -> Callable[[object], int]:
    allowed = f"an integer of at least {minimum}"

    def parse(raw: object) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ValueError(allowed)
        return int(_env_integer(minimum, allowed)(str(raw)))  # type: ignore[arg-type]

    return parse


def _tracing_url(raw: object) -> str:
    """A trace's address in another UI: an http(s) URL with ``{trace_id}`` as its one placeholder."""
    allowed = "an http:// or https:// URL with {trace_id} in it, e.g. http://jaeger:16686/trace/{trace_id}"
    if not isinstance(raw, str):
        raise ValueError(allowed)
    try:
        fields = {name for _, name, _, _ in Formatter().parse(raw.strip()) if name is not None}
        _endpoint(raw.replace("{trace_id}", "0"))
    except ValueError:
        raise ValueError(allowed) from None
    if fields != {"trace_id"}:
        raise ValueError(allowed)
    return raw.strip()


# RFC 9110 token: one or more tchar.
_METHOD_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _http_known_methods(raw: object) -> frozenset[str]:
    """The HTTP methods reported as themselves (any other is ``_OTHER``), replacing the defaults. Methods are
    case-sensitive, so none is case-folded; a string is the environment's comma-separated form."""
    items = raw.split(",") if isinstance(raw, str) else raw
    allowed = (
        "a list (or comma-separated string) of one or more case-sensitive HTTP method tokens "
        "(RFC 9110 tchar: letters, digits and !#$%&'*+-.^_`|~), e.g. GET,POST,PURGE"
    )
    if not isinstance(items, list | tuple | set | frozenset) or not items:
        raise ValueError(allowed)
    methods = [i.strip() if isinstance(i, str) else i for i in items]
    if not all(isinstance(m, str) and _METHOD_TOKEN.fullmatch(m) for m in methods):
        raise ValueError(allowed)
    return frozenset(methods)


@dataclass(frozen=True)
class Key:
    """One configuration key: its settings name, its environment variable and how to parse each."""

    name: str
    parse: Callable[[object], Any]
    env: str | None = None
    parse_env: Callable[[str], Any] | None = None


KEYS: tuple[Key, ...] = (
    Key("service_name", _str, "OTEL_SERVICE_NAME"),
    Key("service_version", _optional_str),
    Key("environment", _optional_str, "DCM_OTEL_ENVIRONMENT"),
    Key("resource_attributes", _pairs, "OTEL_RESOURCE_ATTRIBUTES"),
    Key("traces_exporter", _exporters(TRACES_EXPORTERS), "OTEL_TRACES_EXPORTER"),
    Key("metrics_exporter", _exporters(METRICS_EXPORTERS), "OTEL_METRICS_EXPORTER"),
    Key("logs_exporter", _exporters(LOGS_EXPORTERS), "OTEL_LOGS_EXPORTER"),
    Key("otlp_endpoint", _endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT"),
    Key("otlp_protocol", choice(OTLP_PROTOCOLS), "OTEL_EXPORTER_OTLP_PROTOCOL"),
    Key("otlp_headers", _headers, "OTEL_EXPORTER_OTLP_HEADERS", env_headers),
    Key("otlp_timeout", _positive_float, "OTEL_EXPORTER_OTLP_TIMEOUT", _millis_env),
    Key("otlp_encoder", choice(OTLP_ENCODERS), "DCM_OTEL_OTLP_ENCODER"),
    *(Key(name, parse, f"OTEL_EXPORTER_OTLP_{suffix}") for name, (suffix, parse) in TLS_FILES.items()),
    Key("sampler", choice(SAMPLERS), "OTEL_TRACES_SAMPLER"),
    Key("sampler_arg", _ratio, "OTEL_TRACES_SAMPLER_ARG"),
    Key("sdk_disabled", _bool, "OTEL_SDK_DISABLED"),
    Key("metric_export_interval", _positive_float, "OTEL_METRIC_EXPORT_INTERVAL", _millis_env),
    Key("metrics_exemplar_filter", choice(EXEMPLAR_FILTERS), "OTEL_METRICS_EXEMPLAR_FILTER"),
    Key("metrics_path", url_path, "DCM_OTEL_METRICS_PATH"),
    Key("metrics_token", parse_token, "DCM_OTEL_METRICS_TOKEN"),
    Key("metrics_ips", parse_networks, "DCM_OTEL_METRICS_IPS", lambda raw: parse_networks(raw.split(","))),
    Key("multiprocess_dir", _optional_str, "DCM_OTEL_MULTIPROCESS_DIR"),
    Key("excluded_paths", _paths),
    Key("http_known_methods", _http_known_methods, "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS"),
    Key("request_hook", hook),
    Key("response_hook", hook),
    Key("instrument_django", _bool),
    Key("instrument_db", _bool),
    Key("instrument_docker", _bool),
    Key("instrument_jobs", _bool),
    Key("job_trace_propagation", _bool, "DCM_OTEL_JOB_TRACE_PROPAGATION"),
    Key("queue_metrics", choice(QUEUE_METRICS), "DCM_OTEL_QUEUE_METRICS"),
    Key("db_sqlcommenter", _bool, "DCM_OTEL_DB_SQLCOMMENTER"),
    # Below 2 every query would count as an N+1.
    Key("db_repeated_query_threshold", _positive_int(2), "DCM_OTEL_DB_REPEATED_QUERY_THRESHOLD"),
    Key("db_hook", hook, "DCM_OTEL_DB_HOOK"),
    Key("docker_request_hook", hook, "DCM_OTEL_DOCKER_REQUEST_HOOK"),
    Key("docker_response_hook", hook, "DCM_OTEL_DOCKER_RESPONSE_HOOK"),
    Key("job_hook", hook, "DCM_OTEL_JOB_HOOK"),
    Key("middleware_spans", _bool, "DCM_OTEL_MIDDLEWARE_SPANS"),
    Key("health", parse_health),
    Key("redact_keys", _redact_keys, "DCM_OTEL_REDACT_KEYS"),
    Key("instrument_resources", _bool),
    Key("resource_metrics", choice(QUEUE_METRICS), "DCM_OTEL_RESOURCE_METRICS"),
    Key("host_metrics", _exporters(HOST_METRIC_GROUPS), "DCM_OTEL_HOST_METRICS"),
    Key("docker_probe_interval", _positive_float, "DCM_OTEL_DOCKER_PROBE_INTERVAL"),
    Key("docker_probe_timeout", _positive_float, "DCM_OTEL_DOCKER_PROBE_TIMEOUT"),
    Key("container_stats_interval", _positive_float, "DCM_OTEL_CONTAINER_STATS_INTERVAL"),
    Key("shutdown_timeout", _positive_float, "DCM_OTEL_SHUTDOWN_TIMEOUT"),
    Key("trace_explorer", _bool, "DCM_OTEL_TRACE_EXPLORER"),
    Key("trace_explorer_max_traces", _positive_int(1), "DCM_OTEL_TRACE_EXPLORER_MAX_TRACES"),
    Key("trace_explorer_max_bytes", _positive_int(10_000), "DCM_OTEL_TRACE_EXPLORER_MAX_BYTES"),
    Key("tracing_url", _tracing_url, "DCM_OTEL_TRACING_URL"),
    Key("audit_events", _bool, "DCM_OTEL_AUDIT_EVENTS"),
    Key("audit_max_events", _positive_int(100), "DCM_OTEL_AUDIT_MAX_EVENTS"),
    Key("audit_max_age_days", _positive_int(1), "DCM_OTEL_AUDIT_MAX_AGE_DAYS"),
    Key("profiling", _bool, "DCM_OTEL_PROFILING"),
    Key("profile_threshold", _positive_float, "DCM_OTEL_PROFILE_THRESHOLD"),
    Key("profile_db_queries", _positive_int(1), "DCM_OTEL_PROFILE_DB_QUERIES"),
    Key("profile_interval", sampling_interval, "DCM_OTEL_PROFILE_INTERVAL"),
    Key("profile_dir", absolute_path, "DCM_OTEL_PROFILE_DIR"),
    Key("profile_max_count", _positive_int(1), "DCM_OTEL_PROFILE_MAX_COUNT"),
    Key("profile_max_bytes", _positive_int(10_000), "DCM_OTEL_PROFILE_MAX_BYTES"),
)
KEYS_BY_NAME = {k.name: k for k in KEYS}

# Per-signal endpoints are read by the OTLP exporters themselves; we only validate them.
SIGNAL_ENDPOINT_ENV = tuple(f"OTEL_EXPORTER_OTLP_{s}_ENDPOINT" for s in ("TRACES", "METRICS", "LOGS"))


def _env_integer(minimum: int, allowed: str, empty: bool = False) -> Callable[[str], int | None]:
    def parse(raw: str) -> int | None:
        text = raw.strip()
        if empty and not text:
            return None
        try:
            value = int(text)
        except ValueError:
            raise ValueError(allowed) from None
        if value < minimum:
            raise ValueError(allowed)
        return value

    return parse


def _sdk_pairs(raw: str) -> None:
    """``OTEL_RESOURCE_ATTRIBUTES`` as the SDK's own detector also reads it: an item without ``=`` (even a
    blank one) is a warning from the SDK at every provider made."""
    if raw and any("=" not in item for item in raw.split(",")):
        raise ValueError("comma-separated key=value pairs, with no empty item")


_BATCH_SETTING = _env_integer(1, "a positive integer")
_LIMIT = _env_integer(0, "a non-negative integer, or empty for no limit", empty=True)
BATCH_PROCESSORS = ("BSP", "BLRP")  # spans, log records
# Variables the SDK reads by itself, checked here first: on an invalid value it raises at startup (the
# limits even when its trace module is imported) or logs a traceback and uses its default.
SDK_ENV: dict[str, Callable[[str], object]] = {
    "OTEL_RESOURCE_ATTRIBUTES": _sdk_pairs,
    **{
        f"OTEL_{processor}_{name}": _BATCH_SETTING
        for processor in BATCH_PROCESSORS
        for name in ("SCHEDULE_DELAY", "EXPORT_TIMEOUT", "MAX_QUEUE_SIZE", "MAX_EXPORT_BATCH_SIZE")
    },
    **{
        f"OTEL_{name}_LIMIT": _LIMIT
        for name in (
            "ATTRIBUTE_VALUE_LENGTH",
            "ATTRIBUTE_COUNT",
            "SPAN_ATTRIBUTE_VALUE_LENGTH",
            "SPAN_ATTRIBUTE_COUNT",
            "SPAN_EVENT_COUNT",
            "SPAN_LINK_COUNT",
            "EVENT_ATTRIBUTE_COUNT",
            "LINK_ATTRIBUTE_COUNT",
            "LOGRECORD_ATTRIBUTE_COUNT",
            "LOGRECORD_ATTRIBUTE_VALUE_LENGTH",
        )
    },
}


def _sdk_env_problems(environ: Mapping[str, str]) -> list[Problem]:
    """Each SDK variable that is set (even empty: the SDK reads that too) and invalid, and a batch size
    above its queue size, which the SDK's batch processors refuse."""
    problems: list[Problem] = []
    values: dict[str, object] = {}
    for name, parse in SDK_ENV.items():
        if name in environ:
            try:
                values[name] = parse(environ[name])
            except ValueError as exc:
                problems.append(Problem(name, environ[name], str(exc)))
    for processor in BATCH_PROCESSORS:
        batch_key, queue_key = f"OTEL_{processor}_MAX_EXPORT_BATCH_SIZE", f"OTEL_{processor}_MAX_QUEUE_SIZE"
        batch, queue = values.get(batch_key), values.get(queue_key)
        if isinstance(batch, int) and isinstance(queue, int) and batch > queue:
            problems.append(Problem(batch_key, environ[batch_key], f"at most {queue_key} ({queue})"))
    return problems


def load_config(
    settings: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Build the :class:`Config`; raise :class:`ConfigError` listing every invalid key."""
    settings = {} if settings is None else settings
    environ = os.environ if environ is None else environ
    problems: list[Problem] = []
    if not isinstance(settings, Mapping):
        raise ConfigError([Problem("DCM_OTEL", settings, "a dict")])
    for unknown in sorted(set(map(str, settings)) - KEYS_BY_NAME.keys()):
        problems.append(
            Problem(f"DCM_OTEL[{unknown!r}]", settings[unknown], "one of " + ", ".join(KEYS_BY_NAME))
        )

    values: dict[str, Any] = {}
    for key in KEYS:
        try:
            if key.name in settings:
                source = f"DCM_OTEL[{key.name!r}]"
                raw: object = settings[key.name]
                values[key.name] = key.parse(raw)
            elif key.env and environ.get(key.env, "").strip():
                source, raw = key.env, environ[key.env]
                values[key.name] = (key.parse_env or key.parse)(raw)
        except ConfigError as exc:  # a dict-valued key (``health``) names its own sub-keys
            problems.extend(exc.problems)
        except ValueError as exc:
            problems.append(Problem(source, raw, str(exc)))
    for name in SIGNAL_ENDPOINT_ENV:
        if environ.get(name, "").strip():
            try:
                _endpoint(environ[name])
            except ValueError as exc:
                problems.append(Problem(name, environ[name], str(exc)))
    problems += signal_env_problems(environ) + client_pair_problems(settings, environ)
    reported = {problem.key for problem in problems}
    problems += [problem for problem in _sdk_env_problems(environ) if problem.key not in reported]
    if problems:
        raise ConfigError(problems)
    return _with_derived_defaults(values, environ)


def _with_derived_defaults(values: dict[str, Any], environ: Mapping[str, str]) -> Config:
    """Defaults that depend on other keys: OTLP export is switched on by configuring an endpoint."""
    otlp = "otlp_endpoint" in values or any(environ.get(n, "").strip() for n in SIGNAL_ENDPOINT_ENV)
    values.setdefault("traces_exporter", ("otlp",) if otlp else ("none",))
    values.setdefault("logs_exporter", ("otlp",) if otlp else ("none",))
    values.setdefault("metrics_exporter", ("prometheus", "otlp") if otlp else ("prometheus",))
    if "service_name" not in values and environ.get("DJANGO_SETTINGS_MODULE"):
        values["service_name"] = environ["DJANGO_SETTINGS_MODULE"].split(".")[0]
    health = values.get("health")
    if health is not None and "excluded_paths" not in values:  # moved health endpoints stay untraced
        paths = (*DEFAULT_EXCLUDED_PATHS, health.live_path, health.ready_path)
        values["excluded_paths"] = tuple(dict.fromkeys(paths))
    return Config(**values, otlp_configured=otlp)
