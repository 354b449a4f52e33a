"""``ResourcesInstrumentor``: host and process metrics, and (with container_manager) Docker host probes and
job container sampling, started in the process kind ``resource_metrics`` picks."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Collection
from typing import Any

import wrapt
from opentelemetry import metrics
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from dcm_otel._container_manager import HOOKS, MODELS, POLLS, TERMINAL
from dcm_otel.instrumentation import config_of

from . import job_usage_fields
from .container_usage import ContainerUsage
from .docker_host_probes import HostGauges
from .host_metrics import HOST_GROUPS, observe_host, observe_process
from .schedule import Monitor

_SCOPE = "dcm_otel.resources"


class ResourcesInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """``instrument(config=..., meter_provider=...)``; ``resource_metrics=...`` overrides the config's
    (``Config()``'s defaults without ``config=``)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("psutil >= 5.9",)

    def _instrument(self, **kwargs: Any) -> None:
        from dcm_otel import __version__

        config = config_of(kwargs)
        where = kwargs.get("resource_metrics", config.resource_metrics)
        self._meter = metrics.get_meter(_SCOPE, __version__, kwargs.get("meter_provider"))
        self._config = config
        self._active = True
        self._lock = threading.Lock()
        self._started = False
        self._monitor: Monitor | None = None
        self._usage: ContainerUsage | None = None
        if "process" in config.host_metrics:
            observe_process(self._meter)
        self._patches: list[tuple[str, str, str, Callable[..., Any]]] = []
        if where == "none":
            return
        self._patches = [
            (*HOOKS["docker.launch"], self._launch),
            (*HOOKS["docker.harvest"], self._harvest),
        ]
        if where == "all":
            self._start()
        else:
            # The processor's first poll (legacy or queue mode) starts monitoring there.
            self._patches += [(*hook, self._first_poll) for hook in POLLS.values()]
        self._patched: set[str] = set()
        for module in {MODELS, *(patch[0] for patch in self._patches)}:
            wrapt.register_post_import_hook(self._patch_module, module)

    def _start(self) -> None:
        """Once per process: host groups now; Docker monitoring once container_manager's models exist."""
        with self._lock:
            if self._started:
                return
            self._started = True
        observe_host(self._meter, [g for g in HOST_GROUPS if g in self._config.host_metrics])
        wrapt.register_post_import_hook(self._start_monitor, MODELS)

    def _start_monitor(self, module: Any) -> None:
        if not self._active or self._monitor is not None:
            return
        self._usage = ContainerUsage(self._meter, self._config.container_stats_interval)
        self._monitor = Monitor(self._config, HostGauges(self._meter), self._usage)
        self._monitor.start()

    def _patch_module(self, module: Any) -> None:
        if not self._active or module.__name__ in self._patched:
            return
        self._patched.add(module.__name__)
        for name, cls, method, wrapper in self._patches:
            if name == module.__name__:
                wrapt.wrap_function_wrapper(module, f"{cls}.{method}", wrapper)

    def _first_poll(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        self._start()
        return wrapped(*args, **kwargs)

    def _launch(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        result = wrapped(*args, **kwargs)
        job = args[0] if args else kwargs.get("job")
        if self._monitor is not None and self._monitor.running and isinstance(result, tuple) and result[0]:
            self._monitor.launched(job, result[1])
        return result

    def _harvest(self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        job = args[0] if args else kwargs.get("job")
        container_id = job.get_execution_identifier() if job is not None else ""
        usage = self._usage.usage(container_id) if self._usage is not None and container_id else None
        if usage is None:
            return wrapped(*args, **kwargs)
        job_usage_fields.apply(job, usage)  # before the terminal save, which ends the job span
        result = wrapped(*args, **kwargs)
        if job.status in TERMINAL and self._usage is not None:
            job_usage_fields.store(job, usage)
            self._usage.forget(container_id)
        return result

    def _uninstrument(self, **kwargs: Any) -> None:
        self._active = False
        if self._monitor is not None:
            self._monitor.stop()
        for name, cls, method, _ in self._patches:
            module = sys.modules.get(name)
            if module is not None:
                unwrap(getattr(module, cls), method)
