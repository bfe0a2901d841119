"""What a running step can ask the engine for: masked output, the time it has left, templates.

Steps that print (a shell command's output, a progress line) write through :func:`write_output`:
on standard error, which is for everything but a command's results, with every secret masked
(:func:`codeferry.secrets.mask`). ``logging`` records made while steps run are masked too (see
:func:`masking_logs`).

A step marked with :func:`resolves_templates` receives the arguments it names as written in the
deployment file, and resolves their templates itself with :func:`resolve_template`, when and
where it wants (``run_shell_script`` splits its script into commands first, so that a value is
always one argument of the command its author wrote).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar

from codeferry import secrets as secret_policy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from codeferry.templating import TemplateContext

__all__ = [
    "current_secrets",
    "mask",
    "masking_logs",
    "remaining_time",
    "resolve_template",
    "resolves_templates",
    "running_step",
    "step_templates",
    "templates_resolved_by",
    "write_output",
]

_StepFunction = TypeVar("_StepFunction", bound="Callable[..., Any]")

_secrets: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "codeferry_step_secrets", default=frozenset()
)
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "codeferry_step_deadline", default=None
)


def current_secrets() -> frozenset[str]:
    """The secret values of the run in progress (empty outside a run)."""
    return _secrets.get()


def mask(text: str) -> str:
    """``text`` with every secret masked (:func:`codeferry.secrets.mask`)."""
    return secret_policy.mask(text)


def remaining_time() -> float | None:
    """Seconds until the running step's ``timeout`` (``None``: no timeout)."""
    deadline = _deadline.get()
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


def write_output(text: str) -> None:
    """Print a line of a step's output on standard error, secrets masked.

    Standard error, always: standard output holds only a command's results, so that
    ``cd "$(codeferry pull)"`` and ``codeferry pull --json | jq`` work whatever the steps print.
    Above the progress display, when one is up.
    """
    from codeferry.terminal import write_line

    write_line(mask(text.rstrip("\n")))


@contextlib.contextmanager
def running_step(secrets: Iterable[str], timeout: float | None) -> Iterator[None]:
    """Set the secrets and deadline a step sees (the engine wraps every step call in it)."""
    secret_policy.remember(*secrets)
    deadline = None if timeout is None else time.monotonic() + timeout
    secrets_token = _secrets.set(frozenset(secrets))
    deadline_token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(deadline_token)
        _secrets.reset(secrets_token)


# -- masking log records -----------------------------------------------------------------------
# A log record factory is the one place every record passes, whatever logger or handler a step
# (or a library it calls) uses; it is installed while at least one run is going on, and masks
# every secret of the process (the threads of a step and of its libraries log too).

_active = 0
_active_lock = threading.Lock()
_original_factory: Any = None


def _masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record: logging.LogRecord = _original_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is logging's problem to report, not ours
        return record
    masked = secret_policy.mask(message)
    if masked != message:
        record.msg, record.args = masked, None
    return record


@contextlib.contextmanager
def masking_logs(secrets: Iterable[str] = ()) -> Iterator[None]:
    """Mask every secret in every log record while the block runs (``secrets`` are remembered)."""
    global _active, _original_factory
    secret_policy.remember(*secrets)
    with _active_lock:
        if not _active:
            _original_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_masking_factory)
        _active += 1
    try:
        yield
    finally:
        with _active_lock:
            _active -= 1
            if not _active and _original_factory is not None:
                logging.setLogRecordFactory(_original_factory)
                _original_factory = None


# -- templates a step resolves itself ----------------------------------------------------------

_RESOLVES_TEMPLATES = "__codeferry_resolves_templates__"
_templates: contextvars.ContextVar[tuple[TemplateContext, str] | None] = contextvars.ContextVar(
    "codeferry_step_templates", default=None
)


def resolves_templates(*arguments: str) -> Callable[[_StepFunction], _StepFunction]:
    """Mark a step that resolves the templates in ``arguments`` itself.

    The engine passes those arguments as the deployment file has them, ``{{ ... }}`` included,
    and resolves every other argument as usual. The step calls :func:`resolve_template` on the
    pieces it wants filled in::

        @resolves_templates("query")
        def run_query(query: str, database: str) -> dict[str, Any]:
            statement, values = split_statement(query)  # placeholders stay placeholders
            rows = execute(statement, [resolve_template(v) for v in values])

    :raises TypeError: an argument is not a parameter of the step.
    """

    def mark(step: _StepFunction) -> _StepFunction:
        import inspect

        parameters = inspect.signature(step).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        unknown = [name for name in arguments if name not in parameters and not takes_any]
        if unknown:
            raise TypeError(f"{step.__name__} has no argument {', '.join(unknown)}")
        setattr(step, _RESOLVES_TEMPLATES, frozenset(arguments))
        return step

    return mark


def templates_resolved_by(step: Callable[..., Any]) -> frozenset[str]:
    """The arguments whose templates ``step`` resolves itself (see :func:`resolves_templates`)."""
    names: frozenset[str] = getattr(step, _RESOLVES_TEMPLATES, frozenset())
    return names


def resolve_template(value: Any, *, text: bool = False) -> Any:
    """``value`` with its templates resolved, as the engine resolves step arguments.

    Inside a run, against the running step's context: the outputs of earlier steps, blocks,
    variables and the environment; the secret values it reveals are masked like every secret of
    the run. Outside a run (a step called from Python), against the environment and the block
    store only. A string that is one placeholder gives the value with its type, unless ``text``:
    then every string resolves to text, as a placeholder inside longer text does (a block has no
    text form: that is an error).

    :raises TemplateError: a reference cannot be resolved, naming the step and the reference.
    """
    from codeferry.templating import TemplateContext, resolve_templates

    current = _templates.get()
    context, label = current if current is not None else (TemplateContext(), "step")
    resolved = resolve_templates(value, context, step=label, text=text)
    if current is not None and context.secrets - _secrets.get():
        # the step's own output is masked with what it revealed from now on
        _secrets.set(_secrets.get() | context.secrets)
    return resolved


@contextlib.contextmanager
def step_templates(context: TemplateContext, label: str) -> Iterator[None]:
    """Make :func:`resolve_template` resolve against ``context`` in the block (the engine's)."""
    token = _templates.set((context, label))
    try:
        yield
    finally:
        _templates.reset(token)
