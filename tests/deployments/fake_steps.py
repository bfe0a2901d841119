"""A test plugin: steps and block types whose behaviour the deployment tests control."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from pydantic import Field, SecretStr

from codeferry import hookimpl
from codeferry.blocks import Block
from codeferry.errors import PullError
from codeferry.hookspecs import RegisterBlockType, RegisterStep
from codeferry.steps.context import resolve_template, resolves_templates, write_output
from codeferry.storage import CodeStorage, FetchResult, PullContext

CALLS: list[tuple[str, dict[str, Any]]] = []
FAILURES: dict[str, int] = {}
RELEASE = threading.Event()


class FakeCredentials(Block):
    """Credentials with a secret token."""

    username: str
    token: SecretStr


class FakeRepository(Block):
    """A repository that may hold credentials."""

    url: str
    credentials: FakeCredentials | None = None
    settings: dict[str, Any] = Field(default_factory=dict)


def echo(**arguments: Any) -> dict[str, Any]:
    """Return the arguments it got, as outputs."""
    CALLS.append(("echo", arguments))
    return dict(arguments)


def outputs(**values: Any) -> dict[str, Any]:
    """Return ``values`` as outputs (for id and merge tests)."""
    CALLS.append(("outputs", values))
    return dict(values)


def nothing() -> None:
    CALLS.append(("nothing", {}))


def not_a_mapping() -> Any:
    return ["a", "list"]


def flaky(key: str, failures: int) -> dict[str, Any]:
    """Fail ``failures`` times for ``key``, then succeed."""
    seen = FAILURES.get(key, 0)
    FAILURES[key] = seen + 1
    if seen < failures:
        raise PullError(f"attempt {seen + 1} of {key} failed")
    return {"attempts": seen + 1}


def fail(message: str) -> None:
    raise RuntimeError(message)


def block_until_released(seconds: float = 30.0) -> dict[str, Any]:
    """Wait for the test to release it (bounded), as a step that hangs on the network would."""
    released = RELEASE.wait(seconds)
    return {"released": released}


def say(text: str) -> dict[str, Any]:
    """Print ``text`` through the engine's masked output, and log it."""
    import logging

    write_output(text)
    logging.getLogger("tests.fake_steps").warning("saying %s", text)
    return {}


async def coroutine(value: Any) -> dict[str, Any]:
    return {"value": value}


@resolves_templates("template")
def late(template: Any, other: Any = None, fail_with: str | None = None) -> dict[str, Any]:
    """Receive ``template`` as written, then resolve it (and fail after, when asked)."""
    CALLS.append(("late", {"template": template, "other": other}))
    resolved = resolve_template(template)
    if fail_with is not None:
        raise RuntimeError(f"{fail_with} {resolved}")
    return {"written": template, "resolved": resolved, "other": other}


def slow(seconds: float) -> dict[str, Any]:
    time.sleep(seconds)
    return {"slept": seconds}


class DictStorage(CodeStorage):
    """Code held in a dict; fails after writing ``fail_after`` files when asked to."""

    def __init__(self, name: str, files: dict[str, str], fail_after: int | None = None) -> None:
        self.name, self.files, self.fail_after = name, files, fail_after

    def __str__(self) -> str:
        return f"dict://{self.name}"

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        return {"pull_from_dict": {"name": self.name, "files": self.files}}

    def fetch(self, context: PullContext) -> FetchResult:
        for index, (path, text) in enumerate(sorted(self.files.items())):
            if self.fail_after is not None and index >= self.fail_after:
                raise PullError("connection dropped")
            context.path_for(path).write_text(text)
        return FetchResult(version=str(sorted(self.files.items())), files=len(self.files))


def pull_from_dict(
    name: str, files: dict[str, str], fail_after: int | None = None, keep: int = 3
) -> dict[str, Any]:
    """Pull ``files`` into the checkout of ``dict://name``."""
    return DictStorage(name, files, fail_after).pull_code(keep=keep).as_dict()


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    for block_type in (FakeCredentials, FakeRepository):
        register(block_type)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    steps: list[Callable[..., Any]] = [echo, outputs, nothing, not_a_mapping, flaky, fail, say]
    steps += [coroutine, slow, late, pull_from_dict]
    for step in steps:
        register(step)
    register(block_until_released, aliases=["fake.deployments.steps.block_until_released"])
