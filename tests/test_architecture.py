"""The layout holds together: one registry of instrumentors equal to the entry points, choice settings typed
once, and no import cycle among dcm_otel's modules, neither in the source nor when any module is imported
first."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import get_args, get_type_hints

from dcm_otel import config
from dcm_otel.health.settings import DOCKER_POLICIES, HealthSettings
from dcm_otel.instrumentation import INSTRUMENTORS

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src"
PACKAGE = SOURCE / "dcm_otel"


def test_the_registry_is_the_entry_point_table() -> None:
    registry = {r.entry_point: r.target for r in INSTRUMENTORS}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert registry == pyproject["project"]["entry-points"]["opentelemetry_instrumentor"]
    installed = {
        ep.name: ep.value
        for ep in entry_points(group="opentelemetry_instrumentor")
        if ep.name.startswith("dcm_")
    }
    assert registry == installed
    for registered in INSTRUMENTORS:
        assert isinstance(getattr(config.Config(), registered.flag), bool)
        assert registered.load().__name__ == registered.target.rpartition(":")[2]


def test_choice_settings_are_typed_with_their_allowed_values() -> None:
    hints = get_type_hints(config.Config)
    choices = {
        "otlp_protocol": config.OTLP_PROTOCOLS,
        "sampler": config.SAMPLERS,
        "metrics_exemplar_filter": config.EXEMPLAR_FILTERS,
        "queue_metrics": config.QUEUE_METRICS,
        "resource_metrics": config.QUEUE_METRICS,
    }
    for name, allowed in choices.items():
        assert get_args(hints[name]) == allowed, name
    tuples = {
        "traces_exporter": config.TRACES_EXPORTERS,
        "metrics_exporter": config.METRICS_EXPORTERS,
        "logs_exporter": config.LOGS_EXPORTERS,
        "host_metrics": config.HOST_METRIC_GROUPS,
    }
    for name, allowed in tuples.items():
        (item, _) = get_args(hints[name])
        assert get_args(item) == allowed, name
    policy, _ = get_args(get_type_hints(HealthSettings)["docker_policy"])
    assert get_args(policy) == DOCKER_POLICIES


# ---- the static import graph


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _top_level_imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: not in functions, not under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                found += _top_level_imports(node.body)
            found += _top_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                found += _top_level_imports(block)
        elif isinstance(node, ast.With | ast.For | ast.While | ast.ClassDef):
            found += _top_level_imports(node.body)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the dcm_otel modules importing it runs first. ``import a.b.c`` runs the packages ``a`` and
    ``a.b`` too, except those the importer is inside (already running); ``from p import name`` needs ``p``
    finished unless ``name`` is a submodule."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        targets: set[str] = set()
        explicit: set[str] = set()
        for node in _top_level_imports(ast.parse(path.read_text()).body):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base]).strip(".")
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    targets.add(submodule)
                else:
                    targets.add(base)
                    explicit.add(base)
        edges = set()
        for target in targets:
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                inside = name.startswith(prefix + ".") and prefix not in explicit
                if prefix in modules and prefix != name and not inside:
                    edges.add(prefix)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_source() -> None:
    graph = import_graph()
    assert graph["dcm_otel.config"] >= {"dcm_otel.health.settings", "dcm_otel.settings_parsing"}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# ---- every module imported first, in a fresh module table

_IMPORT_EACH_FIRST = textwrap.dedent(
    """
    import importlib, pkgutil, sys, traceback

    import django
    from django.conf import settings

    # Settings configured and the apps populated, as in any process that runs Django: modules such as the
    # dashboard views read models at import. dcm_otel itself is not an installed app here, so nothing is
    # initialised; the import order of dcm_otel's own modules is what this checks.
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "container_manager"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    )
    django.setup()
    import dcm_otel

    names = sorted(m.name for m in pkgutil.walk_packages(dcm_otel.__path__, "dcm_otel."))
    failed = []
    for name in ["dcm_otel", *names]:
        for loaded in [m for m in sys.modules if m == "dcm_otel" or m.startswith("dcm_otel.")]:
            del sys.modules[loaded]
        try:
            importlib.import_module(name)
        except BaseException:
            failed.append(name + ":\\n" + traceback.format_exc())
    print(len(names) + 1, "modules")
    print("\\n".join(failed))
    sys.exit(1 if failed else 0)
    """
)


def test_every_module_imports_first() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH_FIRST],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert int(result.stdout.split()[0]) > 100
