"""The process-wide lifecycle: one initialisation per process, fork handling, flush at exit.

``init()`` may be called from settings.py (before Django's settings exist), from the app's
``AppConfig.ready`` and from the ``opentelemetry-instrument`` configurator; whichever comes first does the
work and the others find it done.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from dcm_otel.config import Config, ConfigError, load_config
from dcm_otel.process import gunicorn_master, running_under_gunicorn

if TYPE_CHECKING:  # the SDK is imported once the configuration is valid: it rejects some values at import
    from dcm_otel.providers import Telemetry

logger = logging.getLogger("dcm_otel")


@dataclass
class State:
    """What this process initialised. ``telemetry`` is None while waiting for a fork, or when disabled.
    ``from_settings`` is False while only the environment was read (the opentelemetry-instrument launch)."""

    config: Config
    telemetry: Telemetry | None
    from_settings: bool = True
    announced: bool = False


# Keys that shape the providers: fixed once the providers exist.
_PROVIDER_KEYS = (
    "service_name",
    "service_version",
    "environment",
    "resource_attributes",
    "traces_exporter",
    "metrics_exporter",
    "logs_exporter",
    "otlp_endpoint",
    "otlp_protocol",
    "otlp_headers",
    "otlp_timeout",
    "otlp_encoder",
    "otlp_certificate",
    "otlp_client_certificate",
    "otlp_client_key",
    "sampler",
    "sampler_arg",
    "metric_export_interval",
    "metrics_exemplar_filter",
    "multiprocess_dir",
)

_lock = threading.RLock()
_state: State | None = None


def current() -> State | None:
    """The state of this process, or None before :func:`init`."""
    return _state


def init(settings: Mapping[str, object] | None = None, caller: FrameType | None = None) -> State:
    """Initialise telemetry once for this process and return its state.

    With no argument the ``DCM_OTEL`` dict is taken from Django's settings, or, when called at the end of
    settings.py itself (settings not loaded yet), from the calling module's globals. An invalid value
    raises ``ImproperlyConfigured`` naming the key, the value and what is allowed. ``caller`` is the frame
    whose globals hold settings.py's names (default: the caller of this function).
    """
    global _state
    with _lock:
        if _state is not None and _state.from_settings:
            _announce(_state)
            return _state
        from dcm_otel import system_checks

        system_checks.register()
        config = _load_or_raise(
            _dcm_otel_settings(caller or sys._getframe(1)) if settings is None else settings
        )
        if config is None:
            return State(Config(sdk_disabled=True), None)
        if _state is not None:
            return _adopt_settings(_state, config)
        _state = State(config, None)
        _hand_over(_state)
        if config.sdk_disabled:
            logger.info("dcm_otel: OTEL_SDK_DISABLED is true; no telemetry is set up")
            return _state
        if _is_preforking_server_master():
            # gunicorn --preload: exporter threads and service.instance.id belong to each worker.
            os.register_at_fork(after_in_child=_start_in_worker)
            logger.info("dcm_otel: telemetry will start in each worker after fork")
        else:
            _start(_state)
        _instrument(_state)
        return _state


def init_from_environment() -> State:
    """Set up providers from OTEL_* variables alone: under ``opentelemetry-instrument`` this runs before
    Django's settings exist. The later settings-side :func:`init` keeps these providers and applies the
    rest of ``DCM_OTEL``."""
    state = init({})
    state.from_settings = False
    return state


def _adopt_settings(state: State, config: Config) -> State:
    ignored = sorted(key for key in _PROVIDER_KEYS if getattr(config, key) != getattr(state.config, key))
    if ignored:
        logger.warning(
            "dcm_otel: providers were set up from OTEL_* variables by opentelemetry-instrument; "
            "DCM_OTEL keys %s do not apply to them (set the OTEL_* variables instead)",
            ", ".join(ignored),
        )
    previous, state.config = state.config, config
    state.from_settings = True
    if config != previous:
        _hand_over(state)
        _instrument(state, reinstrument=True)
    return state


def _dcm_otel_settings(caller: FrameType) -> Mapping[str, object]:
    from django.conf import settings as django_settings

    if django_settings.configured:
        value: Any = getattr(django_settings, "DCM_OTEL", {})
    else:
        value = caller.f_globals.get("DCM_OTEL", {})
    return value if isinstance(value, Mapping) else {"DCM_OTEL": value}


def _load_or_raise(settings: Mapping[str, object]) -> Config | None:
    """The config, or ImproperlyConfigured; under ``manage.py check`` None, so the check reports it."""
    from django.core.exceptions import ImproperlyConfigured

    try:
        return load_config(settings)
    except ConfigError as exc:
        if sys.argv[1:2] == ["check"]:
            return None
        raise ImproperlyConfigured(f"dcm_otel: {exc}") from None


def _is_preforking_server_master() -> bool:
    return running_under_gunicorn() and gunicorn_master().pid == os.getpid()


def _start_in_worker() -> None:
    if _state is not None and _state.telemetry is None:
        _start(_state)


def _start(state: State) -> None:
    from dcm_otel._sdk import check_features
    from dcm_otel.providers import setup_providers

    check_features()
    telemetry = setup_providers(state.config)
    state.telemetry = telemetry
    _hand_over(state)
    atexit.register(telemetry.shutdown)
    _flush_on_sigterm()
    _announce(state)


def _hand_over(state: State) -> None:
    """The config flows down from here: to what Django and logging build (:mod:`dcm_otel.handover`) and to
    the providers' flush at exit."""
    from dcm_otel import handover

    telemetry = state.telemetry
    handover.hand_over(state.config, telemetry.prometheus if telemetry is not None else None)
    if telemetry is not None:
        telemetry.shutdown_timeout = state.config.shutdown_timeout


