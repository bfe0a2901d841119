"""What a running step can ask the engine for: masked output and the time it has left.

Steps that print (a shell command's output, a progress line) write through :func:`write_output`:
on standard error, which is for everything but a command's results, with every secret masked
(:func:`codeferry.secrets.mask`). ``logging`` records made while steps run are masked too (see
:func:`masking_logs`).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from codeferry import secrets as secret_policy

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
    """
    sys.stderr.write(mask(text.rstrip("\n")) + "\n")
    sys.stderr.flush()


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
