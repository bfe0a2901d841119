"""Plugin discovery and the registries built from the hooks in :mod:`codeferry.hookspecs`.

Plugins are found through the entry-point group ``codeferry`` (the table is kept between runs
until an install changes it: :mod:`codeferry.entry_point_table`) and loaded on first need. Each hook
is called plugin by plugin, so that one plugin that fails to import or raises is reported (which
plugin, which error) while the others keep working.

Operators can steer discovery with environment variables:

``CODEFERRY_PLUGINS``
    Comma-separated plugin or distribution names: load only these (core's own plugins always
    load).
``CODEFERRY_DISABLE_PLUGINS``
    Comma-separated plugin or distribution names never to load.

A name in either that is no installed plugin or distribution is an error, not a silent no-op.
``CODEFERRY_TRACE_HOOKS``
    When set to ``1``, every hook call is written to standard error.

A plugin whose distribution declares a range of codeferry that this one is outside of is not
imported; it is listed as failed to load, with the range (:mod:`codeferry.compatibility`).
"""

from __future__ import annotations

import importlib
import re
import sys
import threading
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from codeferry import __version__, hookspecs, settings
from codeferry.entry_point_table import PluginEntryPoint, entry_points
from codeferry.errors import (
    BlockError,
    DuplicateRegistrationError,
    MissingPluginError,
    PluginError,
    SourceNotSupportedError,
)
from codeferry.known_plugins import (
    distribution_for_block_type,
    distribution_for_source,
    distribution_for_step,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from codeferry.blocks import Block
    from codeferry.storage import CodeStorage

__all__ = [
    "ENTRY_POINT_GROUP",
    "BlockTypeInfo",
    "PluginInfo",
    "Plugins",
    "SourceKind",
    "StepInfo",
    "get_plugins",
    "set_plugins",
]

ENTRY_POINT_GROUP = "codeferry"
CORE_PLUGIN = "codeferry"
# What core itself provides, registered as plugins like any other: name -> module.
BUILTIN_PLUGINS = {CORE_PLUGIN: "codeferry.core_plugin", "remote": "codeferry.remote.plugin"}
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_STEP_NAME_RE = re.compile(r"^[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class SourceKind:
    """A kind of source a plugin understands, for listings and help."""

    name: str
    description: str
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class BlockTypeInfo:
    """A block type and the plugin that registered it."""

    slug: str
    block_type: type[Block]
    plugin: str
    distribution: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepInfo:
    """A deployment-file step and the plugin that registered it."""

    name: str
    qualified_name: str
    aliases: tuple[str, ...]
    function: Callable[..., Mapping[str, Any] | None]
    plugin: str
    distribution: str


@dataclass
class PluginInfo:
    """One plugin: where it comes from, what it registered, whether it works."""

    name: str
    distribution: str
    version: str | None
    module: str
    status: str = "ok"
    errors: list[str] = field(default_factory=list)
    block_types: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    source_kinds: list[SourceKind] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.status = "error"
        self.errors.append(message)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "status": self.status,
            "errors": list(self.errors),
            "block_types": list(self.block_types),
            "steps": list(self.steps),
            "source_kinds": [
                {"name": k.name, "description": k.description, "examples": list(k.examples)}
                for k in self.source_kinds
            ],
        }


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


_Entry = TypeVar("_Entry", BlockTypeInfo, StepInfo)
_Collection = TypeVar("_Collection")

_NAME_RULES = {
    "block type": (_SLUG_RE, "block type slug {!r} is not lowercase-with-dashes"),
    "step": (_STEP_NAME_RE, "step name {!r} is not a dotted Python name"),
}


def _enter(
    found: dict[str, _Entry], entry: _Entry, names: Iterable[str], thing: object, kind: str
) -> None:
    """Enter ``entry`` (registering ``thing``) under each of ``names``: all of them or none.

    A name that breaks the rule for ``kind`` is refused, and so is one entered for another thing.
    """
    pattern, bad_name = _NAME_RULES[kind]
    names = list(dict.fromkeys(names))
    for name in names:
        if not pattern.match(name):
            raise PluginError(bad_name.format(name))
        held = found.get(name)
        if held is not None and _registered(held) is not thing:
            raise DuplicateRegistrationError(
                f"{kind} {name!r} is registered by both {held.distribution} and "
                f"{entry.distribution}"
            )
    for name in names:
        found[name] = entry


def _registered(entry: BlockTypeInfo | StepInfo) -> object:
    return entry.block_type if isinstance(entry, BlockTypeInfo) else entry.function


class Plugins:
    """The plugins of one process and the block types, steps and sources they provide.

    ``Plugins()`` discovers installed plugins through entry points. Tests and embedders pass
    ``modules`` (name to module or dotted module path) and ``entry_points=False`` to use exactly
    those plugins.
    """

    def __init__(
        self,
        modules: Mapping[str, ModuleType | str] | None = None,
        *,
        entry_points: bool = True,
    ) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.manager.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._collections: dict[str, Any] = {}  # block types, steps: collected on first use
        self._lock = threading.RLock()
        self._trace = settings.flag("CODEFERRY_TRACE_HOOKS")
        for name, module_name in BUILTIN_PLUGINS.items():
            self._load(name, module_name, CORE_PLUGIN, __version__)
        for name, module in (modules or {}).items():
            self._load(name, module, name, None)
        if entry_points:
            self._load_entry_points()

    # -- loading -------------------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        only = settings.names("CODEFERRY_PLUGINS")
        blocked = settings.names("CODEFERRY_DISABLE_PLUGINS") or set()
        found = entry_points(ENTRY_POINT_GROUP)
        _check_switches(found, {"CODEFERRY_PLUGINS": only, "CODEFERRY_DISABLE_PLUGINS": blocked})
        for ep in found:
            dist = ep.distribution
            wanted = {ep.name, dist}
            if (only is not None and not wanted & only) or wanted & blocked:
                continue
            if ep.name in self.plugins:
                info = self.plugins[ep.name]
                info.fail(f"plugin name {ep.name!r} is used by both {info.distribution} and {dist}")
                continue
            if ep.refused:  # made for another codeferry: not imported at all
                info = PluginInfo(ep.name, dist, ep.version, ep.value, status="failed to load")
                info.errors.append(ep.refused)
                self.plugins[ep.name] = info
                continue
            self._load(ep.name, ep.value, dist, ep.version)

    def _load(
        self, name: str, module: ModuleType | str, distribution: str, version: str | None
    ) -> None:
        module_name = module if isinstance(module, str) else module.__name__
        info = PluginInfo(name, distribution, version, module_name)
        self.plugins[name] = info
        try:
            loaded = importlib.import_module(module) if isinstance(module, str) else module
            self.manager.register(loaded, name=name)
        except Exception as error:  # a broken plugin must not take the others down
            info.status = "failed to load"
            info.errors.append(_describe(error))
            return
        try:
            self.manager.check_pending()
        except pluggy.PluginValidationError as error:
            self.manager.unregister(name=name)
            info.status = "failed to load"
            info.errors.append(f"{error} (misspelled hook name?)")
            return
        refused = _unsupported_implementations(self.manager, name)
        if refused:
            self.manager.unregister(name=name)
            info.status = "failed to load"
            info.errors.append(refused)
            return
        self._register_source_kinds(info)

    # -- calling hooks one plugin at a time ----------------------------------------------------

    def _plugins_implementing(self, hook_name: str) -> list[PluginInfo]:
        """The loaded plugins implementing ``hook_name``, in load order."""
        implementing = {
            impl.plugin_name for impl in getattr(self.manager.hook, hook_name).get_hookimpls()
        }
        return [info for name, info in self.plugins.items() if name in implementing]

    def _call(self, hook_name: str, info: PluginInfo, **kwargs: Any) -> Any:
        """Call one plugin's implementation of ``hook_name`` through pluggy, by argument name.

        pluggy hands each implementation the arguments it names and nothing else, which is what
        lets a hook grow new arguments without breaking older plugins.
        """
        others = [
            plugin
            for name, plugin in self.manager.list_name_plugin()
            if name != info.name and plugin is not None
        ]
        caller = self.manager.subset_hook_caller(hook_name, remove_plugins=others)
        if self._trace:
            print(f"codeferry: hook {hook_name} -> {info.name}", file=sys.stderr)
        return caller(**kwargs)

    def _register_source_kinds(self, info: PluginInfo) -> None:
        if info not in self._plugins_implementing("register_source_kinds"):
            return

        def register(name: str, /, *, description: str, examples: Iterable[str] = ()) -> None:
            info.source_kinds.append(SourceKind(name, description, tuple(examples)))

        try:
            self._call("register_source_kinds", info, register=register)
        except Exception as error:
            info.fail(f"register_source_kinds raised {_describe(error)}")

    # -- block types ---------------------------------------------------------------------------

    @property
    def block_types(self) -> dict[str, BlockTypeInfo]:
        """Every registered block type by slug (aliases included)."""
        return self._collected("block_types", self._collect_block_types)

    def _collect_block_types(self) -> dict[str, BlockTypeInfo]:
        from codeferry.blocks import Block, check_secret_fields

        found: dict[str, BlockTypeInfo] = {}
        current: list[PluginInfo] = []

        def register(block_type: type[Block], /, *, aliases: Iterable[str] = ()) -> None:
            info = current[0]
            if not (isinstance(block_type, type) and issubclass(block_type, Block)):
                raise PluginError(f"{block_type!r} is not a codeferry.Block subclass")
            try:
                check_secret_fields(block_type)
            except BlockError as error:
                raise PluginError(str(error)) from None
            aliases = tuple(aliases)
            entry = BlockTypeInfo(
                block_type.block_type_slug, block_type, info.name, info.distribution, aliases
            )
            _enter(found, entry, (entry.slug, *aliases), entry.block_type, "block type")
            info.block_types.append(entry.slug)

        return self._registrations(current, "register_block_types", register, found)

    def block_type(self, slug: str) -> type[Block]:
        """The block class registered under ``slug``.

        :raises BlockTypeNotFoundError: naming the distribution to install when it is known.
        """
        from codeferry.errors import BlockTypeNotFoundError

        entry = self.block_types.get(slug)
        if entry is None:
            raise self.missing(
                BlockTypeNotFoundError,
                f"no block type {slug!r} is known",
                distribution_for_block_type(slug),
            )
        return entry.block_type

    # -- steps ---------------------------------------------------------------------------------

    @property
    def steps(self) -> dict[str, StepInfo]:
        """Every registered step by each of its names (short, fully qualified and aliases)."""
        return self._collected("steps", self._collect_steps)

    def _collect_steps(self) -> dict[str, StepInfo]:
        found: dict[str, StepInfo] = {}
        current: list[PluginInfo] = []

        def register(
            step: Callable[..., Mapping[str, Any] | None],
            /,
            *,
            name: str | None = None,
            aliases: Iterable[str] = (),
        ) -> None:
            info = current[0]
            if not callable(step):
                raise PluginError(f"step {step!r} is not callable")
            short = name or step.__name__
            qualified = f"{step.__module__}.{step.__qualname__}"
            entry = StepInfo(short, qualified, tuple(aliases), step, info.name, info.distribution)
            _enter(found, entry, (short, qualified, *entry.aliases), step, "step")
            info.steps.append(short)

        return self._registrations(current, "register_steps", register, found)

    def step(self, name: str) -> StepInfo:
        """The step registered under ``name``.

        :raises MissingPluginError: naming the distribution to install when it is known.
        """
        entry = self.steps.get(name)
        if entry is None:
            raise self.missing(
                MissingPluginError,
                f"no installed plugin provides the step {name!r}",
                distribution_for_step(name),
            )
        return entry

    def _collected(self, what: str, collect: Callable[[], _Collection]) -> _Collection:
        with self._lock:
            if what not in self._collections:
                self._collections[what] = collect()
            collected: _Collection = self._collections[what]
            return collected

    def _registrations(
        self,
        current: list[PluginInfo],
        hook_name: str,
        register: Callable[..., None],
        found: dict[str, _Entry],
    ) -> dict[str, _Entry]:
        """``found``, once each plugin's ``hook_name`` has entered its names via ``register``."""
        for _ in self._call_each_with(current, hook_name, register):
            pass
        return found

    def _call_each_with(
        self, current: list[PluginInfo], hook_name: str, register: Callable[..., None]
    ) -> Iterator[tuple[PluginInfo, Any]]:
        """Call a ``register_*`` hook plugin by plugin, with ``current`` naming the caller.

        Plugins are called in load order (core first, then by entry-point name), so which of two
        clashing registrations wins does not depend on pluggy's call order.
        """
        for info in self._plugins_implementing(hook_name):
            current[:] = [info]
            try:
                result = self._call(hook_name, info, register=register)
            except Exception as error:
                info.fail(f"{hook_name}: {_describe(error)}")
                continue
            yield info, result

    # -- sources -------------------------------------------------------------------------------

    def storage_from_source(self, source: str | Block | CodeStorage) -> CodeStorage:
        """The storage for ``source``: a storage object as is, else the claiming plugin's answer.

        Plugins are asked by tier: those whose implementation is marked ``tryfirst`` (a specific
        claim), then unmarked ones, then ``trylast`` ones (generic fallbacks such as plain paths);
        within a tier, in load order. The first tier with a claim decides; two claims in one tier
        are an error naming both plugins, never a silent choice.

        :raises SourceNotSupportedError: when no plugin claims the source, naming the
            distribution to install when it is known (or the plugin that failed to load).
        :raises PluginError: when two plugins of one tier claim the source, or a plugin crashes.
        :raises CodeferryError: when the claiming plugin finds the source malformed.
        """
        from codeferry.storage import CodeStorage

        if isinstance(source, CodeStorage):
            return source
        for tier in self._source_tiers():
            claims = [
                (info, storage)
                for info in tier
                if (storage := self._claim(info, source)) is not None
            ]
            if len(claims) > 1:
                names = " and ".join(f"{info.name!r} ({info.distribution})" for info, _ in claims)
                raise PluginError(
                    f"plugins {names} both claim the source {_safe_source(source)}; disable one "
                    "with CODEFERRY_DISABLE_PLUGINS (a plugin whose claim is more specific "
                    "marks its storage_from_source tryfirst)"
                )
            if claims:
                return claims[0][1]
        text = _safe_source(source)
        hint = distribution_for_source(source) if isinstance(source, str) else None
        raise self.missing(
            SourceNotSupportedError, f"no installed plugin understands the source {text}", hint
        )

    def _source_tiers(self) -> list[list[PluginInfo]]:
        tiers: dict[str, list[PluginInfo]] = {"tryfirst": [], "plain": [], "trylast": []}
        impls = {
            impl.plugin_name: impl for impl in self.manager.hook.storage_from_source.get_hookimpls()
        }
        for info in self._plugins_implementing("storage_from_source"):
            impl = impls[info.name]
            tier = "tryfirst" if impl.tryfirst else "trylast" if impl.trylast else "plain"
            tiers[tier].append(info)
        return list(tiers.values())

    def _claim(self, info: PluginInfo, source: str | Block) -> CodeStorage | None:
        from codeferry.errors import CodeferryError
        from codeferry.storage import CodeStorage

        try:
            storage = self._call("storage_from_source", info, source=source)
        except CodeferryError:
            raise
        except Exception as error:
            raise PluginError(
                f"plugin {info.name!r} failed on source {_safe_source(source)}: {_describe(error)}"
            ) from error
        if storage is not None and not isinstance(storage, CodeStorage):
            raise PluginError(
                f"plugin {info.name!r} returned {type(storage).__name__} for source "
                f"{_safe_source(source)}, not a CodeStorage"
            )
        return storage

    # -- explaining what is missing ------------------------------------------------------------

    def missing(
        self, kind: type[MissingPluginError], message: str, distribution: str | None
    ) -> MissingPluginError:
        """The error for something no loaded plugin provides, saying why as well as it can.

        When the distribution that would provide it is installed but its plugin failed to load,
        the error says so (with the plugin's error) instead of suggesting to install it; when
        the provider is unknown and some plugin failed to load, those plugins are named.
        """
        failed = [info for info in self.plugins.values() if info.status == "failed to load"]
        broken = [info for info in failed if info.distribution == distribution]
        if broken:
            info = broken[0]
            return kind(
                f"{message}: the plugin {info.name!r} of {info.distribution} is installed but "
                f"failed to load ({'; '.join(info.errors)}); see codeferry plugins ls"
            )
        error = kind(message, distribution)
        if failed and distribution is None:
            names = ", ".join(f"{info.name!r} ({'; '.join(info.errors)})" for info in failed)
            error = kind(f"{message}; plugins that failed to load: {names}")
        return error

    def describe(self) -> list[dict[str, Any]]:
        """Every plugin as a JSON-ready dict (registries collected first, so statuses are final)."""
        _ = self.block_types, self.steps
        return [info.as_dict() for info in self.plugins.values()]


def _check_switches(
    found: Iterable[PluginEntryPoint], switches: Mapping[str, set[str] | None]
) -> None:
    """Refuse plugin switches that name no installed plugin (a typo would silently do nothing)."""
    known = set(BUILTIN_PLUGINS)
    for ep in found:
        known.update({ep.name, ep.distribution})
    for variable, wanted in switches.items():
        unknown = sorted((wanted or set()) - known)
        if unknown:
            raise PluginError(
                f"{variable} names {', '.join(map(repr, unknown))}, which is no installed "
                f"plugin or distribution (installed: {', '.join(sorted(known))})"
            )


def _unsupported_implementations(manager: pluggy.PluginManager, plugin: str) -> str | None:
    """Why codeferry cannot call this plugin's hook implementations as written, if it cannot.

    Each plugin's hooks are called on their own (so a failure is the plugin's), so a hook wrapper
    would wrap nothing but the plugin itself; and a second implementation of one hook would make
    the plugin's answer depend on pluggy's order.
    """
    seen: set[str] = set()
    for hook_name in sorted(vars(manager.hook)):
        caller = getattr(manager.hook, hook_name)
        for impl in caller.get_hookimpls():
            if impl.plugin_name != plugin:
                continue
            if impl.wrapper or impl.hookwrapper:
                return (
                    f"{hook_name} is a hook wrapper; codeferry calls each plugin's hooks on "
                    "their own, so wrappers are not supported (drop wrapper=True/hookwrapper=True)"
                )
            if hook_name in seen:
                return f"{hook_name} is implemented twice; a plugin implements each hook once"
            seen.add(hook_name)
    return None


def _safe_source(source: object) -> str:
    from codeferry.secrets import redact_url

    return repr(redact_url(source) if isinstance(source, str) else str(source))


_current: Plugins | None = None
_current_lock = threading.Lock()


def get_plugins() -> Plugins:
    """The plugins of this process, discovered on first call."""
    global _current  # one registry per process, built lazily
    with _current_lock:
        if _current is None:
            _current = Plugins()
        return _current


def set_plugins(plugins: Plugins | None) -> Plugins | None:
    """Replace the plugins of this process (``None``: rediscover on next use).

    Returns the plugins it replaced.
    """
    global _current
    with _current_lock:
        previous, _current = _current, plugins
        return previous
