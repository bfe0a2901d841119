"""Running a list of steps in order: resolution, templating, retries, timeouts, masked errors.

Every step's function is resolved before the first step runs, so an unknown step fails the run
before anything was pulled; an allowed import path is imported just before its step runs, as
Prefect does, so a module in the code an earlier step pulled can be a step. Each step's arguments
are then resolved just before it runs (so a step can use an earlier step's outputs), except those
the step resolves itself (:func:`~codeferry.steps.context.resolves_templates`); the step options
(``id``, ``requires``, ``retries``, ``retry_delay``, ``timeout``) are not passed to it, and its
outputs are recorded in a :class:`~codeferry.steps.outputs.StepOutputs`. An import-path step that
returns something else than a mapping has no outputs (Prefect ignores it too), with a note.
Warnings a step raises (deprecation warnings included) are shown as notes once it returns.

Timeouts: a step with a ``timeout`` runs in a worker thread that the engine waits on for at most
that long. Threads work from any thread and leave ``SIGALRM`` to the user's code, unlike
``signal.alarm``; the price is that Python cannot stop a thread. Steps that start programs read
:func:`~codeferry.steps.context.remaining_time` and kill their program at the deadline, as
``run_shell_script`` does; the engine gives them a short grace period to do so and report it.
A step that ignores its deadline is abandoned (a daemon thread) and the run fails at once.

Secrets revealed by templating, and the values of step arguments under secret names, are
remembered (:mod:`codeferry.secrets`) and masked in the step errors, the progress events, the
output steps write through :func:`~codeferry.steps.context.write_output`, and every ``logging``
record made during the run.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codeferry.errors import (
    CodeferryError,
    DeploymentFileError,
    StepError,
    StepTimeoutError,
    TemplateError,
)
from codeferry.secrets import MASK, is_secret_name, mask, remember_named
from codeferry.steps.context import (
    masking_logs,
    running_step,
    step_templates,
    templates_resolved_by,
)
from codeferry.steps.outputs import StepOutputs

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from codeferry.deployments import Step
    from codeferry.plugins import Plugins
    from codeferry.recorded_outputs import RecordedOutputs
    from codeferry.steps.progress import StepReporter
    from codeferry.steps.resolution import ResolvedStep
    from codeferry.store.blockstore import BlockStore
    from codeferry.templating import TemplateContext

__all__ = ["StepRecord", "StepsResult", "run_steps"]

_MAX_ARGUMENTS_SHOWN = 400
_MAX_RETRY_DELAY = 60.0
_CLEANUP_GRACE = 2.0


@dataclass(frozen=True)
class StepRecord:
    """One step that ran: its outputs, how many attempts it took, and how long."""

    step: Step
    outputs: Mapping[str, Any]
    attempts: int
    seconds: float


@dataclass
class StepsResult:
    """What a run of steps produced."""

    records: list[StepRecord] = field(default_factory=list)
    outputs: StepOutputs = field(default_factory=StepOutputs)
    secrets: set[str] = field(default_factory=set)

    @property
    def directory(self) -> Path | None:
        """Where the code is: the ``directory`` output of the last step that returned one."""
        return self.outputs.directory

    def mask(self, text: str) -> str:
        """``text`` with this run's secrets (and every other known one) masked."""
        return mask(text)


def run_steps(
    steps: Sequence[Step],
    *,
    plugins: Plugins | None = None,
    allow_import_steps: bool | None = None,
    reporter: StepReporter | None = None,
    environ: Mapping[str, str] | None = None,
    store: BlockStore | None = None,
    result: StepsResult | None = None,
    recorded: RecordedOutputs | None = None,
) -> StepsResult:
    """Run ``steps`` in order and return their outputs.

    :param result: a result to continue (``push`` runs after ``build`` and sees its outputs).
    :param recorded: the build and push outputs ``codeferry push`` recorded, for references to
        outputs that no step of this run returned (pull steps use build and push outputs).
    :raises MissingPluginError: a step's plugin is not installed (nothing has run).
    :raises ImportStepNotAllowedError: a step is an import path and those are not allowed.
    :raises TemplateError: a reference in a step's arguments cannot be resolved.
    :raises StepError: a step failed; names the step, its arguments (masked) and the cause.
    """
    from codeferry.steps.progress import StepReporter
    from codeferry.steps.resolution import resolve_step
    from codeferry.templating import TemplateContext

    result = result if result is not None else StepsResult()
    reporter = reporter if reporter is not None else StepReporter()
    _check_ids(steps, result.outputs)
    resolved = [
        resolve_step(step, plugins=plugins, allow_import_steps=allow_import_steps) for step in steps
    ]
    context = TemplateContext(
        outputs=result.outputs,
        environ=environ,
        store=store,
        secrets=result.secrets,
        recorded=recorded,
    )
    with masking_logs(result.secrets), reporter:
        for step, target in zip(steps, resolved, strict=True):
            if target.note is not None:
                reporter.step_note(step.label, target.note)
        for step, target in zip(steps, resolved, strict=True):
            reporter.step_started(step.label)
            try:
                record = _run_one(step, target, context, result.secrets, reporter)
            except CodeferryError as error:
                reporter.step_failed(step.label, mask(str(error)))
                raise
            result.outputs.add(step.label, step.id, record.outputs)
            result.records.append(record)
            reporter.step_finished(step.label, record.seconds)
    return result


