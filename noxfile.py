"""Development sessions: ``nox`` runs the tests, the linters, the docs build, the packages and the
integrations.

``nox -s tests`` installs everything the tests need: the distributions in this repository, the
test servers and clients of the workspace's ``test`` dependency group (``pyproject.toml``: never
a published extra), Debian packages for the test servers (when run as root), and npm packages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "docs", "packages", "integration"]
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


# What nox -s packages builds: core, every plugin, and the integrations (built, not installed:
# their orchestrators are tried in nox -s integration).
DISTRIBUTIONS = [
    "core",
    *PLUGINS,
    *sorted(
        p.parent.relative_to(ROOT).as_posix() for p in ROOT.glob("integrations/*/pyproject.toml")
    ),
]


@nox.session(python="3.11")
def packages(session: nox.Session) -> None:
    """Every distribution built as it is published, and each plugin tried alone from its wheel.

    Builds the sdist of core, of every plugin and of the integrations, and each wheel from its
    sdist (a file the sdist leaves out fails here); ``twine check --strict`` reads their metadata
    and READMEs as a package index would, and every one must carry the LICENSE. Then, for each
    plugin, a new virtual environment outside the repository gets ``codeferry[testing]``, the
    plugin and the codeferry distributions it requires, all from the built wheels, and the
    plugin's test servers (the dependency group ``<plugin>-tests``): ``codeferry plugins ls``
    must list the plugin as ok, and its contract tests (the ``StorageContract`` classes in
    ``tests/<plugin>/``) run there from a copy of the tests, importing the installed wheels.
    ``-- NAME...`` tries only those plugins. About 4 minutes from a clean clone on 2 shared CPUs.
    """
    session.install("-U", "pip")
    session.install("--group", "packages")
    wanted = session.posargs or [Path(p).name for p in PLUGINS]
    work = Path(tempfile.mkdtemp(prefix="codeferry-packages-"))
    try:
        dist = work / "dist"
        for path in DISTRIBUTIONS:
            session.run(
                "python", "-m", "build", "--no-isolation", "-q", "--outdir", str(dist), path
            )
        session.run("twine", "check", "--strict", *sorted(str(p) for p in dist.iterdir()))
        _check_licenses(session, dist)
        for name in wanted:
            _try_plugin_alone(session, name, dist, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _wheel(dist: Path, distribution: str) -> Path:
    (wheel,) = dist.glob(f"{distribution.replace('-', '_')}-*.whl")
    return wheel


def _check_licenses(session: nox.Session, dist: Path) -> None:
    import tarfile
    import zipfile

    for built in sorted(dist.iterdir()):
        if built.suffix == ".whl":
            with zipfile.ZipFile(built) as wheel:
                names = wheel.namelist()
        else:
            with tarfile.open(built) as sdist:
                names = sdist.getnames()
        if not any(name.endswith(("/licenses/LICENSE", "/LICENSE")) for name in names):
            session.error(f"{built.name} does not carry the LICENSE")


def _try_plugin_alone(session: nox.Session, name: str, dist: Path, work: Path) -> None:
    """Install ``plugins/<name>`` alone from the wheels and run its contract tests there."""
    import tomllib

    project = tomllib.loads((ROOT / "plugins" / name / "pyproject.toml").read_text())["project"]
    distribution = project["name"]
    requires = [
        re.split(r"[^A-Za-z0-9_.-]", requirement, maxsplit=1)[0]
        for requirement in project["dependencies"]
        if requirement.startswith("codeferry-")
    ]
    venv = work / "venvs" / name
    python = str(venv / "bin" / "python")
    session.run("python", "-m", "venv", "--without-pip", str(venv))
    wheels = [f"{_wheel(dist, 'codeferry')}[testing]"]
    wheels += [str(_wheel(dist, d)) for d in (distribution, *requires)]
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    tests_group = f"{name}-tests"
    group = ["--group", f"{ROOT / 'pyproject.toml'}:{tests_group}"] if tests_group in groups else []
    session.run("python", "-m", "pip", "--python", python, "install", "-q", *wheels, *group)

    run = work / "runs" / name
    _copy_tests([name, *(d.removeprefix("codeferry-") for d in requires)], run)
    env = {**_CLEAN_ENV, "CODEFERRY_HOME": str(run / "home"), "CI": os.environ.get("CI", "")}
    expected = sorted(["codeferry", distribution, *requires])
    session.chdir(run)  # nothing of the repository is on sys.path from here on
    try:
        session.run(python, "-c", _FROM_THE_WHEELS, *expected, env=env, external=True)
        listed = session.run(
            *(str(venv / "bin" / "codeferry"), "plugins", "ls", "--json"),
            env=env,
            silent=True,
            stderr=None,
            external=True,
        )
        plugin = next(p for p in json.loads(str(listed)) if p["distribution"] == distribution)
        if plugin["status"] != "ok":
            session.error(f"{distribution} from its wheel: {plugin['status']} {plugin['errors']}")
        contracts = _contract_tests(name)
        if not contracts:
            session.log(f"{distribution}: installed alone and listed ok; no contract tests")
            return
        session.run(
            *(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(run)),
            *contracts,
            env=env,
            external=True,
        )
    finally:
        session.chdir(ROOT)


# Nothing of the repository or of the caller's plugin switches reaches the tried environment
# (nox removes a variable given as None).
_CLEAN_ENV: dict[str, str | None] = {
    "PYTHONPATH": None,
    "CODEFERRY_PLUGINS": None,
    "CODEFERRY_DISABLE_PLUGINS": None,
}

# Run in the tried environment: the codeferry distributions installed are exactly the expected
# ones, and every codeferry module imports from that environment, not from the repository.
_FROM_THE_WHEELS = """
import importlib, sys
from importlib import metadata
expected = sorted(sys.argv[1:])
found = sorted(
    d.metadata["Name"] for d in metadata.distributions()
    if d.metadata["Name"].split("-")[0] == "codeferry"
)
assert found == expected, f"installed {found}, expected {expected}"
for name in expected:
    module = importlib.import_module(name.replace("-", "_"))
    assert module.__file__.startswith(sys.prefix), f"{name} imported from {module.__file__}"
