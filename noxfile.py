"""Developer and CI entry points: ``nox -s tests``, ``lint``, ``typecheck``, ``demo``, ``bench``."""

from __future__ import annotations

import glob
import os
import shutil

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite, with the real services (Docker Engine, PostgreSQL, ...) it needs. The collector's
    end-to-end tests need a Go build of the collector and Jaeger first: ``nox -s collector`` runs them."""
    session.run("bash", "scripts/install-services.sh", external=True)
    session.install("-e", ".[test]", "-e", "./devtools")
    args = session.posargs or ["--ignore=tests/collector"]
    session.run("pytest", *args, env={"PYTHONFAULTHANDLER": "1"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "devtools", "tests", "examples", "benchmarks", "noxfile.py")
    session.run(
        "ruff", "format", "--check", "src", "devtools", "tests", "examples", "benchmarks", "noxfile.py"
    )


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[lint,test]", "-e", "./devtools")
    session.run("mypy")


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """sdist and wheel into dist/, checked with twine, then the wheel installed into this session's fresh
    virtualenv with the container-manager extra and imported, as the README's install line does."""
    session.install("build>=1.2", "twine>=5")
    shutil.rmtree("dist", ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", "dist", ".")
    session.run("twine", "check", "--strict", *glob.glob("dist/dcm_otel-*"))
    (wheel,) = glob.glob("dist/dcm_otel-*.whl")
    session.install(f"{wheel}[container-manager]")
    session.run("python", "-c", "import dcm_otel, dcm_otel.instrumentation.django, container_manager")


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
