"""Running a deployment file's sections: pull the code, run a deployment, push the code.

Steps run from the folder the deployment file is in, so ``codeferry pull -f project/codeferry.yaml``
does what ``cd project && codeferry pull`` does; the working folder is restored afterwards. Where
the code is after the pull steps is the ``directory`` output of the last step that returned one
(as Prefect's workers do), else the working folder the steps left (``set_working_directory``).

Templates outside the steps are resolved where they are used
(:mod:`codeferry.deployment_templates`): a deployment is found by its resolved name, ``run``
resolves its ``entrypoint`` and ``parameters`` before any step runs, and ``push``, which plays the
part of ``prefect deploy``, resolves every field of the deployment with the outputs of the build
and push steps, then records those outputs for the pull steps of later runs
(:mod:`codeferry.push_outputs`).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.digests import sha256
from codeferry.errors import CodeferryError, EntrypointError, PullError, UserCodeError
from codeferry.steps.engine import StepsResult

if TYPE_CHECKING:
    from collections.abc import Sequence

    from codeferry.deployments import Deployment, DeploymentFile
    from codeferry.plugins import Plugins
    from codeferry.recorded_outputs import RecordedOutputs
    from codeferry.steps.progress import StepReporter

__all__ = [
    "DeploymentPull",
    "DeploymentPush",
    "pull_deployment",
    "push_deployment",
    "run_deployment",
]


@dataclass(frozen=True)
class DeploymentPull:
    """Where a deployment's pull steps put the code, and what each step returned."""

    directory: Path
    file: Path | None
    deployment: str | None
    steps: StepsResult
    link: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, secrets masked."""
        return {
            "directory": str(self.directory),
            "link": str(self.link) if self.link is not None else None,
            "file": str(self.file) if self.file is not None else None,
            "deployment": self.deployment,
            "steps": steps_as_list(self.steps),
        }


@dataclass
class DeploymentPush(StepsResult):
    """What ``push`` did: the build and push steps' outputs, the deployments with every template
    resolved, and the name of the record of the outputs (``None`` when no step ran)."""

    deployments: list[Deployment] = field(default_factory=list)
    recorded: str | None = None


def steps_as_list(result: StepsResult) -> list[dict[str, Any]]:
    """Each step that ran, with its outputs as JSON values (others as text), secrets masked."""
    listed = []
    for record in result.records:
        outputs = json.loads(result.mask(json.dumps(dict(record.outputs), default=str)))
        listed.append(
            {
                "section": record.step.section,
                "index": record.step.index,
                "name": record.step.name,
                "id": record.step.id,
                "attempts": record.attempts,
                "seconds": round(record.seconds, 3),
                "outputs": outputs,
            }
        )
    return listed


def pull_deployment(
    file: str | Path | DeploymentFile | None = None,
    deployment: str | None = None,
    *,
    dest: str | Path | None = None,
    replace: bool = False,
    allow_import_steps: bool | None = None,
    reporter: StepReporter | None = None,
    plugins: Plugins | None = None,
) -> DeploymentPull:
    """Run the pull steps of ``deployment`` (or of the file) and say where the code is.

    :param file: the deployment file (default: ``codeferry.yaml`` or ``prefect.yaml`` here).
    :param deployment: whose pull steps to run; default the only deployment, or the file's.
    :param dest: also make this path a link to where the code is.
    :param replace: ``dest`` may link to the code of another checkout: replace it (else refused).
    :raises DeploymentFileError: the file has an error in what the pull runs (found before any
        step runs, by :func:`codeferry.checks.checked_for_run`); errors elsewhere are warnings.
    :raises CodeferryError: the file is malformed, a step is unknown or fails (a failed pull
        leaves the previous checkout as it was).
    """
    from codeferry.deployment_templates import listed_name
    from codeferry.recorded_outputs import RecordedOutputs

    parsed, runs = _checked(
        file, deployment, ("pull",), plugins, allow_import_steps, fields=("name",)
    )
    chosen = runs["pull"]
    recorded = RecordedOutputs(parsed, chosen)
    with contextlib.chdir(parsed.directory):
        result = _run(
            parsed.steps("pull", chosen), allow_import_steps, reporter, plugins, recorded=recorded
        )
        directory = _code_directory(result)
    link = _link(Path(dest), directory, replace=replace) if dest is not None else None
    return DeploymentPull(
        directory,
        parsed.path,
        listed_name(chosen) if chosen is not None else None,
        result,
        link,
    )


def run_deployment(
    file: str | Path | DeploymentFile | None,
    deployment: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    allow_import_steps: bool | None = None,
    reporter: StepReporter | None = None,
    plugins: Plugins | None = None,
) -> Any:
    """Pull ``deployment``'s code, then load its entrypoint from there and call it.

    The deployment's ``parameters`` are default keyword arguments; ``kwargs`` override them. The
    entrypoint is imported only after the pull steps ran, from the folder they left the code in,
    with that folder as the working folder; the version being run is held so that no cleanup
    removes it while it runs.

    :returns: what the entrypoint returned (awaited if it is a coroutine).
    :raises EntrypointError: the deployment has no entrypoint, or it is not in the code.
    :raises UserCodeError: the entrypoint raised (its exception is the ``__cause__``).
    """
    from codeferry.checkouts import hold_version
    from codeferry.deployment_templates import resolve_deployment
    from codeferry.entrypoints import call, load_entrypoint, parse_entrypoint
    from codeferry.recorded_outputs import RecordedOutputs
    from codeferry.steps.context import masking_logs
    from codeferry.templating import TemplateContext

    parsed, runs = _checked(
        file,
        deployment,
        ("pull",),
        plugins,
        allow_import_steps,
        named=True,
        fields=("name", "entrypoint", "parameters"),
    )
    found = runs["pull"]
    assert found is not None  # named: a deployment, never the file's own steps
    recorded = RecordedOutputs(parsed, found)
    result = StepsResult()
    # Resolved before any step runs, so a bad reference changes nothing; a deployment's fields
    # see the build and push outputs, as in Prefect, not the pull steps' outputs.
    chosen = resolve_deployment(
        found,
        TemplateContext(secrets=result.secrets, recorded=recorded),
        fields=("name", "entrypoint", "parameters"),
    )
    if not chosen.entrypoint:
        raise EntrypointError(f"deployment {deployment!r} has no entrypoint")
    entrypoint = parse_entrypoint(chosen.entrypoint)
    with contextlib.chdir(parsed.directory):
        _run(
            parsed.steps("pull", found),
            allow_import_steps,
            reporter,
            plugins,
            result=result,
            recorded=recorded,
        )
        directory = _code_directory(result)
        with hold_version(directory), contextlib.chdir(directory), masking_logs(result.secrets):
            function = load_entrypoint(entrypoint, directory)
            defaults = _unfilled(function, chosen.parameters, len(args))
            arguments = {**defaults, **(kwargs or {})}
            try:
                return call(function, list(args), arguments)
            except UserCodeError as error:
                masked = result.mask(str(error))
                if masked == str(error):
                    raise
                raise UserCodeError(masked) from error.__cause__


def push_deployment(
    file: str | Path | DeploymentFile | None = None,
    deployment: str | None = None,
    *,
    allow_import_steps: bool | None = None,
    reporter: StepReporter | None = None,
    plugins: Plugins | None = None,
) -> DeploymentPush:
    """Run the build steps, then the push steps (which see the build steps' outputs).

    Then, as ``prefect deploy`` does, every field of the deployment (of each deployment of the
    file, when none was chosen) is resolved with those outputs, and the outputs are recorded in
    the block store for the pull steps that refer to them (:mod:`codeferry.push_outputs`).

    :raises TemplateError: a reference in a step or a deployment cannot be resolved (the
        outputs are then not recorded).
    """
    from codeferry.deployment_templates import deployment_name, resolve_deployment
    from codeferry.push_outputs import record_push_outputs
    from codeferry.templating import TemplateContext

    parsed, runs = _checked(file, deployment, ("build", "push"), plugins, allow_import_steps)
    build_for, push_for = runs["build"], runs["push"]
    chosen = build_for or push_for
    result = DeploymentPush()
    with contextlib.chdir(parsed.directory):
        _run(parsed.steps("build", build_for), allow_import_steps, reporter, plugins, result=result)
        _run(parsed.steps("push", push_for), allow_import_steps, reporter, plugins, result=result)
    context = TemplateContext(outputs=result.outputs, secrets=result.secrets)
    targets = [chosen] if chosen is not None else list(parsed.deployments)
    result.deployments = [resolve_deployment(target, context) for target in targets]
    if result.records:
        name = deployment_name(chosen, context) if chosen is not None else None
        result.recorded = record_push_outputs(parsed, name, result)
    return result


# -- helpers -----------------------------------------------------------------------------------


def _checked(
    file: str | Path | DeploymentFile | None,
    deployment: str | None,
    sections: tuple[str, ...],
    plugins: Plugins | None,
    allow_import_steps: bool | None,
    *,
    named: bool = False,
    fields: Sequence[str] | None = None,
) -> tuple[DeploymentFile, dict[str, Deployment | None]]:
    """The file, checked before any step runs; for each section, whose steps run."""
    from codeferry.checks import checked_for_run

    return checked_for_run(
        file,
        deployment,
        sections,
        named=named,
        fields=fields,
        plugins=plugins,
        allow_import_steps=allow_import_steps,
    )


def _run(
    steps: Sequence[Any],
    allow_import_steps: bool | None,
    reporter: StepReporter | None,
    plugins: Plugins | None,
    *,
    result: StepsResult | None = None,
    recorded: RecordedOutputs | None = None,
) -> StepsResult:
    from codeferry.steps.engine import run_steps

    return run_steps(
        steps,
        plugins=plugins,
        allow_import_steps=allow_import_steps,
        reporter=reporter,
        result=result,
        recorded=recorded,
    )


def _unfilled(function: Any, parameters: Mapping[str, Any], positional: int) -> dict[str, Any]:
    """The deployment's parameters less those that positional arguments fill."""
    import inspect

    try:
        names = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return dict(parameters)
    filled = set(names[:positional])
    return {key: value for key, value in parameters.items() if key not in filled}


def _code_directory(result: StepsResult) -> Path:
    directory = result.directory
    if directory is None:
        return Path.cwd()
    directory = Path(directory).expanduser()
    directory = directory if directory.is_absolute() else Path.cwd() / directory
    if not directory.is_dir():
        raise PullError(f"the pull steps said the code is in {directory}, which is not a folder")
    return directory


def _link(dest: Path, directory: Path, *, replace: bool) -> Path:
    """Make ``dest`` a symbolic link to ``directory``.

    Only a new name, an empty folder or a link codeferry made is replaced, and a link to the code
    of another checkout only with ``replace``. The link leads into the codeferry home (to a
    version folder, or to a link kept there for code outside it), which is how a later pull knows
    it as codeferry's.
    """
    from codeferry import settings
    from codeferry.checkouts import destination_path, link_target

    dest = destination_path(dest)
    target = link_target(dest)
    if target is None:
        if dest.is_dir() and not any(dest.iterdir()):
            dest.rmdir()
        elif dest.exists():
            raise CodeferryError(
                f"destination {dest} already exists and is not a link made by codeferry; "
                "give a new or empty folder"
            )
    elif not replace and _code_of(target) != _code_of(directory):
        raise PullError(
            f"destination {dest} holds {_describe_code(target)}, not {_describe_code(directory)}; "
            "pull with replace (--replace) to replace it"
        )
    pointer = directory.resolve()
    home = Path(os.path.realpath(settings.home()))
    if not pointer.is_relative_to(home):
        digest = sha256(str(dest).encode()).hexdigest()[:16]
        pointer = _replace_link(home / "links" / f"{dest.name}-{digest}", pointer)
    return _replace_link(dest, pointer)


def _replace_link(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    temporary = link.with_name(f".{link.name}.{uuid.uuid4().hex}")
    temporary.symlink_to(target, target_is_directory=True)
    temporary.replace(link)
    return link


def _code_of(path: Path) -> Path:
    """What a folder of code is: the checkout it is a version of, else the folder itself."""
    resolved = path.resolve()
    for candidate in (resolved, *resolved.parents):
        meta = candidate.with_name(f"{candidate.name}.json")
        if candidate.parent.name == "versions" and meta.is_file():
            return candidate.parent.parent
    return resolved


def _describe_code(path: Path) -> str:
    code = _code_of(path)
    if code != path.resolve() or (code / "versions").is_dir():
        from codeferry.checkouts import Checkout

        current = Checkout(code).current
        if current is not None and current.source:
            return current.source
    return str(path.resolve())