"""


def _contract_tests(name: str) -> list[str]:
    """Node ids of the ``StorageContract`` classes in ``tests/<name>/``."""
    import ast

    found = []
    for module in sorted((ROOT / "tests" / name).glob("test_*.py")):
        for node in ast.parse(module.read_text()).body:
            bases = {
                getattr(base, "id", getattr(base, "attr", None))
                for base in getattr(node, "bases", [])
            }
            if isinstance(node, ast.ClassDef) and "StorageContract" in bases:
                found.append(f"{module.relative_to(ROOT).as_posix()}::{node.name}")
    return found


def _copy_tests(names: list[str], run: Path) -> None:
    """The tests a plugin's contract needs, in a folder of their own outside the repository:
    ``tests/<name>`` of the plugin and of the plugins it requires (whose helpers it may use).

    The suite's shared helpers (``tests/*.py``, ``tests/remote/object_stores.py``) and
    ``tests/servers`` are copied (its npm folder linked, so Azurite is installed once); pytest's
    settings come with a copy of the top ``pyproject.toml``.
    """
    tests = run / "tests"
    tests.mkdir(parents=True)
    for file in (ROOT / "tests").glob("*.py"):  # conftest and the suite's shared helpers
        shutil.copy2(file, tests / file.name)
    shared = tests / "remote"  # the checks every object-store plugin's tests share
    shared.mkdir()
    for helper in ("__init__.py", "object_stores.py"):
        shutil.copy2(ROOT / "tests" / "remote" / helper, shared / helper)
    ignore = shutil.ignore_patterns("__pycache__", "node")
    shutil.copytree(ROOT / "tests" / "servers", tests / "servers", ignore=ignore)
    (tests / "servers" / "node").symlink_to(ROOT / "tests" / "servers" / "node")
    for name in names:
        if (ROOT / "tests" / name).is_dir():
            shutil.copytree(ROOT / "tests" / name, tests / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", run / "pyproject.toml")


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
