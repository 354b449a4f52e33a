"""The shared parsing and running of users' hooks: a bad path fails at startup, a raising hook never
reaches the code it observes and is reported once."""

from __future__ import annotations

import logging

import pytest

from dcm_otel.config import ConfigError, load_config
from dcm_otel.instrumentation.hooks import run_hook
from dcm_otel.settings_parsing import hook


def test_hook_accepts_callables_dotted_paths_and_none() -> None:
    assert hook(None) is None
    assert hook(len) is len
    assert hook("os.path.join") is __import__("os").path.join


@pytest.mark.parametrize(
    "raw",
    ["nodots", "os.path.no_such_function", "no_such_module.f", "os.sep", 3, "..x", ".x", "os..path", "a b.c"],
)
def test_hook_rejects_what_cannot_be_called(raw: object) -> None:
    with pytest.raises(ValueError, match="a callable or the dotted path of one"):
        hook(raw)


def test_a_raising_hook_is_contained_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[object] = []

    def broken(value: object) -> None:
        calls.append(value)
        raise RuntimeError("bug in the user's hook")

    with caplog.at_level(logging.WARNING, logger="dcm_otel"):
        run_hook("request_hook", broken, 1)
        run_hook("request_hook", broken, 2)
    assert calls == [1, 2]
    assert [r.getMessage().count("request_hook") for r in caplog.records] == [1]
    assert caplog.records[0].exc_info is not None


@pytest.mark.parametrize("key", ["db_hook", "docker_request_hook", "docker_response_hook", "job_hook"])
def test_a_hook_setting_is_imported_at_startup_and_a_bad_path_names_its_key(key: str) -> None:
    assert getattr(load_config({key: "os.path.join"}, environ={}), key) is __import__("os").path.join
    with pytest.raises(ConfigError) as raised:
        load_config({key: "os.path.no_such_function"}, environ={})
    (problem,) = raised.value.problems
    assert problem.key == f"DCM_OTEL[{key!r}]"
    assert "AttributeError" in problem.allowed
    env = f"DCM_OTEL_{key.upper()}"
    with pytest.raises(ConfigError, match=env):
        load_config({}, environ={env: "no_such_module.hook"})


def test_a_docker_hooks_span_is_replayed_on_the_real_one_and_bounded() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    from dcm_otel.instrumentation.docker.hook_span import MAX_CALLS, RecordedSpan

    recorded = RecordedSpan(None)
    recorded.update_name("renamed")
    recorded.add_event("test.event", {"k": "v"})
    for index in range(MAX_CALLS + 10):
        recorded.set_attribute(f"test.{index}", index)
    real = TracerProvider().get_tracer("test").start_span("original")
    recorded.replay(real)
    real.end()
    assert real.name == "renamed"  # type: ignore[attr-defined]
    assert [event.name for event in real.events] == ["test.event"]  # type: ignore[attr-defined]
    kept = {k for k in real.attributes or {} if k.startswith("test.")}  # type: ignore[attr-defined]
    assert len(kept) == MAX_CALLS - 2  # the name and the event took two of the calls kept
