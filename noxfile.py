"""Developer and CI entry points: ``nox -s tests``, ``lint``, ``typecheck``, ``compat``, ``build``, ``demo``,
``bench``, ``collector``, ``kubernetes``."""

from __future__ import annotations

import glob
import os
import shutil

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True  # a compat end without its Python fails, never skips

PYTHON = "3.11"

#: Both ends of what pyproject.toml allows, each with its Python and its checked-in constraints file
#: (docs/compatibility.md): SDK 1.40 / contrib 0.61b0 / Django 4.2 and SDK 1.45 / contrib 0.66b2 / Django 5.2.
COMPAT_ENDS = [("3.11", "oldest"), ("3.13", "newest")]
#: Every fast path and its fallback, every module's import, and a request, query, job, log and /metrics
#: slice on the real services (PostgreSQL, Docker Engine).
COMPAT_TESTS = [
    "tests/test_sdk_shortcuts.py",
    "tests/test_sdk_private_names.py",
    "tests/test_sdk_fallback.py",
    "tests/test_docker_deferred.py",
    "tests/test_compat.py",
    "tests/test_architecture.py",
    "tests/test_init.py",
    "tests/test_http_instrumentation.py",
    "tests/test_db_instrumentation.py",
    "tests/test_docker_instrumentation.py",
    "tests/test_jobs.py",
    "tests/logs/test_otlp_conventions.py",
    "tests/logs/test_project_logs.py",
    "tests/logs/test_docker_failure_events.py",
    "tests/health/test_health_services.py",
    "tests/test_prometheus_multiprocess.py::test_single_process_output_equals_the_opentelemetry_exporter",
]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite, with the real services (Docker Engine, PostgreSQL, ...) it needs. The collector's
    end-to-end tests need a Go build of the collector and Jaeger first: ``nox -s collector`` runs them, and
    the Helm chart's checks need Helm: ``nox -s kubernetes``. The
    bench extra too: the benchmark's smoke tests run django-prometheus and contrib's ASGI path."""
    session.run("bash", "scripts/install-services.sh", external=True)
    session.install("-e", ".[test,bench]", "-e", "./devtools")
    args = session.posargs or ["--ignore=tests/collector", "--ignore=tests/kubernetes"]
    session.run("pytest", *args, env={"PYTHONFAULTHANDLER": "1"})


@nox.session
@nox.parametrize(("python", "end"), COMPAT_ENDS, ids=[end for _, end in COMPAT_ENDS])
def compat(session: nox.Session, end: str) -> None:
    """A representative subset of the suite at both ends of the supported range (``nox -s compat``: both).

    With pyenv, python3.13 answers only when 3.13 is an active version: ``pyenv shell 3.11.7 3.13.0``."""
    session.run("bash", "scripts/install-services.sh", external=True)
    session.install("-c", f"constraints/{end}.txt", "-e", ".[test]", "-e", "./devtools")
    session.run("python", "-m", "pip", "check")
    args = session.posargs or COMPAT_TESTS
    session.run("pytest", "-p", "no:cacheprovider", *args, env={"PYTHONFAULTHANDLER": "1"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    paths = ("src", "devtools", "tests", "examples", "benchmarks", "scripts", "noxfile.py")
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[lint,test]", "-e", "./devtools")
    session.run("mypy")


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """sdist and wheel into dist/, checked with twine, then the wheel installed into this session's fresh
    virtualenv with the container-manager extra and imported, as the README's install line does, and into
    another next to contrib's Django, requests and psycopg instrumentations and django-prometheus."""
    session.install("build>=1.2", "twine>=5")
    shutil.rmtree("dist", ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", "dist", ".")
    session.run("twine", "check", "--strict", *glob.glob("dist/dcm_otel-*"))
    (wheel,) = glob.glob("dist/dcm_otel-*.whl")
    session.install(f"{wheel}[container-manager]")
    session.run("python", "-c", "import dcm_otel, dcm_otel.instrumentation.django, container_manager")
    # The wheel next to the contrib instrumentations users add beside it, resolved by pip together (so of
    # one contrib release) in a virtualenv of their own: every entry point loads, `pip check` passes.
    peers = os.path.join(session.create_tmp(), "peers")
    session.run("python", "-m", "venv", "--clear", peers)
    python = os.path.join(peers, "bin", "python")
    session.run(
        python,
        "-m",
        "pip",
        "install",
        "-q",
        wheel,
        # the floor of our contrib range keeps pip from backtracking into releases from before it
        "opentelemetry-instrumentation-django>=0.61b0",
        "opentelemetry-instrumentation-requests[instruments]>=0.61b0",
        "opentelemetry-instrumentation-psycopg[instruments]>=0.61b0",
        "django-prometheus",
        external=True,
    )
    session.run(python, "scripts/check_wheel_peers.py", external=True)
    session.run(python, "-m", "pip", "check", external=True)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Migrate, create a host and jobs, run the job processor and serve the demo on 127.0.0.1:8000.

    Uses a reachable Docker Engine (or starts a private one when run as root with docker.io installed),
    else container_manager's mock executor."""
    session.install("-e", ".[container-manager]", "-e", "./devtools")
    # On Ctrl-C nox waits interrupt_timeout (0.3 s by default), then SIGTERM, 0.2 s later SIGKILL: the demo
    # would die before it stopped dockerd and unmounted its data root. It bounds its own cleanup (each
    # child's grace, then SIGKILL), so nox waits for it; a second Ctrl-C still ends nox at once.
    session.run(
        "python",
        "examples/demo/run_demo.py",
        *session.posargs,
        env={"PYTHONUNBUFFERED": "1"},
        interrupt_timeout=None,
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Overhead benchmarks; results go to docs/benchmarks.md by hand (with the machine noted)."""
    session.install("-e", ".[test,bench]", "-e", "./devtools")
    session.run("python", "-m", "benchmarks", *session.posargs, env={"PYTHONPATH": os.getcwd()})


@nox.session(python=PYTHON)
def collector(session: nox.Session) -> None:
    """Build the collector distribution (and Jaeger v2 for the end-to-end test) from Go modules, cached
    between runs, then validate every documented config combination and run it against real backends."""
    session.run("bash", "scripts/install-services.sh", external=True)
    session.run("bash", "scripts/build-collector.sh", "all", external=True)
    session.install("-e", ".[test]", "-e", "./devtools")
    args = session.posargs or ["tests/collector"]  # `nox -s collector -- tests/collector/x.py`: x alone
    session.run("pytest", *args, env={"PYTHONFAULTHANDLER": "1"})


@nox.session(python=PYTHON)
def kubernetes(session: nox.Session) -> None:
    """Build Helm and the Prometheus Operator CRDs from Go modules (cached between runs), then lint and render
    the chart (deploy/kubernetes) for every documented values set and validate every object, offline, and
    the collectors' configs as its pods run them with the built collector."""
    session.run("bash", "scripts/install-services.sh", external=True)  # promtool and amtool
    session.run("bash", "scripts/build-kubernetes-tools.sh", external=True)
    # The collector validates the configs as the chart's pods run them (cached by `nox -s collector`).
    session.run("bash", "scripts/build-collector.sh", external=True)
    session.install("-e", ".[test,kubernetes]", "-e", "./devtools")
    args = session.posargs or ["tests/kubernetes"]
    session.run("pytest", *args, env={"PYTHONFAULTHANDLER": "1"})
