"""What a running step can ask the engine for: masked output and the time it has left.

Steps that print (a shell command's output, a progress line) write through :func:`write_output`,
so secret values that templating revealed for this run are masked. ``logging`` records made
while steps run are masked too (see :func:`masking_logs`).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from codeferry.redact import mask_secrets

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "current_secrets",
    "mask",
    "masking_logs",
    "remaining_time",
    "running_step",
    "write_output",
]

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
    """``text`` with the run's secret values and URL credentials masked."""
    return mask_secrets(text, _secrets.get())


def remaining_time() -> float | None:
    """Seconds until the running step's ``timeout`` (``None``: no timeout)."""
    deadline = _deadline.get()
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


def write_output(text: str, *, stderr: bool = False) -> None:
    """Print a line of a step's output, secrets masked."""
    stream = sys.stderr if stderr else sys.stdout
    stream.write(mask(text.rstrip("\n")) + "\n")
    stream.flush()


@contextlib.contextmanager
def running_step(secrets: Iterable[str], timeout: float | None) -> Iterator[None]:
    """Set the secrets and deadline a step sees (the engine wraps every step call in it)."""
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
# (or a library it calls) uses; it is installed while at least one run with secrets is going on.

_active: dict[int, set[str]] = {}
_active_lock = threading.Lock()
_original_factory: Any = None


def _masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record: logging.LogRecord = _original_factory(*args, **kwargs)
    with _active_lock:
        # list(a_set) runs without releasing the GIL, so a run adding a secret cannot break it
        secrets = [secret for live in _active.values() for secret in list(live)]
    if secrets:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem to report, not ours
            return record
        record.msg, record.args = mask_secrets(message, secrets), None
    return record


@contextlib.contextmanager
def masking_logs(secrets: set[str]) -> Iterator[None]:
    """Mask ``secrets`` in every log record while the block runs (values added later too)."""
    global _original_factory
    key = id(secrets)
    with _active_lock:
        if not _active:
            _original_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_masking_factory)
        _active[key] = secrets
    try:
        yield
    finally:
        with _active_lock:
            _active.pop(key, None)
            if not _active and _original_factory is not None:
                logging.setLogRecordFactory(_original_factory)
                _original_factory = None