def _check_ids(steps: Sequence[Step], outputs: StepOutputs) -> None:
    seen: dict[str, Step] = {}
    for step in steps:
        if step.id is None:
            continue
        if step.id in seen or step.id in outputs.by_id:
            first = seen[step.id].label if step.id in seen else "an earlier step"
            where = f"{step.location}: " if step.location else ""
            raise DeploymentFileError(
                f"{where}{step.label}: id {step.id!r} is already used by {first}"
            )
        seen[step.id] = step


def _run_one(
    step: Step,
    target: ResolvedStep,
    context: TemplateContext,
    secrets: set[str],
    reporter: StepReporter,
) -> StepRecord:
    from codeferry.steps.resolution import import_step
    from codeferry.templating import resolve_templates

    started = time.monotonic()
    function = target.function
    if function is None:
        function = import_step(step, _importable_folders(context))
    unresolved = templates_resolved_by(function)
    arguments = {
        key: value if key in unresolved else resolve_templates(value, context, step=step.label)
        for key, value in step.arguments.items()
    }
    remember_named(arguments)
    shown = _describe_arguments(arguments)
    _check_signature(step, function, arguments, shown)
    delay = step.retry_delay
    attempt = 0
    while True:
        attempt += 1
        try:
            with step_templates(context, step.label), _warnings_shown(step, reporter):
                outputs = _call(function, arguments, step.timeout, secrets)
            break
        except (TemplateError, StepError):
            raise
        except Exception as error:
            cause = mask(_cause(error))
            if attempt > step.retries:
                suffix = f" after {attempt} attempts" if attempt > 1 else ""
                shown = _describe_arguments(arguments)  # the step may have revealed more
                raise StepError(
                    f"{step.label} failed{suffix}: {cause} (arguments: {shown})"
                ) from error
            reporter.step_retrying(step.label, attempt, cause, delay)
            time.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_DELAY)
    shown = _describe_arguments(arguments)
    checked = _check_outputs(step, target=target, outputs=outputs, shown=shown, reporter=reporter)
    return StepRecord(step, checked, attempt, time.monotonic() - started)


def _importable_folders(context: TemplateContext) -> list[Path]:
    """Where an import-path step's module may be: the working folder, then the pulled code."""
    from pathlib import Path

    folders = [Path.cwd()]
    if context.outputs is not None and context.outputs.directory is not None:
        folders.append(context.outputs.directory.absolute())
    return folders


@contextlib.contextmanager
def _warnings_shown(step: Step, reporter: StepReporter) -> Iterator[None]:
    """Show each warning the block raised, once, as Prefect prints a step's warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        try:
            yield
        finally:
            shown: set[str] = set()
            for warning in caught:
                text = " ".join(f"{warning.category.__name__}: {warning.message}".split())
                if text not in shown:
                    shown.add(text)
                    reporter.step_note(step.label, mask(text))


def _check_signature(
    step: Step,
    function: Callable[..., Any],
    arguments: Mapping[str, Any],
    shown: str,
) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # no signature to check (a builtin): let the call decide
        return
    try:
        signature.bind(**arguments)
    except TypeError as error:
        raise StepError(
            mask(f"{step.label}: arguments do not fit the step: {error} ({shown})")
        ) from None


def _call(
    function: Callable[..., Any],
    arguments: Mapping[str, Any],
    timeout: float | None,
    secrets: set[str],
) -> Any:
    if timeout is None:
        with running_step(secrets, None):
            return _invoke(function, arguments)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            with running_step(secrets, timeout):
                box["result"] = _invoke(function, arguments)
        except BaseException as error:  # handed to the waiting thread, which raises it
            box["error"] = error

    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(target,), daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():  # a step that watches remaining_time() is ending: let it clean up
        worker.join(_CLEANUP_GRACE)
    if worker.is_alive():
        raise StepTimeoutError(f"it did not finish within its timeout of {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("result")


def _invoke(function: Callable[..., Any], arguments: Mapping[str, Any]) -> Any:
    result = function(**arguments)
    if inspect.isawaitable(result):  # Prefect's steps may be coroutines
        import asyncio  # only for them: the others' pulls start without it

        result = asyncio.run(_awaited(result))
    return result


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _check_outputs(
    step: Step,
    *,
    target: ResolvedStep,
    outputs: Any,
    shown: str,
    reporter: StepReporter,
) -> Mapping[str, Any]:
    from codeferry.steps.resolution import IMPORT_PATH

    if outputs is None:
        return {}
    if isinstance(outputs, Mapping) and all(isinstance(key, str) for key in outputs):
        return dict(outputs)
    if target.origin == IMPORT_PATH:  # any function may be a step in Prefect, which ignores this
        reporter.step_note(
            step.label,
            f"returned {type(outputs).__name__}, not a mapping of outputs: it has no outputs",
        )
        return {}
    raise StepError(
        mask(
            f"{step.label} returned {type(outputs).__name__}, not a mapping of outputs "
            f"(arguments: {shown})"
        )
    )


def _cause(error: BaseException) -> str:
    if isinstance(error, StepTimeoutError):
        return str(error)
    text = (str(error).strip().splitlines() or [""])[0]
    if isinstance(error, CodeferryError):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _describe_arguments(arguments: Mapping[str, Any]) -> str:
    """The arguments for an error message: secret-named strings and known secrets masked."""

    def hide(value: Any, key: str = "") -> Any:
        if isinstance(value, str) and key and is_secret_name(key):
            return MASK
        if isinstance(value, Mapping):
            return {k: hide(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [hide(v, key) for v in value]
        return value

    text = mask(repr(hide(dict(arguments))))
    if len(text) > _MAX_ARGUMENTS_SHOWN:
        text = text[: _MAX_ARGUMENTS_SHOWN - 3] + "..."
    return text
