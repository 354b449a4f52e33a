"""Every non-provider ``DCM_OTEL`` key takes effect however the app is launched: the one line in settings.py,
``"dcm_otel"`` in INSTALLED_APPS, and ``opentelemetry-instrument`` (which instruments from the environment
before the settings exist; the settings then re-instrument). Each case proves a key's effect, against the
default that the other tests prove."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from tests.otlp_receiver import OtlpReceiver, start_receiver
from tests.project_factory import write_project
from tests.test_init import JOB, ONE_LINE, run_requests

LAUNCHES = {
    "settings line": ((), ONE_LINE, ()),
    "installed app": (("dcm_otel",), "", ()),
    "opentelemetry-instrument": ((), "", ("opentelemetry-instrument",)),
    "opentelemetry-instrument + installed app": (("dcm_otel",), "", ("opentelemetry-instrument",)),
}


@dataclass(frozen=True)
class Case:
    settings: dict[str, object]
    paths: tuple[str, ...]
    holds: Callable[[OtlpReceiver, str], bool]


def _server_spans(receiver: OtlpReceiver) -> list[str]:
    return sorted(s.name for s in receiver.spans() if s.kind == ProtoSpan.SPAN_KIND_SERVER)


def _db_spans(receiver: OtlpReceiver) -> list[str]:
    return [s.name for s in receiver.spans() if "db.system.name" in s.attributes]


def _repeated_query_events(receiver: OtlpReceiver) -> int:
    return sum("dcm.db.repeated_query" in s.events for s in receiver.spans())


CASES = {
    # the request middleware is not installed: no SERVER span, the view still answers
    "instrument_django": Case(
        {"instrument_django": False}, ("/",), lambda r, out: _server_spans(r) == [] and "/ 200" in out
    ),
    # no query is traced, the request still is
    "instrument_db": Case(
        {"instrument_db": False},
        ("/query/",),
        lambda r, out: _db_spans(r) == [] and _server_spans(r) == ["GET /query/"],
    ),
    # the excluded path gets no span, the others do
    "excluded_paths": Case(
        {"excluded_paths": ["/jobs/"]}, ("/", JOB), lambda r, out: _server_spans(r) == ["GET /"]
    ),
    # /metrics asks for the token
    "metrics_token": Case(
        {"metrics_token": "a-scrape-token-of-some-length"},
        ("/metrics",),
        lambda r, out: "/metrics 403" in out,
    ),
    # three runs of one statement are an N+1 pattern at a threshold of 3 (not at the default 5)
    "db_repeated_query_threshold": Case(
        {"db_repeated_query_threshold": 3}, ("/query/",), lambda r, out: _repeated_query_events(r) == 1
    ),
}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


@pytest.mark.parametrize("launch", LAUNCHES)
@pytest.mark.parametrize("key", CASES)
def test_the_key_takes_effect_under_every_launch(
    tmp_path: Path, receiver: OtlpReceiver, key: str, launch: str
) -> None:
    apps, line, launcher = LAUNCHES[launch]
    case = CASES[key]
    project = write_project(
        tmp_path, settings_tail=f"\nDCM_OTEL = {case.settings!r}\n{line}", installed_apps=apps
    )
    result = run_requests(project, receiver, *case.paths, launcher=launcher, OTEL_SERVICE_NAME="shop")
    assert case.holds(receiver, result.stdout), (receiver.spans(), result.stdout, result.stderr[-2000:])


def test_the_default_of_each_case_differs(tmp_path: Path, receiver: OtlpReceiver) -> None:
    """Control: with no DCM_OTEL, none of the cases' effects is seen (so each case tests its key)."""
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    paths = sorted({path for case in CASES.values() for path in case.paths})
    result = run_requests(project, receiver, *paths, OTEL_SERVICE_NAME="shop")
    assert not any(case.holds(receiver, result.stdout) for case in CASES.values())


def test_a_provider_key_under_the_launcher_is_warned_about(tmp_path: Path, receiver: OtlpReceiver) -> None:
    """The providers exist before settings.py is read: a provider key there cannot apply, and says so."""
    project = write_project(tmp_path, settings_tail="\nDCM_OTEL = {'service_name': 'other'}\n")
    result = run_requests(
        project, receiver, "/", launcher=("opentelemetry-instrument",), OTEL_SERVICE_NAME="shop"
    )
    assert "DCM_OTEL keys service_name do not apply to them" in result.stderr
    assert {s.resource["service.name"] for s in receiver.spans()} == {"shop"}
