"""Finding the function a step name stands for.

A name resolves through the steps plugins register (short names, fully qualified names and
aliases such as Prefect's). Names Prefect used before (``prefect.projects.steps.*`` of Prefect
2.10 to 2.13, ``git_clone_project``) resolve to the step that replaced them, with a note naming
the current name. A name no installed plugin provides is an error naming the distribution to
install: from the step's ``requires`` (``prefect-aws`` maps to ``codeferry-s3``) or from the table
of known step names.

Any other import path (``package.module.function``, ``package.module:function`` or
``path/to/file.py:function``) runs only when the user allows it (``allow_import_steps=True``,
``CODEFERRY_ALLOW_IMPORT_STEPS=1`` or the ``--allow-import-steps`` flag), since the deployment
file then decides what code runs. As in Prefect, it is imported just before the step runs, with
the working folder and the code the earlier steps pulled importable (:func:`import_step`).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.digests import sha256
from codeferry.errors import ImportStepNotAllowedError, MissingPluginError, StepError
from codeferry.known_plugins import distribution_for_requirement, distribution_for_step

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from codeferry.deployments import Step
    from codeferry.plugins import Plugins

__all__ = [
    "ALLOW_IMPORT_STEPS_ENV",
    "IMPORT_PATH",
    "ResolvedStep",
    "current_step_name",
    "import_step",
    "import_steps_allowed",
    "resolve_step",
]

ALLOW_IMPORT_STEPS_ENV = "CODEFERRY_ALLOW_IMPORT_STEPS"
#: The ``origin`` of a step named by an import path.
IMPORT_PATH = "import path"

_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_IMPORT_PATH = re.compile(
    rf"^(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|{_DOTTED}:{_DOTTED}|[^:\s][^:]*\.py:{_DOTTED})$"
)
# Prefect 2.10 to 2.13: prefect.projects was the name of prefect.deployments (in the integration
# packages too), and the steps' names lost their "project" (git_clone_project became git_clone,
# push_project_to_s3 push_to_s3); both names stayed importable for a while.
_RENAMED_MODULES = {
    f"{package}.projects.steps": f"{package}.deployments.steps"
    for package in ("prefect", "prefect_aws", "prefect_gcp", "prefect_azure", "prefect_docker")
}
_RENAMED_STEPS = {
    "git_clone_project": "git_clone",
    "push_project_to_s3": "push_to_s3",
    "pull_project_from_s3": "pull_from_s3",
    "push_project_to_gcs": "push_to_gcs",
    "pull_project_from_gcs": "pull_from_gcs",
    "push_project_to_azure_blob_storage": "push_to_azure_blob_storage",
    "pull_project_from_azure_blob_storage": "pull_from_azure_blob_storage",
}
# Packages whose steps codeferry provides under their names: a name there that no plugin knows
# is not something to import unless that package is installed.
_PREFECT_PACKAGES = re.compile(r"^prefect(?:_\w+)?$")


@dataclass(frozen=True)
class ResolvedStep:
    """A step's function and where it came from (a plugin's distribution, or ``import path``).

    :param name: the name that resolved (the current name, for a deprecated one).
    :param function: ``None`` for an import path: :func:`import_step` imports it when it runs.
    :param note: a one-line note for the user, such as the current name of a deprecated one.
    """

    name: str
    function: Callable[..., Any] | None
    origin: str
    note: str | None = None


def import_steps_allowed(allow: bool | None = None) -> bool:
    """Whether import-path steps may run: ``allow`` if given, else the environment variable."""
    if allow is not None:
        return allow
    from codeferry.settings import flag

    return flag(ALLOW_IMPORT_STEPS_ENV)


def current_step_name(name: str) -> str | None:
    """The current name of a step name Prefect deprecated, or ``None`` when ``name`` is current.

    ``prefect.projects.steps.git_clone_project`` gives ``prefect.deployments.steps.git_clone``.
    """
    module, _, function = name.rpartition(".")
    if not module:
        return None
    current_module = module
    for old, new in _RENAMED_MODULES.items():
        if module == old or module.startswith(old + "."):
            current_module = new + module[len(old) :]
    current_function = function
    if any(current_module.startswith(new) for new in _RENAMED_MODULES.values()):
        current_function = _RENAMED_STEPS.get(function, function)
    current = f"{current_module}.{current_function}"
    return current if current != name else None


def resolve_step(
    step: Step, *, plugins: Plugins | None = None, allow_import_steps: bool | None = None
) -> ResolvedStep:
    """The function ``step`` names (for an allowed import path, only that it may be imported).

    :raises MissingPluginError: no installed plugin provides it, naming the distribution to
        install when ``requires`` or the table of known names tells it.
    :raises ImportStepNotAllowedError: it is an import path and those were not allowed.
    """
    if plugins is None:
        from codeferry.plugins import get_plugins

        plugins = get_plugins()
    entry = plugins.steps.get(step.name)
    if entry is not None:
        return ResolvedStep(step.name, entry.function, entry.distribution)
    current = current_step_name(step.name)
    if current is not None:
        return _renamed(step, current, plugins)
    hint = _hint(step)
    if not _IMPORT_PATH.match(step.name):
        raise MissingPluginError(
            f"{step.label}: no installed plugin provides the step {step.name!r}", hint
        )
    findable = _findable(step.name)
    if import_steps_allowed(allow_import_steps) and (hint is None or findable):
        return ResolvedStep(step.name, None, IMPORT_PATH)
    if hint is not None:
        raise MissingPluginError(
            f"{step.label}: no installed plugin provides the step {step.name!r}", hint
        )
    if _PREFECT_PACKAGES.match(_top_module(step.name)) and not findable:
        raise MissingPluginError(
            f"{step.label}: no installed plugin provides Prefect's step {step.name!r}, and "
            f"{_top_module(step.name)} is not installed to import it from; "
            "`codeferry plugins ls` lists the steps there are"
        )
    raise ImportStepNotAllowedError(
        f"{step.label}: no installed plugin provides the step {step.name!r}; to run it as an "
        f"import path (the deployment file then chooses the code that runs), pass "
        f"--allow-import-steps or set {ALLOW_IMPORT_STEPS_ENV}=1"
    )


def _renamed(step: Step, current: str, plugins: Plugins) -> ResolvedStep:
    entry = plugins.steps.get(current)
    if entry is None:
        raise MissingPluginError(
            f"{step.label}: no installed plugin provides the step {current!r} "
            f"(the current name of {step.name!r})",
            distribution_for_step(current),
        )
    note = f"a name Prefect deprecated; it runs {current!r}: write that name instead"
    return ResolvedStep(current, entry.function, entry.distribution, note)


def _hint(step: Step) -> str | None:
    for requirement in step.requires:
        distribution = distribution_for_requirement(requirement)
        if distribution is not None:
            return distribution
    return distribution_for_step(step.name)


def _top_module(name: str) -> str:
    return re.split(r"[.:]", name, maxsplit=1)[0]


def _findable(name: str) -> bool:
    """Whether the top-level module of ``name`` can be found now (a file path: whether it is)."""
    if ".py:" in name:
        return Path(name.rsplit(":", 1)[0]).is_file()
    top = _top_module(name)
    if (Path.cwd() / top).is_dir() or (Path.cwd() / f"{top}.py").is_file():
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


# -- importing ---------------------------------------------------------------------------------


def import_step(step: Step, search: Iterable[str | Path] = ()) -> Callable[..., Any]:
    """Import the function an import-path step names, as Prefect does when the step runs.

    ``search`` (the working folder, the folder earlier steps pulled code into) comes first on
    ``sys.path`` while the module is imported. ``path/to/file.py:function`` is read from that
    file (relative to the working folder), with its folder importable.

    :raises MissingPluginError: the module or the function is not there.
    :raises StepError: importing the module raised; names the step and the error.
    """
    name = step.name
    try:
        if ".py:" in name:
            file, _, attributes = name.rpartition(":")
            with _importable([Path(file).absolute().parent, *search]):
                found = _from_file(Path(file), attributes)
        else:
            with _importable(search):
                found = _from_module(name)
    except _NotThereError as missing:
        raise MissingPluginError(
            f"{step.label}: {name!r} is neither a registered step nor an importable function "
            f"({missing}; looked in the working folder, the pulled code and the installed "
            "packages)"
        ) from None
    except Exception as error:
        first = (str(error).splitlines() or [""])[0]
        raise StepError(
            f"{step.label}: importing {name!r} raised {type(error).__name__}: {first}"
        ) from error
    if not callable(found):
        raise MissingPluginError(
            f"{step.label}: {name!r} is neither a registered step nor an importable function "
            f"(it is a {type(found).__name__})"
        )
    return found  # type: ignore[no-any-return]


class _NotThereError(Exception):
    """The module or attribute an import path names is missing (the message says which)."""


def _from_module(path: str) -> Any:
    if ":" in path:
        module_name, _, attributes = path.partition(":")
        return _attributes(_module(module_name), attributes)
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):  # the longest importable module first
        module_name = ".".join(parts[:split])
        try:
            module = _module(module_name)
        except _NotThereError:
            continue
        return _attributes(module, ".".join(parts[split:]))
    raise _NotThereError(f"no module {parts[0]!r}")


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and (name == error.name or name.startswith(error.name + ".")):
            raise _NotThereError(f"no module {error.name!r}") from None
        raise  # the module is there, and something it imports is missing


def _attributes(obj: Any, dotted: str) -> Any:
    for attribute in dotted.split("."):
        if not hasattr(obj, attribute):
            raise _NotThereError(f"{getattr(obj, '__name__', obj)!s} has no {attribute!r}")
        obj = getattr(obj, attribute)
    return obj


def _from_file(file: Path, attributes: str) -> Any:
    path = file.absolute()
    if not path.is_file():
        raise _NotThereError(f"no file {path}")
    digest = sha256(str(path).encode()).hexdigest()[:12]
    name = f"codeferry_step_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise _NotThereError(f"{path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return _attributes(module, attributes)


@contextlib.contextmanager
def _importable(folders: Iterable[str | Path]) -> Iterator[None]:
    """``folders`` first on ``sys.path`` while the block runs (as Prefect's ``load_module``)."""
    added = list(dict.fromkeys(str(folder) for folder in folders))
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for folder in added:
            if folder in sys.path:
                sys.path.remove(folder)
