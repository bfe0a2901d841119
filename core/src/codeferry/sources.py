"""The Python API for code kept somewhere: ``codeferry.from_source(source, entrypoint)``.

::

    hello = codeferry.from_source("https://github.com/acme/flows.git", "flows/hello.py:hello")
    hello(name="Ada")            # pull (incremental, atomic), load, call
    hello.to_deployment_file("codeferry.yaml", name="hello")

A long-running worker keeps its code fresh with :func:`keep_pulling` or a :class:`Puller`
thread: each pull builds the new version beside the current one, so runs in progress keep
theirs.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from typing import TYPE_CHECKING, Any

from codeferry.errors import CodeferryError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from codeferry.blocks import Block
    from codeferry.plugins import Plugins
    from codeferry.storage import CodeStorage, PullResult

__all__ = ["Puller", "SourceEntrypoint", "from_source", "keep_pulling"]


class SourceEntrypoint:
    """An entrypoint in code kept in a storage: pull it, load it, call it.

    :param storage: where the code is.
    :param entrypoint: ``path/file.py:function`` or ``package.module.function`` in that code.
    :param keep: how many old versions of the checkout to keep (besides those in use).
    """

    def __init__(self, storage: CodeStorage, entrypoint: str, *, keep: int = 3) -> None:
        from codeferry.entrypoints import parse_entrypoint

        parse_entrypoint(entrypoint)
        self.storage = storage
        self.entrypoint = entrypoint
        self.keep = keep

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.storage)!r}, {self.entrypoint!r})"

    def pull(self, dest: str | Path | None = None) -> PullResult:
        """Pull the code (into its checkout in the home folder, or behind ``dest``)."""
        return self.storage.pull_code(dest, keep=self.keep)

    def load(self, dest: str | Path | None = None) -> Any:
        """Pull the code, then import the entrypoint from it and return the object it names."""
        from codeferry.entrypoints import load_entrypoint

        return load_entrypoint(self.entrypoint, self.pull(dest).directory)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Pull, load and call the entrypoint; its version is held while it runs.

        Exceptions the entrypoint raises propagate unchanged; a coroutine result is awaited.
        """
        from codeferry.checkouts import hold_version
        from codeferry.entrypoints import load_entrypoint

        pulled = self.pull()
        with hold_version(pulled.directory):
            function = load_entrypoint(self.entrypoint, pulled.directory)
            result = function(*args, **kwargs)
            if inspect.isawaitable(result):
                result = asyncio.run(_awaited(result))
            return result

    def to_deployment_file(
        self,
        path: str | Path = "codeferry.yaml",
        *,
        name: str | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write the ``codeferry.yaml`` that pulls the same code and runs the same entrypoint."""
        from codeferry.deployments import write_deployment_file
        from codeferry.entrypoints import parse_entrypoint

        default = parse_entrypoint(self.entrypoint).attribute.rsplit(".", 1)[-1].replace("_", "-")
        return write_deployment_file(
            path,
            name=name or default,
            entrypoint=self.entrypoint,
            pull=[self.storage.to_pull_step()],
            overwrite=overwrite,
        )

    def keep_pulling(
        self,
        interval: float,
        stop: threading.Event,
        *,
        dest: str | Path | None = None,
        on_pull: Callable[[PullResult], None] | None = None,
        on_error: Callable[[CodeferryError], None] | None = None,
    ) -> int:
        """Pull every ``interval`` seconds until ``stop`` is set; see :func:`keep_pulling`."""
        return keep_pulling(
            self.storage,
            interval,
            stop,
            dest=dest,
            keep=self.keep,
            on_pull=on_pull,
            on_error=on_error,
        )


def from_source(
    source: str | Block | CodeStorage,
    entrypoint: str,
    *,
    keep: int = 3,
    plugins: Plugins | None = None,
) -> SourceEntrypoint:
    """The entrypoint ``entrypoint`` in the code at ``source``.

    :param source: a path, a URL (``s3://bucket/flows``, ``https://github.com/acme/flows.git``),
        ``block:SLUG/NAME``, a storage object (``GitRepository(...)``) or a saved storage block.
    :raises SourceNotSupportedError: no installed plugin understands ``source``.
    :raises EntrypointError: ``entrypoint`` is malformed.
    """
    if plugins is None:
        from codeferry.plugins import get_plugins

        plugins = get_plugins()
    return SourceEntrypoint(plugins.storage_from_source(source), entrypoint, keep=keep)


def keep_pulling(
    storage: CodeStorage,
    interval: float,
    stop: threading.Event,
    *,
    dest: str | Path | None = None,
    keep: int = 3,
    on_pull: Callable[[PullResult], None] | None = None,
    on_error: Callable[[CodeferryError], None] | None = None,
) -> int:
    """Pull ``storage`` now and then every ``interval`` seconds, until ``stop`` is set.

    A pull that fails with a :class:`~codeferry.errors.CodeferryError` keeps the current version
    and is handed to ``on_error`` (the loop goes on: storage may come back); other exceptions
    end the loop. ``interval`` is counted from the end of one pull to the start of the next.

    :returns: how many pulls succeeded.
    """
    if interval <= 0:
        raise ValueError("interval must be a number of seconds > 0")
    pulls = 0
    while not stop.is_set():
        try:
            result = storage.pull_code(dest, keep=keep)
        except CodeferryError as error:
            if on_error is not None:
                on_error(error)
        else:
            pulls += 1
            if on_pull is not None:
                on_pull(result)
        stop.wait(interval)
    return pulls


class Puller:
    """Re-pull a storage every ``pull_interval`` seconds in a background thread.

    ::

        with Puller(storage, pull_interval=60) as puller:
            serve_forever()          # runs load code from puller.last.directory

    ``last`` is the latest successful pull, ``error`` the latest failure (cleared by a success).
    """

    def __init__(
        self,
        storage: CodeStorage,
        pull_interval: float,
        *,
        dest: str | Path | None = None,
        keep: int = 3,
    ) -> None:
        self.storage = storage
        self.pull_interval = pull_interval
        self.dest = dest
        self.keep = keep
        self.last: PullResult | None = None
        self.error: CodeferryError | None = None
        self.pulls = 0
        self._stop = threading.Event()
        self._pulled = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> Puller:
        """Start pulling in a daemon thread (the first pull starts at once)."""
        if self._thread is not None:
            raise RuntimeError("this Puller was started already")
        self._thread = threading.Thread(target=self._loop, name="codeferry-puller", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the pull in progress, if any, and wait up to ``timeout`` seconds for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_for_pulls(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` pulls succeeded in all; ``False`` if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._pulled:
            while self.pulls < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pulled.wait(left)
            return True

    def _loop(self) -> None:
        keep_pulling(
            self.storage,
            self.pull_interval,
            self._stop,
            dest=self.dest,
            keep=self.keep,
            on_pull=self._record,
            on_error=self._fail,
        )

    def _record(self, result: PullResult) -> None:
        with self._pulled:
            self.last, self.error = result, None
            self.pulls += 1
            self._pulled.notify_all()

    def _fail(self, error: CodeferryError) -> None:
        self.error = error

    def __enter__(self) -> Puller:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
