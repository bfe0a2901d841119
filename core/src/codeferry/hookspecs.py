"""The ``CodeStorage`` hook specification: everything a codeferry plugin can provide.

A plugin is a module listed under the entry-point group ``codeferry`` in its distribution's
``pyproject.toml``::

    [project.entry-points.codeferry]
    sftp = "codeferry_sftp.plugin"

The module implements any of the hooks below with the :data:`hookimpl` marker, and may leave out
arguments it does not use (hooks grow by adding arguments, never by changing them)::

    from codeferry import hookimpl

    @hookimpl
    def register_block_types(register):
        register(SftpServer)

Plugins are imported the first time codeferry needs one, not when ``codeferry`` is imported. Keep
the entry-point module light: import a backend's heavy libraries (its SDK, fsspec implementation,
network clients) inside the functions that use them, so ``codeferry --help`` stays fast whatever
is installed.

codeferry calls each plugin's implementation of a hook on its own, through pluggy, with the
arguments the implementation names. A hook that raises is reported as a failure of that plugin
(``codeferry plugins ls`` shows it, and so does any error about what the plugin would have
provided); the other plugins keep working. For the same reason a plugin implements each hook at
most once, and hook wrappers (``wrapper=True``, ``hookwrapper=True``) are refused when the plugin
loads: there is nothing of other plugins' for them to wrap.

Versioning: hooks and their arguments are only ever added. A hook or argument that is to go is
deprecated for at least one minor release first, with a warning naming its replacement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from codeferry.blocks import Block
    from codeferry.storage import CodeStorage

__all__ = [
    "PROJECT_NAME",
    "RegisterBlockType",
    "RegisterSourceKind",
    "RegisterStep",
    "hookimpl",
    "hookspec",
]

PROJECT_NAME = "codeferry"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class RegisterBlockType(Protocol):
    """The ``register`` callback of :func:`register_block_types`."""

    def __call__(self, block_type: type[Block], /, *, aliases: Iterable[str] = ()) -> None:
        """Make ``block_type`` known under its ``block_type_slug`` and any ``aliases``."""


class RegisterStep(Protocol):
    """The ``register`` callback of :func:`register_steps`."""

    def __call__(
        self,
        step: Callable[..., Mapping[str, Any] | None],
        /,
        *,
        name: str | None = None,
        aliases: Iterable[str] = (),
    ) -> None:
        """Make ``step`` callable from deployment files by its short name, full name and aliases."""


class RegisterSourceKind(Protocol):
    """The ``register`` callback of :func:`register_source_kinds`."""

    def __call__(self, name: str, /, *, description: str, examples: Iterable[str] = ()) -> None:
        """Describe a kind of source the plugin's :func:`storage_from_source` accepts."""


@hookspec
def register_block_types(register: RegisterBlockType) -> None:
    """Register the block types the plugin provides.

    Called once per process, the first time block types are needed (``codeferry block ...``,
    :meth:`Block.load <codeferry.Block.load>`, templating ``{{ blocks.SLUG.NAME }}``).

    :param register: call ``register(BlockClass)`` for each :class:`~codeferry.Block` subclass.
        The slug is the class's ``block_type_slug``. ``aliases`` are further slugs that load the
        same class, such as an incumbent's slug
        (``register(GitHubCredentials, aliases=["github-creds"])``).
        A slug another plugin already registered raises
        :class:`~codeferry.errors.DuplicateRegistrationError` naming both distributions.
    :returns: nothing.

    .. versionadded:: 0.1
    """


@hookspec
def register_steps(register: RegisterStep) -> None:
    """Register the deployment-file steps the plugin provides.

    Called once per process, the first time a step is resolved or listed.

    A step is a plain function taking keyword arguments and returning a mapping of outputs
    (or ``None``). A pull step returns at least ``directory``, the folder its code is in. The
    ``{{ ... }}`` templates in its arguments are resolved before it is called, except in the
    arguments it names with :func:`codeferry.steps.context.resolves_templates`, which it fills
    in itself with :func:`codeferry.steps.context.resolve_template`.

    :param register: call ``register(function)`` for each step. A step is found by its short
        ``name`` (default: the function's ``__name__``, such as ``set_working_directory``), its
        fully qualified name (``module.function``, such as
        ``codeferry_local.steps.set_working_directory``)
        and each of ``aliases`` (such as ``prefect.deployments.steps.set_working_directory``, so
        existing ``prefect.yaml`` files run). A name another plugin already registered raises
        :class:`~codeferry.errors.DuplicateRegistrationError` naming both distributions.
    :returns: nothing.

    .. versionadded:: 0.1
    """


@hookspec
def register_source_kinds(register: RegisterSourceKind) -> None:
    """Describe the sources the plugin's :func:`storage_from_source` understands.

    Called once per plugin, when the plugin is loaded. Used for listings and help only
    (``codeferry plugins ls``); resolution is done by :func:`storage_from_source`.

    :param register: call it once per kind of source, such as
        ``register("s3", description="S3 buckets", examples=["s3://bucket/folder"])``.
    :returns: nothing.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def storage_from_source(source: str | Block) -> CodeStorage | None:
    """Turn a source into a storage object, if this plugin understands it.

    Called by ``codeferry pull SOURCE``, ``codeferry run SOURCE ENTRYPOINT`` and
    :func:`codeferry.from_source` for every source that is not already a
    :class:`~codeferry.CodeStorage`. Plugins are asked by tier, and the first tier in which a
    plugin claims the source decides:

    1. ``@hookimpl(tryfirst=True)``: specific claims, such as an archive plugin's
       ``https://host/org/repo/archive/v1.tar.gz``, which a git host plugin could also read;
    2. plain ``@hookimpl``: the usual claim of a scheme or a host;
    3. ``@hookimpl(trylast=True)``: generic fallbacks that claim what no specific plugin would,
       such as plain local paths or any URL fsspec can open.

    Two plugins claiming one source in the same tier is an error naming both (the user disables
    one with ``CODEFERRY_DISABLE_PLUGINS``), never a silent choice; so claim only the sources you
    are sure are yours.

    :param source: a string (a path, or a URL such as ``s3://bucket/folder``) or a saved
        :class:`~codeferry.Block` that is not itself a storage (such as a repository block).
    :returns: a :class:`~codeferry.CodeStorage`, or ``None`` when the source is not this plugin's.
        Raise :class:`~codeferry.errors.CodeferryError` when the source is this plugin's but is
        malformed, with a message naming what is wrong.

    .. versionadded:: 0.1
    """
