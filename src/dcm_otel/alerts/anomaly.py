"""Anomaly and trend rules: per-host and per-image baselines that learn what normal looks like (including
the weekly and daily rhythm), alerts when a figure leaves its band for long enough, and ``predict_linear``
alerts that fire before a threshold is crossed. docs/alerting.md ("Anomaly and predictive alerts") explains
the model.

Each baselined signal is a 5 m figure recorded per host or per image (a ``Level``) with no sample while
nothing happened (a quiet night leaves a gap, never a NaN). Its baseline group records, once a minute:

- ``:avg_baseline``: its mean over ``anomaly_baseline_window`` (1 d);
- ``:expected``: its mean in the hour around the same time last week, moved by how much the window's mean
  differs from the same window a week earlier (the level shift since then); the plain window mean while
  there is no week of history;
- ``:stddev_baseline``: its standard deviation around ``:expected`` over the window (the spread the band is
  measured in).
"""

from __future__ import annotations

from dataclasses import dataclass

from dcm_otel.alerts.base import (
    FAILED,
    FINISHED,
    HOSTS_CONTAINERS,
    JOBS_QUEUE,
    OVERVIEW,
    AlertRule,
    Panel,
    Param,
    RecordingGroup,
    RecordingRule,
    min_used,
    trend_params,
)

# A global parameter: the recording rules use it.
BASELINE_WINDOW = Param(
    "anomaly_baseline_window",
    "1d",
    "duration",
    "Window of the anomaly baselines: their mean, the spread around the expected value, and the level shift "
    "against the same window a week earlier.",
)
# The seasonal term: the hour centred on the same time a week ago (the window ends 30 m after it).
SAME_HOUR_LAST_WEEK = "[1h] offset 167h30m"