def _announce(state: State) -> None:
    """One log line per signal saying where it goes, once Django has configured logging (an ``init()``
    in settings.py runs before that; the instrumentor calls ``init()`` again once the apps are ready)."""
    from django.conf import settings

    if state.announced or state.telemetry is None or not settings.configured:
        return
    state.announced = True
    for signal_name, where in state.telemetry.destinations.items():
        logger.info("dcm_otel: %s -> %s", signal_name, where)


def _flush_on_sigterm() -> None:
    """Python's default SIGTERM ends the process without atexit; turn it into a normal exit so buffered
    telemetry is flushed. A handler the application (or its server) installed is left alone."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    sys.exit(128 + signum)


def _instrument(state: State, reinstrument: bool = False) -> None:
    """Each instrumentor the config switches on gets the config and, once they exist, the providers (under
    ``--preload`` they are made after fork: the instrumentors take the global ones then).

    ``reinstrument``: ``DCM_OTEL`` has been read after the instrumentors were instrumented from the
    environment alone (``opentelemetry-instrument``). Each is uninstrumented and, if still switched on,
    instrumented again with the settings' config, so every non-provider key takes effect under every launch.
    The profiler's sampler (:mod:`dcm_otel.profiling`) follows the config the same way.
    """
    from dcm_otel.instrumentation import INSTRUMENTORS
    from dcm_otel.profiling import sampler

    config, telemetry = state.config, state.telemetry
    providers: dict[str, object] = {}
    if telemetry is not None:
        providers = {"tracer_provider": telemetry.tracer_provider, "meter_provider": telemetry.meter_provider}
    for registered in INSTRUMENTORS:
        wanted = getattr(config, registered.flag)
        if not wanted and registered.module not in sys.modules:  # never imported, so never instrumented
            continue
        instrumentor = registered.load()()
        if instrumentor.is_instrumented_by_opentelemetry:
            if not reinstrument:
                continue
            instrumentor.uninstrument()
        if wanted:
            instrumentor.instrument(config=config, on_apps_ready=init, **providers)
    sampler.configure(config)
