"""Development sessions: ``nox`` runs the tests, the linters, the docs build and the integrations.

``nox -s tests`` installs everything the tests need: the distributions in this repository, the
test servers and clients of the workspace's ``test`` dependency group (``pyproject.toml``: never
a published extra), Debian packages for the test servers (when run as root), and npm packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "docs", "integration"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
PLUGINS = sorted(
    p.parent.relative_to(ROOT).as_posix() for p in ROOT.glob("plugins/*/pyproject.toml")
)

# Test servers: a program the tests run, and the Debian package that provides it.
DEBIAN_PACKAGES = {
    "/usr/lib/postgresql/*/bin/pg_ctl": "postgresql",
    "/usr/sbin/sshd": "openssh-server",
    "/usr/bin/git": "git",
    "/usr/bin/docker-registry": "docker-registry",
    "/usr/bin/htpasswd": "apache2-utils",
    "/usr/bin/busybox": "busybox-static",
    "/usr/bin/skopeo": "skopeo",
    "/usr/bin/umoci": "umoci",
    "/usr/bin/podman": "podman",
    "/usr/bin/npm": "npm",
    # git smart HTTP as hosts serve it (tests/servers/nginx_git.py, the git benchmarks)
    "/usr/sbin/nginx": "nginx",
    "/usr/sbin/fcgiwrap": "fcgiwrap",
    # GNU time: the benchmarks' peak RSS of a whole process (benchmarks/timing.py)
    "/usr/bin/time": "time",
}


def _install_distributions(session: nox.Session, *extra: str) -> None:
    """Core and every plugin, editable; test servers come from the ``test`` dependency group."""
    session.install("-U", "pip")
    editable = [arg for path in ["core", *PLUGINS] for arg in ("-e", path)]
    session.install(*editable, *extra)


def _install_debian_packages(session: nox.Session) -> None:
    missing = sorted(
        {pkg for prog, pkg in DEBIAN_PACKAGES.items() if not any(Path("/").glob(prog.lstrip("/")))}
    )
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        session.warn(f"not root or no apt-get: cannot install {' '.join(missing)}")
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
    )


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole test suite against real servers started by the tests."""
    _install_debian_packages(session)
    _install_distributions(session, "--group", "test")
    session.run("pytest", *(session.posargs or ["-q"]), env={"CI": os.environ.get("CI", "")})


@nox.session(python="3.11")
def reliability(session: nox.Session) -> None:
    """The reliability suite (kill -9, concurrency, secrets, hostile input) with many trials.

    ``CODEFERRY_RELIABILITY_TRIALS`` (default 50 here, 2 in ``nox -s tests``) sets the trials;
    ``CODEFERRY_RELIABILITY_SEED`` replays a failed run.
    """
    _install_debian_packages(session)
    _install_distributions(session, "--group", "test")
    env = {
        "CI": os.environ.get("CI", ""),
        "CODEFERRY_RELIABILITY_TRIALS": os.environ.get("CODEFERRY_RELIABILITY_TRIALS", "50"),
    }
    session.run("pytest", "tests/reliability", "-m", "reliability", *session.posargs, env=env)


# The orchestrators the integrations are proven in, pinned: each in an environment of its own.
ORCHESTRATORS = {
    "prefect": ["prefect==3.9.1", "prefect-aws==0.7.12"],
    "airflow": ["apache-airflow==3.3.2"],
}


@nox.session(python="3.11")
@nox.parametrize("orchestrator", sorted(ORCHESTRATORS))
def integration(session: nox.Session, orchestrator: str) -> None:
    """codeferry inside a real Prefect (server, process worker) or Airflow 3 (DAG processor).

    ``integrations/<orchestrator>/tests`` run in an environment holding that orchestrator, core,
    every plugin and ``codeferry-<orchestrator>``, against the test servers (git smart HTTP with
    auth, moto's S3). ``nox -s integration`` runs both; ``-- -k NAME`` picks tests. Both, from
    new environments: 25 minutes on 2 shared, busy CPUs (load average 11), installs included.
    """
    _install_debian_packages(session)
    session.install("-U", "pip")
    editable = [arg for path in ["core", *PLUGINS] for arg in ("-e", path)]
    session.install(
        *editable,
        *("-e", f"integrations/{orchestrator}", *ORCHESTRATORS[orchestrator], "pytest"),
        *("--group", "s3-tests"),  # moto's S3 server
    )
    session.run(
        "pytest",
        f"integrations/{orchestrator}/tests",
        *(session.posargs or ["-q"]),
        env={"CI": os.environ.get("CI", "")},
    )


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff (lint and format) over everything, mypy (strict) over core and the plugins."""
    _install_distributions(session, "--group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Build the documentation site with ``--strict``."""
    _install_distributions(session, "--group", "docs")
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(ROOT / "site"),
        env={"NO_MKDOCS_2_WARNING": "1"},
    )


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks side by side with Prefect (in its own venv) and raw baselines.

    Each ``benchmarks/*_bench.py`` writes ``benchmarks/results/<family>.json``; then
    ``benchmarks/report.py`` writes ``docs/benchmarks.md`` and its charts from every results file.
    ``nox -s bench -- startup`` runs only ``benchmarks/startup_bench.py`` (and the report).
    A family that fails is reported as not measured, and the session fails after the report.
    The scale family measures git at 5,000 and 20,000 files and S3 at 2,000 by default (about
    2 minutes); ``python benchmarks/scale_bench.py --large`` adds git at 50,000 files and S3 at
    20,000 (about 30 minutes more, most of it moto serving 20,000 objects).
    """
    from nox.command import CommandFailed

    _install_debian_packages(session)
    _install_distributions(session, "--group", "test", "--group", "bench")
    # As an installed wheel is: compiled. Editable sources under PYTHONDONTWRITEBYTECODE=1 would
    # be compiled again by every process the benchmarks time.
    session.run("python", "-m", "compileall", "-q", "core/src", *(f"{p}/src" for p in PLUGINS))
    wanted = session.posargs or [
        p.stem.removesuffix("_bench") for p in sorted(ROOT.glob("benchmarks/*_bench.py"))
    ]
    failed = []
    for name in wanted:
        try:
            session.run("python", f"benchmarks/{name}_bench.py")
        except CommandFailed:
            failed.append(name)
    session.run("python", "benchmarks/report.py")
    if failed:
        session.error(f"not measured: {', '.join(failed)} (see docs/benchmarks.md)")