@dataclass(frozen=True)
class Level:
    """What the job figures are baselined per: an executor host, or an image across hosts (a bad release of
    one image shows on every host it runs on, and a host's figures mix all its images)."""

    prefix: str  # the recording rules' level: ``dcm_host``, ``dcm_image``
    label: str  # the label the figures are kept by, besides ``job``
    subject: str  # the alerts' name for one: ``{{ $labels.dcm_host_name }}``
    where: str  # the jobs of one: ``on executor host {{ $labels.dcm_host_name }}``
    suffix: str  # of the alert names: ``""`` at the host level, ``ByImage``
    failed: str  # series of the jobs that failed or timed out, and of those that finished
    finished: str
    failures_panel: Panel

    @property
    def by(self) -> str:
        return f"job, {self.label}"

    def figure(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def recording(self) -> tuple[RecordingRule, ...]:
        """The three 5 m figures the baselines learn: mean successful run time, failure ratio, mean wait."""
        return (
            _ratio(self.figure(FAILURES), self.by, self.failed, self.finished),
            _ratio(
                self.figure(DURATION),
                self.by,
                'dcm_job_duration_seconds_sum{dcm_job_result="success"}',
                'dcm_job_duration_seconds_count{dcm_job_result="success"}',
            ),
            _ratio(
                self.figure(QUEUE_WAIT),
                self.by,
                "dcm_job_queue_wait_time_seconds_sum",
                "dcm_job_queue_wait_time_seconds_count",
            ),
        )


def _ratio(record: str, by: str, part: str, whole: str) -> RecordingRule:
    """Rate of ``part`` over rate of ``whole`` over 5 m; no sample (not NaN) while nothing was recorded, so
    the baselines built on it skip quiet hours."""
    return RecordingRule(
        record,
        f"sum by ({by}) (rate({part}[5m]))\n/\n(sum by ({by}) (rate({whole}[5m])) > 0)",
    )


HOST = Level(
    "dcm_host",
    "dcm_host_name",
    "{{ $labels.dcm_host_name }}",
    "on executor host {{ $labels.dcm_host_name }}",
    "",
    FAILED,
    FINISHED,
    JOBS_QUEUE(2),
)
# The job transitions have no image: the image level counts runs by result on the run-time histogram.
IMAGE = Level(
    "dcm_image",
    "container_image_name",
    "image {{ $labels.container_image_name }}",
    "with image {{ $labels.container_image_name }}",
    "ByImage",
    'dcm_job_duration_seconds_count{dcm_job_result=~"failure|timeout"}',
    'dcm_job_duration_seconds_count{dcm_job_result=~"success|failure|timeout"}',
    JOBS_QUEUE(9),
)
LEVELS = (HOST, IMAGE)
DURATION, FAILURES, QUEUE_WAIT = (
    "job_duration_seconds:mean_rate5m",
    "job_failures:ratio_rate5m",
    "job_queue_wait_time_seconds:mean_rate5m",
)
MEMORY = "dcm_instance:host_memory_utilization:ratio"


def baseline_name(signal: str, kind: str) -> str:
    """``dcm_host:job_failures:ratio_rate5m`` -> ``dcm_host:job_failures_ratio_rate5m:<kind>``."""
    level, metric, operation = signal.split(":")
    return f"{level}:{metric}_{operation}:{kind}"


def _baseline(signal: str) -> tuple[RecordingRule, ...]:
    """The three baselines of ``signal``. The spread needs a window of history (no alert on the first day,
    while the mean still climbs with it); the seasonal term needs the spread of a week ago, so the mean of a
    week ago it compares with covered a whole window."""
    avg, expected, stddev = (
        baseline_name(signal, k) for k in ("avg_baseline", "expected", "stddev_baseline")
    )
    return (
        RecordingRule(avg, f"avg_over_time({signal}[[[anomaly_baseline_window]]])"),
        RecordingRule(
            expected,
            f"(\n  avg_over_time({signal}{SAME_HOUR_LAST_WEEK})\n  + {avg}\n  - {avg} offset 1w\n)\n"
            f"and {stddev} offset 1w\nor\n{avg}",
        ),
        RecordingRule(
            stddev,
            f"stddev_over_time(({signal} - {expected})[[[anomaly_baseline_window]]:5m])\n"
            f"and {avg} offset [[anomaly_baseline_window]]",
        ),
    )


ANOMALY_RECORDING = (
    # Evaluated once a minute (they read a day and a week back); faster than the 5 m staleness of a sample,
    # so an alert evaluated in between always finds the latest.
    RecordingGroup(
        "dcm-otel.jobs.baseline",
        tuple(
            rule
            for level in LEVELS
            for figure in (DURATION, FAILURES, QUEUE_WAIT)
            for rule in _baseline(level.figure(figure))
        ),
        interval="1m",
    ),
)


def _band(signal: str, *, both_ways: bool = False) -> str:
    """How far ``signal`` is above (or, ``both_ways``, either side of) its expected value, kept only where
    that is more than ``z_score`` standard deviations."""
    distance = f"{signal} - {baseline_name(signal, 'expected')}"
    if both_ways:
        distance = f"abs({distance})"
    return f"{distance} > [[z_score]] * {baseline_name(signal, 'stddev_baseline')}"


Z_SCORE = Param(
    "z_score", 3, "number", "Standard deviations (of the figure around its expected value) the band spans."
)
MIN_JOBS = "Jobs needed in the 5 m the figure is computed over before it counts (low-traffic guard)."


def _anomalies(level: Level) -> tuple[AlertRule, ...]:
    """The anomaly alerts of one level: each figure outside its band, with its floor and low-traffic guard."""
    duration, failures, wait = (level.figure(f) for f in (DURATION, FAILURES, QUEUE_WAIT))
    enough = f"and on ({level.by})\nsum by ({level.by}) "
    return (
        AlertRule(
            f"DcmJobDurationAnomalous{level.suffix}",
            "dcm-otel.anomaly",
            f"{_band(duration, both_ways=True)}\n"
            f"and\nabs({duration} - {baseline_name(duration, 'expected')})"
            f" > [[min_change]] * {baseline_name(duration, 'expected')}\n"
            f"{enough}"
            '(increase(dcm_job_duration_seconds_count{dcm_job_result="success"}[5m])) >= [[min_jobs]]',
            "info",
            "jobs",
            "15m",
            f"Job run times on {level.subject} are unusual",
            f"The mean run time of successful jobs on {level.subject} over 5 m is "
            "{{ $value | humanizeDuration }} away from what its [[anomaly_baseline_window]] baseline and the "
            "same hour last week predict (more than [[z_score]] standard deviations and [[min_change_pct]]).",
            (
                Z_SCORE,
                Param(
                    "min_change",
                    0.25,
                    "ratio",
                    "Smallest change, as a share of the expected value, that fires.",
                ),
                Param("min_jobs", 3, "number", MIN_JOBS),
            ),
            panel=JOBS_QUEUE(9),
        ),
        AlertRule(
            f"DcmJobFailureRatioAnomalous{level.suffix}",
            "dcm-otel.anomaly",
            f"{failures} > {baseline_name(failures, 'expected')} + [[min_increase]]\n"
            f"and\n{_band(failures)}\n"
            f"{enough}(increase({level.finished}[5m])) >= [[min_jobs]]",
            "warning",
            "jobs",
            "15m",
            f"Jobs on {level.subject} fail more than usual",
            "{{ $value | humanizePercentage }} of the jobs "
            f"{level.where} that finished in the last 5 m failed or timed out, more than "
            "[[min_increase_pct]] (and [[z_score]] standard deviations) above what its "
            "[[anomaly_baseline_window]] baseline and the same hour last week predict.",
            (
                Z_SCORE,
                Param(
                    "min_increase", 0.1, "ratio", "Smallest rise of the failure ratio, in points, that fires."
                ),
                Param("min_jobs", 5, "number", MIN_JOBS),
            ),
            panel=level.failures_panel,
        ),
        AlertRule(
            f"DcmJobQueueWaitAnomalous{level.suffix}",
            "dcm-otel.anomaly",
            f"{_band(wait)}\n"
            f"and\n{wait} - {baseline_name(wait, 'expected')}"
            f" > [[min_change]] * {baseline_name(wait, 'expected')}\n"
            f"and\n{wait} - {baseline_name(wait, 'expected')} > [[min_wait_seconds]]\n"
            f"{enough}(increase(dcm_job_queue_wait_time_seconds_count[5m])) >= [[min_jobs]]",
            "warning",
            "jobs",
            "15m",
            f"Jobs wait longer than usual for {level.subject}",
            f"Jobs {level.where} that started in the last 5 m waited "
            "{{ $value | humanizeDuration }} longer on average than its [[anomaly_baseline_window]] "
            "baseline and the same hour last week predict (more than [[z_score]] standard deviations, "
            "[[min_change_pct]] and [[min_wait]]).",
            (
                Z_SCORE,
                Param(
                    "min_change", 1.0, "ratio", "Smallest rise, as a share of the expected wait, that fires."
                ),
                Param(
                    "min_wait", "1m", "duration", "Smallest rise of the mean wait that fires (short waits)."
                ),
                Param("min_jobs", 3, "number", MIN_JOBS),
            ),
            panel=JOBS_QUEUE(4),
        ),
    )


FAILURES_HOST = HOST.figure(FAILURES)
ANOMALY_ALERTS = (
    *(rule for level in LEVELS for rule in _anomalies(level)),
    # --- trends (predict_linear) ----------------------------------------------------------------------------
    AlertRule(
        "DcmJobFailureRatioRising",
        "dcm-otel.predictive",
        f"predict_linear({FAILURES_HOST}[[[lookback]]], [[horizon_seconds]]) > [[ratio]]\n"
        f"and\n{FAILURES_HOST} <= [[ratio]]\n"
        "and on (job, dcm_host_name)\n"
        f"sum by (job, dcm_host_name) (increase({FINISHED}[[[lookback]]])) >= [[min_jobs]]",
        "warning",
        "jobs",
        "15m",
        "Job failures on {{ $labels.dcm_host_name }} are rising",
        "At the trend of the last [[lookback]], the share of jobs failing on executor host "
        "{{ $labels.dcm_host_name }} reaches {{ $value | humanizePercentage }} in [[horizon]] "
        "(threshold [[ratio_pct]]).",
        (
            Param("ratio", 0.25, "ratio", "Failure ratio the trend is checked against."),
            *trend_params("1h", "1h", "the failure ratio"),
            Param("min_jobs", 30, "number", "Finished jobs needed in the lookback before the trend counts."),
        ),
        panel=JOBS_QUEUE(2),
    ),
    AlertRule(
        "DcmJobQueueWaitGrowing",
        "dcm-otel.predictive",
        "predict_linear(dcm_host:queue_oldest_age_seconds:max[[[lookback]]], [[horizon_seconds]])"
        " > [[max_age_seconds]]\n"
        "and dcm_host:queue_oldest_age_seconds:max <= [[max_age_seconds]]",
        "warning",
        "jobs",
        "10m",
        "Jobs for {{ $labels.dcm_host_name }} will wait too long within [[horizon]]",
        "At the trend of the last [[lookback]], the oldest job waiting for executor host "
        "{{ $labels.dcm_host_name }} will have waited {{ $value | humanizeDuration }} in [[horizon]] "
        "(threshold [[max_age]]).",
        (
            Param(
                "max_age", "10m", "duration", "Age of the oldest waiting job the trend is checked against."
            ),
            *trend_params("1h", "1h", "the oldest job's age"),
        ),
        panel=OVERVIEW(2),
    ),
    AlertRule(
        "DcmHostMemoryFillingUp",
        "dcm-otel.predictive",
        f"predict_linear({MEMORY}[[[lookback]]], [[horizon_seconds]]) >= 1\n"
        f"and predict_linear({MEMORY}[[[recent]]], [[horizon_seconds]]) >= 1\n"
        f"and {MEMORY} > [[min_ratio]]",
        "warning",
        "platform",
        "30m",
        "Memory of {{ $labels.instance }} runs out within [[horizon]]",
        "At the trend of the last [[lookback]], the used memory of {{ $labels.instance }} reaches "
        "{{ $value | humanizePercentage }} of the total in [[horizon]].",
        (
            *trend_params("2h", "2h", "memory use"),
            Param(
                "recent",
                "30m",
                "duration",
                "Shorter window whose trend must agree: one big allocation that stays is a step, not a leak "
                "(keep `for` longer than it).",
            ),
            min_used(0.6),
        ),
        panel=HOSTS_CONTAINERS(6),
    ),
)
