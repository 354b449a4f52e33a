"""``dcm_otel.meter()``: the application's own instruments reach /metrics (one process, and summed over
gunicorn's workers) and OTLP with their names and units, pass promtool, and a name or unit against the
project's rules fails where the instrument is created."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import dcm_otel
from tests.alerts.tools import binary
from tests.otlp_receiver import OtlpReceiver, start_receiver
from tests.project_factory import write_project
from tests.test_gunicorn import ONE_LINE, get, get_concurrently, gunicorn

ORDER_VIEW = """

import dcm_otel

_meter = dcm_otel.meter("shop")
ORDERS = _meter.create_counter("shop.orders.placed", unit="{order}", description="Orders placed.")
CHECKOUT = _meter.create_histogram("shop.checkout.duration", unit="s", description="Checkout time.")


def order(request):
    ORDERS.add(1, {"shop.payment.method": "card"})
    CHECKOUT.record(0.25)
    time.sleep(0.02)  # several sync workers get busy
    return HttpResponse(str(os.getpid()))


urlpatterns.append(path("order/", order))
"""


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


def _scraped(text: str) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("shop_")
        for sample in family.samples
        if not sample.name.endswith("_created") and sample.labels.get("le") in (None, "+Inf")
    }


@pytest.mark.parametrize("workers", [1, 3])
def test_custom_instruments_reach_metrics_and_otlp(
    tmp_path: Path, receiver: OtlpReceiver, workers: int
) -> None:
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    (project / "urls.py").write_text((project / "urls.py").read_text() + ORDER_VIEW)
    requests = 30
    with gunicorn(
        project,
        "-w",
        str(workers),
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_METRIC_EXPORT_INTERVAL="600000",  # only the flush at exit exports: one point per worker
    ) as (process, base):
        served_by = set(get_concurrently(base + "/order/", requests))
        assert len(served_by) == 1 if workers == 1 else len(served_by) >= 2, served_by
        time.sleep(3)  # the other workers' figures reach a scrape with their next snapshot
        exposition = get(base + "/metrics")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    assert "# TYPE shop_orders_placed_total counter" in exposition
    assert "# TYPE shop_checkout_duration_seconds histogram" in exposition
    assert _scraped(exposition) == {
        "shop_orders_placed_total": requests,
        "shop_checkout_duration_seconds_bucket": requests,
        "shop_checkout_duration_seconds_count": requests,
        "shop_checkout_duration_seconds_sum": requests * 0.25,
    }
    assert 'shop_payment_method="card"' in exposition
    checked = subprocess.run(
        [binary("promtool"), "check", "metrics"], input=exposition, capture_output=True, text=True, timeout=60
    )
    findings = (checked.stdout + checked.stderr).splitlines()
    assert checked.returncode in (0, 3), findings  # 3: lint findings only
    assert not [line for line in findings if "shop_" in line], findings

    def exported(name: str) -> list[tuple[dict[str, object], object]]:
        return [(attrs, point) for _, attrs, point in receiver.metric_points(name)]

    assert receiver.wait_for(lambda: len(exported("shop.checkout.duration")) == len(served_by))
    orders = exported("shop.orders.placed")
    assert {tuple(attrs.items()) for attrs, _ in orders} == {(("shop.payment.method", "card"),)}
    assert sum(point.as_int for _, point in orders) == requests  # type: ignore[attr-defined]
    assert sum(point.count for _, point in exported("shop.checkout.duration")) == requests  # type: ignore[attr-defined]
    units = _units(receiver)
    assert units == {"shop.orders.placed": "{order}", "shop.checkout.duration": "s"}


def _units(receiver: OtlpReceiver) -> dict[str, str]:
    return {
        metric.name: metric.unit
        for request in receiver.received.get("/v1/metrics", [])
        for resource_metrics in request.resource_metrics  # type: ignore[attr-defined]
        for scope_metrics in resource_metrics.scope_metrics
        if scope_metrics.scope.name == "shop"
        for metric in scope_metrics.metrics
    }


@pytest.mark.parametrize(
    ("name", "unit", "rule"),
    [
        ("Shop.Orders", "1", "a lowercase dotted name"),
        ("orders", "1", "a lowercase dotted name"),  # no namespace
        ("shop..orders", "1", "a lowercase dotted name"),
        ("shop." + "x" * 260, "1", "at most 255 characters"),
        ("dcm.shop.orders", "1", "the 'dcm.' namespace is dcm_otel's own"),
        ("shop.orders_total", "{order}", "ends with a unit or Prometheus suffix"),
        ("shop.thread.count", "{thread}", "ends with a unit or Prometheus suffix"),
        ("shop.checkout_seconds", "s", "ends with a unit or Prometheus suffix"),
        ("shop.checkout.duration", "seconds", "expected a UCUM unit"),
        ("shop.checkout.duration", "", "expected a UCUM unit"),
        ("shop.payload.size", "bytes", "expected a UCUM unit"),
    ],
)
def test_a_name_or_unit_against_the_rules_is_refused_naming_it(name: str, unit: str, rule: str) -> None:
    meter = dcm_otel.meter("shop")
    for create in (meter.create_counter, meter.create_histogram, meter.create_up_down_counter):
        with pytest.raises(ValueError, match=rule) as raised:
            create(name, unit=unit)
        assert repr(name) in str(raised.value)
    with pytest.raises(ValueError, match=rule):
        meter.create_observable_gauge(name, [], unit)  # unit given by position


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("shop.orders.placed", "{order}"),
        ("shop.checkout.duration", "s"),
        ("shop.cache.hit_ratio", "1"),
        ("shop.upload.size", "KiBy"),
        ("shop.network.throughput", "By/s"),
        ("shop.requests.rate", "{request}/s"),
        ("shop.cpu.utilization", "%"),
    ],
)
def test_names_and_units_by_the_rules_are_accepted(name: str, unit: str) -> None:
    meter = dcm_otel.meter("shop")
    meter.create_counter(name, unit=unit)
    meter.create_histogram(name, unit, "a description")  # unit given by position
