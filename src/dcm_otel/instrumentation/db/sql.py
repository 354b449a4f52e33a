"""What telemetry may say about a SQL statement: its ``db.query.text`` and its ``db.query.summary``.

The text of a parameterized statement (values passed separately) is exported as sent, as the semantic
conventions ask: the caller's choice of parameters is the signal that no value is in it. Any other
statement gets every literal replaced by ``?``. The summary (``SELECT shop_item``) lists the statement's
operations and the collections they name, in order (the conventions' "generating a summary"); it is built
from the sanitized text, so no literal reaches it, and stands in for ``db.operation.name`` and
``db.collection.name``, which the SQL conventions say not to parse out of the text.

Parsing is a few regular expressions, done once per distinct SQL string: Django builds the same strings
again and again (values travel separately as parameters), so a bounded LRU makes the per-query cost a
dict lookup.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

CACHE_SIZE = 2048
SUMMARY_LIMIT = 255  # the conventions' truncation length, cut between words

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
_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*", re.DOTALL)
_NAME = r'(?:"(?:[^"]|"")*"|`[^`]*`|[A-Za-z_][\w$]*)'
_TOKEN = re.compile(rf"{_NAME}(?:\s*\.\s*{_NAME})*|[(),;]")
# Keywords that are an operation wherever they start a (sub)query, unless the word before makes them a
# clause: SELECT ... FOR UPDATE, ON DELETE CASCADE, ON CONFLICT DO UPDATE, MERGE ... THEN INSERT.
_DML = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"})
_NOT_AN_OPERATION_AFTER = frozenset({"FOR", "KEY", "ON", "DO", "THEN"})
# Keywords whose next name is a collection (1); after FROM and TRUNCATE a comma list of them (2).
_TARGET_BEFORE = {"FROM": 2, "TRUNCATE": 2, "JOIN": 1, "INTO": 1, "UPDATE": 1, "TABLE": 1}
# Words that may stand between a target keyword and the name.
_MODIFIERS = frozenset({"ONLY", "IF", "NOT", "EXISTS", "LATERAL", "TABLE"})
# Keywords, unless quoted, that are no name: no target, no alias.
_CLAUSES = frozenset(
    {"WHERE", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "NATURAL", "OUTER", "ON", "USING",
     "GROUP", "ORDER", "HAVING", "LIMIT", "OFFSET", "WINDOW", "UNION", "INTERSECT", "EXCEPT", "SET",
     "VALUES", "RETURNING", "FOR", "SELECT", "DEFAULT", "FETCH", "CASCADE", "RESTRICT", "RESTART",
     "CONTINUE", "WITH"}
)  # fmt: skip


class Statement(NamedTuple):
    """``text`` is safe to export: a parameterized statement as sent, else with no literal left."""

    text: str
    summary: str | None


def sanitize(sql: str) -> str:
    """The statement with literals (strings, numbers, booleans) replaced by ``?``; placeholders stay."""
    return _LITERAL.sub("?", sql)


@lru_cache(maxsize=CACHE_SIZE)
def summarize(sql: str, parameterized: bool) -> Statement:
    """``db.query.text`` and ``db.query.summary`` of ``sql``, sent with parameters or without."""
    sanitized = sanitize(sql)
    return Statement(sql if parameterized else sanitized, summary(sanitized))


def summary(text: str) -> str | None:
    """``{operation} {target} ...`` of a sanitized statement, names as written, at most
    :data:`SUMMARY_LIMIT` characters; None when it names no operation."""
    words: list[str] = []
    queries = {0}  # parenthesis depths where a (sub)query runs: a FROM elsewhere is EXTRACT(x FROM y)'s
    depth = 0
    start = True  # the next word begins a statement: its operation, whatever the keyword
    previous = ""
    expect = 0  # a target keyword waits for its name: 1, or the first of a list: 2
    listing = 0  # in a FROM list: 1 after a name, 2 after its AS, 3 after its alias; a comma continues it
    for match in _TOKEN.finditer(_COMMENT.sub(" ", text)):
        lexeme = match.group()
        upper = lexeme.upper()
        name = upper not in _CLAUSES or lexeme[0] in '"`'
        if lexeme in "(),;":
            if lexeme == "(":
                depth += 1
            elif lexeme == ")":
                queries.discard(depth)
                depth = max(depth - 1, 0)
            elif lexeme == ";":
                start, queries, depth = True, {0}, 0
            expect, listing = (2 if lexeme == "," and listing else 0), 0
        elif start or (upper in _DML and previous not in _NOT_AN_OPERATION_AFTER):
            if upper != "WITH":  # the common table expressions' own SELECTs are the operations
                words.append(lexeme)
                queries.add(depth)
            start, expect, listing = False, _TARGET_BEFORE.get(upper, 0), 0
        elif expect and upper in _MODIFIERS:
            pass
        elif expect and name:
            words.append(lexeme)
            expect, listing = 0, (1 if expect == 2 else 0)
        elif 0 < listing < 3 and name:
            listing = 2 if upper == "AS" and listing == 1 else 3
        elif upper in _TARGET_BEFORE and depth in queries and previous != "DISTINCT":
            expect, listing = _TARGET_BEFORE[upper], 0
        else:
            expect, listing = 0, 0
        previous = upper
    return _truncate(words) if words else None


def _truncate(words: list[str]) -> str:
    """The words joined by spaces, the last ones dropped while the result is over the limit."""
    text = " ".join(words)
    while len(text) > SUMMARY_LIMIT and len(words) > 1:
        words.pop()
        text = " ".join(words)
    return text[:SUMMARY_LIMIT]
