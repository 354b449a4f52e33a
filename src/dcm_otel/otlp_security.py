"""The OTLP exporters' credentials: the headers (a bearer token, an API key) and the TLS files that a
collector with ingest security (docs/collector.md, "Ingest security") asks for, parsed and checked at startup.

The OpenTelemetry exporters read the same ``OTEL_EXPORTER_OTLP_*`` variables themselves but check nothing: a
missing certificate or key file only shows as a failed export per batch (HTTP) or an exception logged once
and a connection without it (gRPC), and a client certificate without its key is silently not sent. Free of
Django and the SDK (settings.py loads it through :mod:`dcm_otel.config`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import unquote

from dcm_otel.settings_parsing import Problem

SIGNALS = ("TRACES", "METRICS", "LOGS")

_PAIR = re.compile(r"^\s*([^=,\s]+)\s*=\s*(.*?)\s*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE = re.compile(r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")
HEADERS_ALLOWED = "HTTP header names (token characters) and values of printable ASCII"
ENV_HEADERS_ALLOWED = (
    "comma-separated name=value pairs, percent-encoded as OTEL_EXPORTER_OTLP_HEADERS is "
    "(e.g. Authorization=Bearer%20<token>), with " + HEADERS_ALLOWED
)


def pairs(raw: object) -> dict[str, str]:
    """``k=v,k2=v2`` (the OTEL_* list format) or a dict of strings."""
    allowed = "a dict of strings or 'key=value,key2=value2'"
    if isinstance(raw, Mapping):
        if not all(isinstance(k, str) and k.strip() and isinstance(v, str) for k, v in raw.items()):
            raise ValueError(allowed)
        return dict(raw)
    if not isinstance(raw, str):
        raise ValueError(allowed)
    result: dict[str, str] = {}
    for item in filter(str.strip, raw.split(",")):
        match = _PAIR.match(item)
        if not match:
            raise ValueError(allowed)
        result[match.group(1)] = match.group(2)
    return result


def headers(raw: object) -> dict[str, str]:
    """:func:`pairs` that HTTP and gRPC can send: token names, printable ASCII values (an API key's shape)."""
    parsed = pairs(raw)
    if not all(_HEADER_NAME.match(k) and _HEADER_VALUE.match(v) for k, v in parsed.items()):
        raise ValueError(HEADERS_ALLOWED)
    return parsed


def env_headers(raw: str) -> dict[str, str]:
    """The variable's form: names and values percent-decoded after splitting, as the specification and the
    official exporters read it (``Bearer%20abc`` is sent as ``Bearer abc``)."""
    try:
        decoded = {unquote(k).strip(): unquote(v).strip() for k, v in pairs(raw).items()}
        return headers(decoded)
    except ValueError:
        raise ValueError(ENV_HEADERS_ALLOWED) from None


def pem_file(block: str) -> Callable[[object], str]:
    """A readable file holding a PEM ``block`` (``CERTIFICATE``, ``PRIVATE KEY``); returns its path."""
    allowed = f"the path of a readable PEM file holding a {block} (-----BEGIN ...{block}-----)"

    def parse(raw: object) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError(allowed)
        path = Path(raw.strip())
        try:
            content = path.read_bytes()
        except OSError as error:
            raise ValueError(f"{allowed}; {error.strerror or error}") from None
        if not re.search(rb"-----BEGIN [A-Z0-9 ]*" + block.encode() + rb"-----", content):
            raise ValueError(f"{allowed}; the file holds none")
        return str(path)

    return parse


CERTIFICATE = pem_file("CERTIFICATE")
PRIVATE_KEY = pem_file("PRIVATE KEY")
# Config key -> (what follows OTEL_EXPORTER_OTLP_[SIGNAL_] in its variable, the parser).
TLS_FILES: dict[str, tuple[str, Callable[[object], str]]] = {
    "otlp_certificate": ("CERTIFICATE", CERTIFICATE),
    "otlp_client_certificate": ("CLIENT_CERTIFICATE", CERTIFICATE),
    "otlp_client_key": ("CLIENT_KEY", PRIVATE_KEY),
}
# The per-signal variables, read by the exporters themselves: checked here, like the per-signal endpoints.
SIGNAL_ENV: dict[str, Callable[[str], object]] = {
    f"OTEL_EXPORTER_OTLP_{signal}_{suffix}": parse
    for signal in SIGNALS
    for suffix, parse in (("HEADERS", env_headers), *TLS_FILES.values())
}


def signal_env_problems(environ: Mapping[str, str]) -> list[Problem]:
    """Each per-signal header or TLS variable that is set and invalid."""
    problems = []
    for name, parse in SIGNAL_ENV.items():
        if environ.get(name, "").strip():
            try:
                parse(environ[name])
            except ValueError as exc:
                problems.append(Problem(name, environ[name], str(exc)))
    return problems


def client_pair_problems(settings: Mapping[str, object], environ: Mapping[str, str]) -> list[Problem]:
    """A client certificate without its key (or a key alone), which the exporters drop without a word: in
    the settings or general variables, and in each signal's variables."""
    sources = []
    for name in ("otlp_client_certificate", "otlp_client_key"):
        variable = f"OTEL_EXPORTER_OTLP_{TLS_FILES[name][0]}"
        if name in settings:
            sources.append((f"DCM_OTEL[{name!r}]", settings[name], name))
        elif environ.get(variable, "").strip():
            sources.append((variable, environ[variable], name))
    problems = []
    if len(sources) == 1:
        [(source, value, name)] = sources
        missing = ({"otlp_client_certificate", "otlp_client_key"} - {name}).pop()
        problems.append(Problem(source, value, f"set together with {missing} (the other half of the pair)"))
    for signal in SIGNALS:
        cert, key = (f"OTEL_EXPORTER_OTLP_{signal}_{s}" for s in ("CLIENT_CERTIFICATE", "CLIENT_KEY"))
        if bool(environ.get(cert, "").strip()) != bool(environ.get(key, "").strip()):
            given, missing = (cert, key) if environ.get(cert, "").strip() else (key, cert)
            problems.append(Problem(given, environ[given], f"set together with {missing}"))
    return problems
