"""No module of dcm_otel outside ``dcm_otel._sdk`` names an OpenTelemetry private name.

The SDK and API keep their internals behind underscores; dcm_otel reads some of them for speed, and each
such trick lives in ``dcm_otel._sdk`` with a feature check and a public fallback. This scan keeps it so:
a private import or a private attribute read anywhere else fails here, where an SDK upgrade would
otherwise break it silently.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache
from pathlib import Path

import pytest

import dcm_otel

PACKAGE = Path(dcm_otel.__file__).parent
SDK = PACKAGE / "_sdk"
#: ``opentelemetry-semantic-conventions`` publishes the incubating conventions under ``_incubating`` as
#: their documented home; they are constants, with no behaviour behind them to change underneath us.
ALLOWED_MODULES = ("opentelemetry.semconv._incubating",)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _otel_module(module: str) -> bool:
    return module.split(".")[0] == "opentelemetry"


def _allowed(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in ALLOWED_MODULES)


def _private_names_defined(files: list[Path]) -> set[str]:
    """The ``_names`` these sources define: ``self._name = ...``, ``def _name``, class-level ``_name``."""
    names: set[str] = set()
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    targets: list[ast.expr] = []
                    if isinstance(statement, ast.Assign):
                        targets = statement.targets
                    elif isinstance(statement, ast.AnnAssign):
                        targets = [statement.target]
                    names.update(t.id for t in targets if isinstance(t, ast.Name))
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                targets = [node.target]
            names.update(
                t.attr
                for t in targets
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
            )
    return {name for name in names if _private(name)}


@cache
def otel_private_attributes() -> frozenset[str]:
    """Private attributes of the installed OpenTelemetry packages, less those dcm_otel defines itself
    (``materializer._reset`` is ours even if some SDK class has a ``_reset`` too)."""
    spec = importlib.util.find_spec("opentelemetry")
    assert spec is not None
    assert spec.submodule_search_locations
    otel = [f for root in spec.submodule_search_locations for f in sorted(Path(root).rglob("*.py"))]
    return frozenset(_private_names_defined(otel) - _private_names_defined(_outside_sdk()))


def violations(path: Path) -> list[str]:
    """``line: what`` for each private OpenTelemetry name ``path`` uses."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    private_attributes = otel_private_attributes()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            module = node.module
            if _otel_module(module) and not _allowed(module):
                if any(_private(part) for part in module.split(".")):
                    found.append(f"{node.lineno}: from {module} import ...")
                found.extend(
                    f"{node.lineno}: from {module} import {a.name}" for a in node.names if _private(a.name)
                )
        elif isinstance(node, ast.Import):
            found.extend(
                f"{node.lineno}: import {a.name}"
                for a in node.names
                if _otel_module(a.name) and not _allowed(a.name) and any(map(_private, a.name.split(".")))
            )
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in private_attributes
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def _outside_sdk() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if SDK not in p.parents]


def test_no_private_opentelemetry_name_outside_sdk() -> None:
    found = {str(p.relative_to(PACKAGE)): v for p in _outside_sdk() if (v := violations(p))}
    assert found == {}, "OpenTelemetry private names belong in dcm_otel._sdk"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from opentelemetry.sdk._logs import LoggerProvider", [
            "1: from opentelemetry.sdk._logs import ...",
        ]),
        ("from opentelemetry import _logs", ["1: from opentelemetry import _logs"]),
        ("from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as K", [
            "1: from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY",
        ]),
        ("import opentelemetry.metrics._internal", ["1: import opentelemetry.metrics._internal"]),
        ("p._active_span_processor._span_processors", [
            "1: p._active_span_processor._span_processors", "1: p._active_span_processor",
        ]),
        ("tracer._span_limits", ["1: tracer._span_limits"]),
        ("self._span_limits; cls._lock", []),
        ("from opentelemetry.semconv._incubating.attributes import container_attributes", []),
        ("from opentelemetry.trace import SpanKind; from dcm_otel._sdk import suppression", []),
        ("materializer._reset(); instance._state.adding; endpoint._before_fork", []),
    ],
)  # fmt: skip
def test_the_scan_sees_private_names_and_only_them(tmp_path: Path, source: str, expected: list[str]) -> None:
    module = tmp_path / "module.py"
    module.write_text(source + "\n")
    assert violations(module) == expected
