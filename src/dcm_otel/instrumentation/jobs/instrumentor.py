"""``JobsInstrumentor``: connects the lifecycle receivers and wraps container_manager's executors and
processor. Symmetric: ``_uninstrument`` disconnects and unwraps exactly what ``_instrument`` did."""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection
from functools import partial
from typing import Any

import wrapt
from django.db.models.signals import post_save, pre_save
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from dcm_otel._container_manager import ENVIRONMENT_BUILDERS, JOB_CALLS, JOB_MODEL, MODELS, POLLS
from dcm_otel.health.heartbeat import HeartbeatProvider, heartbeat_provider, set_heartbeat_provider
from dcm_otel.instrumentation import config_of
from dcm_otel.instrumentation.hooks import hook_of
from dcm_otel.logs.redaction import Redactor

from .heartbeat_files import HeartbeatFile, latest_poll
from .lifecycle import Lifecycle
from .processor import Processor
from .queue import QueueGauges
from .spans import JobSpans
from .wrappers import in_job_span, with_trace_context

_SCOPE = "dcm_otel.instrumentation.jobs"


class JobsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Job lifecycle metrics, logs and spans, processor polls and queue gauges for django-container-manager.

    ``instrument(trace_propagation=..., queue_metrics=..., job_hook=...)`` override the
    ``job_trace_propagation``, ``queue_metrics`` and ``job_hook`` of ``config=`` (``Config()``'s defaults
    without it); ``tracer_provider`` /
    ``meter_provider`` like the contrib instrumentors.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("django-container-manager >= 1.0",)

    def _instrument(self, **kwargs: Any) -> None:
        from dcm_otel import __version__

        config = config_of(kwargs)
        propagate = kwargs.get("trace_propagation", config.job_trace_propagation)
        queue_metrics = kwargs.get("queue_metrics", config.queue_metrics)
        tracer = trace.get_tracer(_SCOPE, __version__, kwargs.get("tracer_provider"))
        meter = metrics.get_meter(_SCOPE, __version__, kwargs.get("meter_provider"))
        redactor = Redactor(config.redact_keys)
        spans = JobSpans(tracer, redactor)
        job_hook = hook_of(kwargs, config, "job_hook")
        lifecycle = Lifecycle(meter, spans)
        gauges = QueueGauges(meter)
        if queue_metrics == "all":
            gauges.enable()
        heartbeat = _nothing
        self._heartbeat_provider: HeartbeatProvider | None = None
        if config.multiprocess_dir:
            heartbeat = HeartbeatFile(config.multiprocess_dir).beat
            self._heartbeat_provider = partial(latest_poll, config.multiprocess_dir)
            if heartbeat_provider() is None:  # one the application set wins
                set_heartbeat_provider(self._heartbeat_provider)
        processor = Processor(
            tracer, meter, gauges.enable if queue_metrics == "processor" else _nothing, heartbeat, redactor
        )

        self._patches: list[tuple[str, str, str, Callable[..., Any]]] = [
            *((module, cls, method, in_job_span(spans, job_hook)) for module, cls, method in JOB_CALLS),
            *((*hook, processor.wrapper(mode)) for mode, hook in POLLS.items()),
        ]
        if propagate:
            self._patches += [(m, c, f, with_trace_context) for m, c, f in ENVIRONMENT_BUILDERS]
        self._lifecycle = lifecycle
        self._active = True
        self._patched: set[str] = set()
        for module in {MODELS, *(patch[0] for patch in self._patches)}:
            wrapt.register_post_import_hook(self._patch_module, module)

    def _patch_module(self, module: Any) -> None:
        """Runs when each module is imported (at once if it already is), so nothing is imported early."""
        if not self._active or module.__name__ in self._patched:
            return
        self._patched.add(module.__name__)
        if module.__name__ == MODELS:  # imported only where the app is installed, once the registry loads
            pre_save.connect(
                self._lifecycle.pre_save, sender=getattr(module, JOB_MODEL), weak=False, dispatch_uid=_SCOPE
            )
            post_save.connect(
                self._lifecycle.post_save, sender=getattr(module, JOB_MODEL), weak=False, dispatch_uid=_SCOPE
            )
        for name, cls, method, wrapper in self._patches:
            if name == module.__name__:
                wrapt.wrap_function_wrapper(module, f"{cls}.{method}", wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._active = False
        if self._heartbeat_provider is not None and heartbeat_provider() is self._heartbeat_provider:
            set_heartbeat_provider(None)
        models = sys.modules.get(MODELS)
        if models is not None:
            pre_save.disconnect(sender=getattr(models, JOB_MODEL), dispatch_uid=_SCOPE)
            post_save.disconnect(sender=getattr(models, JOB_MODEL), dispatch_uid=_SCOPE)
        for name, cls, method, _ in self._patches:
            module = sys.modules.get(name)
            if module is not None:
                unwrap(getattr(module, cls), method)


def _nothing() -> None:
    return None
