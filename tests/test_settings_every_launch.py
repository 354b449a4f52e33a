"""Every non-provider ``DCM_OTEL`` key takes effect however the app is launched: the one line in settings.py,
``"dcm_otel"`` in INSTALLED_APPS, and ``opentelemetry-instrument`` (which instruments from the environment
before the settings exist; the settings then re-instrument). Each case proves a key's effect, against the
default that the other tests prove."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from tests.otlp_receiver import OtlpReceiver, start_receiver
from tests.project_factory import project_env, write_project
from tests.test_gunicorn import gunicorn
from tests.test_init import JOB, ONE_LINE, run_requests

Launch = Callable[[Path, OtlpReceiver, tuple[str, ...]], str]


def _script(launcher: tuple[str, ...] = ()) -> Launch:
    """The project's requests script (Django's test client), optionally under a launcher."""

    def launch(project: Path, receiver: OtlpReceiver, paths: tuple[str, ...]) -> str:
        return run_requests(project, receiver, *paths, launcher=launcher, OTEL_SERVICE_NAME="shop").stdout

    return launch


def _manage_shell(project: Path, receiver: OtlpReceiver, paths: tuple[str, ...]) -> str:
    """A management command (``manage.py shell``) running the same requests."""
    code = f"import sys; sys.argv[1:] = {list(paths)!r}; exec(open('requests_script.py').read())"
    env = project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_SERVICE_NAME="shop")
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _gunicorn(*args: str) -> Launch:
    """``opentelemetry-instrument gunicorn`` (one worker), real HTTP, stopped with SIGTERM (flush at exit).
    Readiness is polled on /favicon.ico, excluded from traces by default."""

    def launch(project: Path, receiver: OtlpReceiver, paths: tuple[str, ...]) -> str:
        with gunicorn(
            project,
            *args,
            launcher=("opentelemetry-instrument",),
            ready_path="/favicon.ico",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_SERVICE_NAME="shop",
        ) as (_, base):
            return "".join(f"{path} {_status(base + path)}\n" for path in paths)

    return launch


def _status(url: str) -> int:
    """The HTTP status of a GET, 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


#: name -> (INSTALLED_APPS extra, settings.py tail, how the requests are made)
LAUNCHES: dict[str, tuple[tuple[str, ...], str, Launch]] = {
    "settings line": ((), ONE_LINE, _script()),
    "installed app": (("dcm_otel",), "", _script()),
    "management command": ((), ONE_LINE, _manage_shell),
    "opentelemetry-instrument": ((), "", _script(("opentelemetry-instrument",))),
    "opentelemetry-instrument + installed app": (("dcm_otel",), "", _script(("opentelemetry-instrument",))),
    "opentelemetry-instrument gunicorn": ((), "", _gunicorn()),
    "opentelemetry-instrument gunicorn --preload": ((), "", _gunicorn("--preload")),
}


@dataclass(frozen=True)
class Case:
    settings: dict[str, object]
    paths: tuple[str, ...]
    holds: Callable[[OtlpReceiver, str], bool]
    code: str = ""  # settings.py lines before DCM_OTEL (a hook the settings name as ``settings.<function>``)


def _server_spans(receiver: OtlpReceiver) -> list[str]:
    return sorted(s.name for s in receiver.spans() if s.kind == ProtoSpan.SPAN_KIND_SERVER)


def _db_spans(receiver: OtlpReceiver) -> list[str]:
    return [s.name for s in receiver.spans() if "db.system.name" in s.attributes]


def _middleware_spans(receiver: OtlpReceiver) -> list[str]:
    servers = {s.span_id for s in receiver.spans() if s.kind == ProtoSpan.SPAN_KIND_SERVER}
    return [
        s.name
        for s in receiver.spans()
        if s.kind == ProtoSpan.SPAN_KIND_INTERNAL and s.parent_span_id in servers
    ]


def _profiled(receiver: OtlpReceiver) -> list[str]:
    return [s.name for s in receiver.spans() if "dcm.profile.id" in s.attributes]


def _spans_with(receiver: OtlpReceiver, attribute: str) -> list[tuple[str, object]]:
    return [(s.name, s.attributes[attribute]) for s in receiver.spans() if attribute in s.attributes]


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
        lambda r, out: _db_spans(r) == [] and "GET /query/" in _server_spans(r),
    ),
    # the excluded path gets no span, the others do
    "excluded_paths": Case(
        {"excluded_paths": ["/jobs/"]},
        ("/", JOB),
        lambda r, out: "GET /" in _server_spans(r) and "GET /jobs/<uuid:pk>/" not in _server_spans(r),
    ),
    # /metrics asks for the token
    "metrics_token": Case(
        {"metrics_token": "a-scrape-token-of-some-length"},
        ("/metrics",),
        lambda r, out: "/metrics 403" in out,
    ),
    # with GET no longer a known method, the request is _OTHER, its span named HTTP
    "http_known_methods": Case(
        {"http_known_methods": ["POST"]}, ("/",), lambda r, out: "HTTP /" in _server_spans(r)
    ),
    # the project's one middleware gets a span of its own under the request span
    "middleware_spans": Case(
        {"middleware_spans": True},
        ("/",),
        lambda r, out: _middleware_spans(r) == ["django.middleware.common.CommonMiddleware"],
    ),
    # three runs of one statement are an N+1 pattern at a threshold of 3 (not at the default 5)
    "db_repeated_query_threshold": Case(
        {"db_repeated_query_threshold": 3}, ("/query/",), lambda r, out: _repeated_query_events(r) == 1
    ),
    # the slow request's span links its profile (the sampler thread runs in every launch's serving process)
    "profiling": Case(
        {"profiling": True, "profile_threshold": 0.05},
        ("/slow/",),
        lambda r, out: _profiled(r) == ["GET /slow/"],
    ),
    # the hooks the settings name are imported in every launch and called with the span
    "request_hook": Case(
        {"request_hook": "settings.tag_request"},
        ("/",),
        lambda r, out: _spans_with(r, "app.path") == [("GET /", "/")],
        "def tag_request(span, request):\n    span.set_attribute('app.path', request.path)\n",
    ),
    "db_hook": Case(
        {"db_hook": "settings.tag_query"},
        ("/query/",),
        lambda r, out: [alias for _, alias in _spans_with(r, "app.db_alias")] == ["default"] * 3,
        "def tag_query(span, alias, sql):\n    span.set_attribute('app.db_alias', alias)\n",
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
    apps, line, run = LAUNCHES[launch]
    case = CASES[key]
    project = write_project(
        tmp_path, settings_tail=f"\n{case.code}DCM_OTEL = {case.settings!r}\n{line}", installed_apps=apps
    )
    out = run(project, receiver, case.paths)
    assert case.holds(receiver, out), (receiver.spans(), out)


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
