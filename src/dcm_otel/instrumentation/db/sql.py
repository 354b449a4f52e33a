"""What telemetry may say about a SQL statement: its text with every literal replaced by ``?``, its
operation, and its table when the statement names exactly one.

Parsing is a few regular expressions, done once per distinct SQL string: Django builds the same strings
again and again (values travel separately as parameters), so a bounded LRU makes the per-query cost a
dict lookup.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

CACHE_SIZE = 2048

_LITERAL = re.compile(
    r"""
      [eEbBxXnN]?'(?:[^'\\]|''|\\.)*'          # string, escape-string, bit/hex string
    | \$(?P<tag>\w*)\$.*?\$(?P=tag)\$          # PostgreSQL dollar-quoted string
    | \b0[xX][0-9a-fA-F]+\b                    # hex number
    | (?<![\w"$.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b  # number, not part of an identifier
    | \b(?:TRUE|FALSE|true|false)\b
    """,
    re.VERBOSE | re.DOTALL,
)
_OPERATION = re.compile(r"\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*)*([A-Za-z]+)", re.DOTALL)
_TABLE = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE)\s+(\"[^\"]+\"|`[^`]+`|[\w.]+)(\s*,)?", re.IGNORECASE)


class Statement(NamedTuple):
    """``text`` is safe to export: no literal of the original survives in it."""

    text: str
    operation: str | None
    collection: str | None


def sanitize(sql: str) -> str:
    """The statement with literals (strings, numbers, booleans) replaced by ``?``; placeholders stay."""
    return _LITERAL.sub("?", sql)


@lru_cache(maxsize=CACHE_SIZE)
def summarize(sql: str) -> Statement:
    """Sanitized text, operation (first keyword, as written) and single table of ``sql``."""
    text = sanitize(sql)
    match = _OPERATION.match(text)
    return Statement(text, match.group(1) if match else None, _single_table(text))


def _single_table(text: str) -> str | None:
    """The one table the statement names, or None for joins, comma lists and several tables: the
    semantic conventions want no guess where a statement spans collections."""
    names = set()
    for name, comma in _TABLE.findall(text):
        if comma:
            return None
        names.add(name.strip('"`'))
    return names.pop() if len(names) == 1 else None
