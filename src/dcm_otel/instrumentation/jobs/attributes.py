"""What the jobs instrumentation emits: metric names and attribute keys are public API (docs/metrics.md)."""

from __future__ import annotations

from dcm_otel._container_manager import JobStatus

TRANSITIONS = "dcm.job.transitions"
DURATION = "dcm.job.duration"
WAIT_TIME = "dcm.job.queue.wait_time"
RETRIES = "dcm.job.retries"
QUEUE_DEPTH = "dcm.queue.depth"
QUEUE_OLDEST_AGE = "dcm.queue.oldest_age"
LAST_POLL_TIME = "dcm.processor.last_poll_time"

STATUS = "dcm.job.status"
PREVIOUS_STATUS = "dcm.job.previous_status"
RESULT = "dcm.job.result"
HOST_NAME = "dcm.host.name"
EXECUTOR_TYPE = "dcm.executor.type"
PROCESSOR_MODE = "dcm.processor.mode"
# The job's image, on dcm.job.duration and dcm.job.queue.wait_time (the cost per job and the baselines per
# image, docs/metrics.md): as bounded as the container.* metrics' same attribute, the images an installation
# runs.
JOB_IMAGE = "container.image.name"

# Span-only attributes: unbounded values never go on metrics.
JOB_ID = "dcm.job.id"
JOB_NAME = "dcm.job.name"
JOB_EXIT_CODE = "dcm.job.exit_code"
JOB_ERROR = "dcm.job.error"
JOB_MAX_MEMORY = (
    "dcm.job.max_memory_usage"  # the job's usage fields, filled by dcm_otel.instrumentation.resource_usage
)
JOB_CPU_PERCENT = "dcm.job.cpu_usage_percent"

#: Terminal statuses and the result each one means.
RESULTS: dict[str, str] = {
    JobStatus.COMPLETED: "success",
    JobStatus.FAILED: "failure",
    JobStatus.TIMEOUT: "timeout",
    JobStatus.CANCELLED: "cancelled",
}
#: The creator's span context, kept in ``ContainerJob.executor_metadata`` so the run can link to it.
CREATOR_CONTEXT_KEY = "otel_creator_context"
#: The run span's own context, stored at launch so that a process harvesting the job exports the span with
#: the ids the container got in ``TRACEPARENT``.
RUN_CONTEXT_KEY = "otel_run_context"
