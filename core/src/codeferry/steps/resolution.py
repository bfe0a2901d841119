"""Finding the function a step name stands for.

A name resolves through the steps plugins register (short names, fully qualified names and
aliases such as Prefect's). A name no installed plugin provides is an error naming the
distribution to install: from the step's ``requires`` (``prefect-aws`` maps to ``codeferry-s3``)
or from the table of known step names. Any other dotted name is an import path; it runs only
when the user allows it (``allow_import_steps=True``, ``CODEFERRY_ALLOW_IMPORT_STEPS=1`` or the
``--allow-import-steps`` flag), since the deployment file then decides what code runs.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codeferry.errors import ImportStepNotAllowedError, MissingPluginError, StepError
from codeferry.known_plugins import distribution_for_requirement, distribution_for_step

if TYPE_CHECKING:
    from collections.abc import Callable

    from codeferry.deployments import Step
    from codeferry.plugins import Plugins

__all__ = ["ALLOW_IMPORT_STEPS_ENV", "ResolvedStep", "import_steps_allowed", "resolve_step"]

ALLOW_IMPORT_STEPS_ENV = "CODEFERRY_ALLOW_IMPORT_STEPS"
_IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")


@dataclass(frozen=True)
class ResolvedStep:
    """A step's function and where it came from (a plugin's distribution, or ``import path``)."""

    name: str
    function: Callable[..., Any]
    origin: str


def import_steps_allowed(allow: bool | None = None) -> bool:
    """Whether import-path steps may run: ``allow`` if given, else the environment variable."""
    if allow is not None:
        return allow
    from codeferry.settings import flag

    return flag(ALLOW_IMPORT_STEPS_ENV)


def resolve_step(
    step: Step, *, plugins: Plugins | None = None, allow_import_steps: bool | None = None
) -> ResolvedStep:
    """The function ``step`` names.

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
    hint = _hint(step)
    allowed = import_steps_allowed(allow_import_steps)
    if allowed and _IMPORT_PATH.match(step.name):
        try:
            function = _import(step.name)
        except Exception as error:
            first = (str(error).splitlines() or [""])[0]
            raise StepError(
                f"{step.label}: importing {step.name!r} raised {type(error).__name__}: {first}"
            ) from error
        if function is not None:
            return ResolvedStep(step.name, function, "import path")
    if hint is not None or not _IMPORT_PATH.match(step.name):
        raise MissingPluginError(
            f"{step.label}: no installed plugin provides the step {step.name!r}", hint
        )
    if allowed:
        raise MissingPluginError(
            f"{step.label}: {step.name!r} is neither a registered step nor an importable function"
        )
    raise ImportStepNotAllowedError(
        f"{step.label}: no installed plugin provides the step {step.name!r}; to run it as an "
        f"import path (the deployment file then chooses the code that runs), pass "
        f"--allow-import-steps or set {ALLOW_IMPORT_STEPS_ENV}=1"
    )


def _hint(step: Step) -> str | None:
    for requirement in step.requires:
        distribution = distribution_for_requirement(requirement)
        if distribution is not None:
            return distribution
    return distribution_for_step(step.name)


def _import(path: str) -> Callable[..., Any] | None:
    """The callable at ``module.attribute`` (longest importable module first), or ``None``."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name, attributes = ".".join(parts[:split]), parts[split:]
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name is not None and module_name.startswith(error.name):
                continue  # this prefix is not a module; try a shorter one
            raise
        for attribute in attributes:
            obj = getattr(obj, attribute, None)
        return obj if callable(obj) else None
    return None
