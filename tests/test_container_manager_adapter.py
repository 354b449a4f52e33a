"""The container_manager adapter against the installed app: its statuses and hook points match the code, and
the queue gauge, the ``/ready/`` queue check and the admin dashboard name the same oldest waiting job."""

from __future__ import annotations

from pathlib import Path

from tests.health._project import TOKEN, health_project, run_script

HEALTH = {"details_token": TOKEN, "queue_max_age": 100000, "cache_ttl": 0}
SETTINGS = f"\nDCM_OTEL = {{'health': {HEALTH!r}}}\n"


def test_statuses_and_hooks_match_the_installed_container_manager(tmp_path: Path) -> None:
    project = health_project(tmp_path, installed_apps=("container_manager",))
    choices, statuses, sets, final, missing = run_script(
        project,
        """
        from container_manager.models import ContainerJob
        from dcm_otel import _container_manager as cm
        final = sorted(s for s, allowed in ContainerJob.VALID_TRANSITIONS.items() if not allowed)
        sets = [sorted(cm.WAITING), sorted(cm.RUNNING), sorted(cm.TERMINAL)]
        print(json.dumps([
            [s for s, _ in ContainerJob.STATUS_CHOICES], [s.value for s in cm.JobStatus], sets, final,
            cm.missing_hooks(),
        ]))
        """,
    )
    assert statuses == choices
    waiting, running, terminal = sets
    assert sorted(waiting + running + terminal) == sorted(choices)  # they split the statuses
    assert set(final) <= set(terminal)
    assert missing == []


def test_gauge_ready_and_dashboard_report_the_same_oldest_waiting_job(tmp_path: Path) -> None:
    """Jobs whose ages differ by each of the three former definitions: by created_at, by queued_at, and
    scheduled for later (or backing off before a retry); only due jobs in a waiting status count."""
    project = health_project(tmp_path, settings_tail=SETTINGS, installed_apps=("container_manager",))
    gauge, ready, dashboard = run_script(
        project,
        f"""
        from datetime import timedelta
        from django.core.management import call_command
        from django.utils import timezone
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from container_manager.models import ContainerJob, ExecutorHost
        from dcm_otel.dashboard.snapshot import snapshot
        from dcm_otel.instrumentation.jobs.queue import QueueGauges

        call_command("migrate", verbosity=0)
        hosts = {{
            name: ExecutorHost.objects.create(name=name, connection_string="unix:///none", is_active=False)
            for name in ("a", "b")
        }}
        now = timezone.now()

        def ago(seconds):
            return None if seconds is None else now - timedelta(seconds=seconds)

        def job(name, host, status, created, queued=None, scheduled=None):
            pk = ContainerJob.objects.create(docker_host=hosts[host], name=name, command="true").pk
            ContainerJob.objects.filter(pk=pk).update(
                status=status, created_at=ago(created), queued_at=ago(queued), scheduled_for=ago(scheduled)
            )

        job("scheduled-later", "a", "queued", created=5000, queued=4000, scheduled=-600)
        job("backing-off", "a", "retrying", created=3000, queued=3000, scheduled=-30)
        job("queued-long", "a", "queued", created=900, queued=700)
        job("retry-due", "b", "retrying", created=2000, queued=2000, scheduled=200)
        job("pending", "b", "pending", created=300)
        job("running", "a", "running", created=10000, queued=9000)
        job("done", "b", "completed", created=20000, queued=20000)

        reader = InMemoryMetricReader()
        QueueGauges(MeterProvider(metric_readers=[reader]).get_meter("test")).enable()
        gauge = {{}}
        for rm in reader.get_metrics_data().resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == "dcm.queue.oldest_age":
                        for point in metric.data.data_points:
                            gauge[point.attributes["dcm.host.name"]] = point.value
        ready = probe(HTTP_X_HEALTH_TOKEN={TOKEN!r})[1]["checks"]["queue"]["reason"]
        print(json.dumps([gauge, ready, snapshot(timezone.now())["oldest_waiting"]]))
        """,
    )
    assert 700 <= gauge["a"] < 705
    assert 300 <= gauge["b"] < 305
    assert ready.startswith("oldest waiting job 70")
    ready_age = float(ready.split()[3])
    assert dashboard["name"] == "queued-long"
    assert abs(dashboard["age_seconds"] - gauge["a"]) < 2
    assert abs(ready_age - max(gauge.values())) <= 2
