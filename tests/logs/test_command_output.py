"""A routed command's console output becomes plain-text records: the colours a command adds when its
stdout is a terminal must not end up, escaped, inside the JSON message."""

from __future__ import annotations

import logging

import pytest
from django.core.management.base import OutputWrapper
from django.core.management.color import color_style

from dcm_otel.logs.commands import LogStream


@pytest.fixture
def stream(caplog: pytest.LogCaptureFixture) -> LogStream:
    caplog.set_level(logging.INFO, logger="tests.command_output")
    return LogStream(logging.getLogger("tests.command_output"), logging.INFO)


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_a_styled_line_is_logged_as_plain_text(stream: LogStream, caplog: pytest.LogCaptureFixture) -> None:
    style = color_style(force_color=True)  # as on a terminal
    styled = style.SUCCESS("Job launched") + " on " + style.WARNING("demo-docker")
    assert "\x1b[" in styled
    OutputWrapper(stream).write(styled)
    assert messages(caplog) == ["Job launched on demo-docker"]


@pytest.mark.parametrize(
    ("written", "logged"),
    [
        ("\x1b[1;32mok\x1b[0m\n", "ok"),
        ("\x1b[2K\x1b[1Gprogress 50%\n", "progress 50%"),  # erase line, cursor to column 1
        ("\x1b]0;window title\x07text\n", "text"),  # OSC ended by BEL
        ("\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\\n", "link"),  # OSC 8 hyperlink, ended by ST
        ("\x1bMup\n", "up"),  # a two-byte escape (reverse index)
        ("\x1b[0m   \n", None),  # nothing left but blanks: no record
        ("plain [brackets] stay\n", "plain [brackets] stay"),
    ],
)
def test_escape_sequences_are_stripped(
    stream: LogStream, caplog: pytest.LogCaptureFixture, written: str, logged: str | None
) -> None:
    stream.write(written)
    assert messages(caplog) == ([] if logged is None else [logged])


def test_a_sequence_split_across_writes_is_stripped(
    stream: LogStream, caplog: pytest.LogCaptureFixture
) -> None:
    for part in ("\x1b[3", "1mred\x1b", "[0m tail"):
        stream.write(part)
    stream.flush()
    assert messages(caplog) == ["red tail"]
