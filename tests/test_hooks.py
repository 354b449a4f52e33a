"""The shared parsing and running of users' hooks: a bad path fails at startup, a raising hook never
reaches the code it observes and is reported once."""

from __future__ import annotations

import logging

import pytest

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
