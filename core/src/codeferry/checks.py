"""Checking a deployment file without running anything: ``codeferry deployment check``.

:func:`check_deployment_file` reports every problem it can find, each with file, line and
column: what reading the file found (YAML errors, merge-conflict markers, malformed steps,
duplicate names), step names no installed plugin provides (with the distribution to install, or
the registered name that was probably meant), arguments a step's signature does not take or
needs, and template references that cannot resolve where they are written (a step id that is
not defined before the step runs, an unknown block type or field). Blocks, variables and
environment variables that are not present on this machine are warnings: the machine that runs
the deployment may have them. Nothing is imported from the file and no server is contacted; the
block store is read only when it is a file on this machine.

:func:`checked_for_run` is the same check before ``pull``, ``run`` and ``push``: errors in the
sections the chosen deployment runs stop the command before any step runs; errors elsewhere in
the file (another deployment, a build step that a pull does not run) are logged as warnings, so
one bad line does not take down every deployment in the file.

Which step outputs a reference may use follows Prefect: a build step sees the build steps before
it; a push step, every build step and the push steps before it; a pull step, every build and push
step and the pull steps before it; a deployment's own fields (``parameters``, ``work_pool``...),
every build and push step.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import re
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.deployments import (
    SECTIONS,
    Deployment,
    DeploymentFile,
    Problem,
    Step,
    load_deployment_file,
)
from codeferry.errors import (
    BlockNotFoundError,
    DeploymentFileError,
    ImportStepNotAllowedError,
    MissingPluginError,
    StoreError,
    VariableNotFoundError,
)

if TYPE_CHECKING:
    from codeferry.plugins import Plugins
    from codeferry.store.blockstore import BlockStore
    from codeferry.templating import Reference

__all__ = ["check_deployment_file", "checked_for_run", "relevant"]

log = logging.getLogger(__name__)

# Fields of a deployment that hold no templates Prefect fills in.
_UNTEMPLATED = frozenset({"build", "push", "pull", "definitions"})
# Warnings that are only worth showing when asked for (``deployment check``), not on every run.
_QUIET_AT_RUN = frozenset({"empty-step", "deprecated-step"})  # the engine notes these itself
_ANY = "any"
_CLOSE = 0.75  # difflib ratio above which a name is offered as "did you mean"


def check_deployment_file(
    file: str | Path | DeploymentFile | None = None,
    *,
    deployment: str | None = None,
    plugins: Plugins | None = None,
    allow_import_steps: bool | None = None,
    look_up: bool = True,
    environ: Mapping[str, str] | None = None,
    store: BlockStore | None = None,
) -> list[Problem]:
    """Every problem of a deployment file, in the order they are written (errors and warnings).

    :param file: the file (default: ``codeferry.yaml``, else ``prefect.yaml``, here), or a
        parsed one.
    :param deployment: only this deployment's problems (and the file's own).
    :param allow_import_steps: steps named by an import path are allowed (they are not imported
        to be checked); default: the ``CODEFERRY_ALLOW_IMPORT_STEPS`` setting.
    :param look_up: warn about blocks, variables and environment variables missing here.
    :param environ: the environment variables (default: the process's).
    :param store: the block store to look in (default: the configured one, when it is a file
        on this machine; a shared database is not contacted).
    :raises DeploymentFileError: the file cannot be read at all (missing, not text).
    """
    from codeferry.steps.resolution import import_steps_allowed

    parsed = _read(file)
    if plugins is None:
        from codeferry.plugins import get_plugins

        plugins = get_plugins()
    lookup = _LookUp(environ, store) if look_up else None
    checker = _Checker(parsed, plugins, import_steps_allowed(allow_import_steps), lookup)
    problems = checker.run()
    if deployment is not None:
        chosen = parsed.deployment(deployment)
        runs = {section: chosen for section in SECTIONS}
        problems = [problem for problem in problems if relevant(problem, runs)]
    return _in_order(problems)


def checked_for_run(
    file: str | Path | DeploymentFile | None,
    deployment: str | None,
    sections: Sequence[str],
    *,
    named: bool = False,
    fields: Sequence[str] | None = None,
    plugins: Plugins | None = None,
    allow_import_steps: bool | None = None,
) -> tuple[DeploymentFile, dict[str, Deployment | None]]:
    """Read the file, choose whose ``sections`` run, and check them before anything runs.

    :param named: ``deployment`` must name one (``run``); else the only one, or the file's own
        steps, may be chosen (``pull``, ``push``).
    :param fields: the deployment's own fields the command uses (``run``: its name, entrypoint
        and parameters); problems in the others are warnings for it. ``None``: every field.
    :returns: the file, and for each section the deployment whose steps run (``None``: the
        file's top-level steps).
    :raises DeploymentFileError: the file cannot be read, the deployment cannot be chosen, or
        a section that will run has an error (the first, with how many more there are).
    """
    from codeferry.steps.resolution import import_steps_allowed

    parsed = _read(file)
    whole_file = [p for p in parsed.problems if p.severity == "error" and _file_wide(p)]
    if whole_file:  # nothing to choose from: say why before "no deployment NAME"
        raise DeploymentFileError(_first_error(whole_file))
    if named and deployment is not None:
        chosen = parsed.deployment(deployment)
        runs: dict[str, Deployment | None] = {section: chosen for section in sections}
    else:
        runs = {section: parsed.select(deployment, section) for section in sections}
    if plugins is None:
        from codeferry.plugins import get_plugins

        plugins = get_plugins()
    checker = _Checker(parsed, plugins, import_steps_allowed(allow_import_steps), None)
    problems = _in_order(checker.run())
    errors = [p for p in problems if p.severity == "error" and relevant(p, runs, fields)]
    if errors:
        raise DeploymentFileError(_first_error(errors))
    for problem in problems:
        if relevant(problem, runs, fields):
            if problem.kind not in _QUIET_AT_RUN:
                log.warning("%s", problem)
        elif problem.severity == "error":
            log.warning("%s: warning: %s (not run by this command)", problem.where, problem.message)
    return parsed, runs


def relevant(
    problem: Problem,
    runs: Mapping[str, Deployment | None],
    fields: Sequence[str] | None = None,
) -> bool:
    """Whether ``problem`` concerns what runs: for each section, whose steps run (or ``None``),
    and which of the deployment's own fields the command uses (``None``: all)."""
    if _file_wide(problem):
        return True
    if problem.field is not None and fields is not None and problem.field not in fields:
        return False
    if problem.section is None:  # a deployment's own field, or the deployment as a whole
        return any(d is not None and d.position == problem.deployment for d in runs.values())
    if problem.section not in runs:
        return False
    chosen = runs[problem.section]
    if problem.deployment is None:  # a top-level section: does the chosen deployment use it?
        return chosen is None or getattr(chosen, problem.section) is None
    return chosen is not None and chosen.position == problem.deployment


def _field(path: tuple[Hashable, ...]) -> str | None:
    """The deployment field a path into the file is in: ``deployments[i].FIELD...``."""
    if len(path) > 2 and path[0] == "deployments" and isinstance(path[2], str):
        return path[2]
    return None


def _file_wide(problem: Problem) -> bool:
    return problem.deployment is None and problem.section is None


def _first_error(errors: Sequence[Problem]) -> str:
    first = errors[0]
    more = len(errors) - 1
    text = f"{first.where}: {first.message}" if first.where else first.message
    if more:
        text += (
            f" (and {more} more error{'s' if more > 1 else ''}: "
            f"codeferry deployment check -f {first.file})"
        )
    return text


def _read(file: str | Path | DeploymentFile | None) -> DeploymentFile:
    return file if isinstance(file, DeploymentFile) else load_deployment_file(file, strict=False)


def _in_order(problems: Sequence[Problem]) -> list[Problem]:
    """Sorted by where they are written; the same problem found twice (through an alias, or
    in each deployment using a top-level section) is kept once."""
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for problem in problems:
        key = (problem.severity, problem.line, problem.column, problem.message, problem.deployment)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return sorted(unique, key=lambda p: (p.file, p.line, p.column))


# -- the checks ----------------------------------------------------------------------------------


class _Seen(dict[str, Step]):
    """Steps that run before a reference, by id; ``anonymous`` when some have no id (a bare
    ``{{ KEY }}`` may then be an output one of those returns)."""

    anonymous: bool = False

    def add(self, step: Step) -> None:
        if step.id is None:
            self.anonymous = True
        else:
            self.setdefault(step.id, step)


@dataclass
class _Chain:
    """The steps one deployment runs, in the order Prefect runs them, and what it sees."""

    deployment: Deployment | None
    sections: dict[str, tuple[Step, ...]] = field(default_factory=dict)

    def visible(self, step: Step) -> _Seen:
        """The steps (by id) whose outputs ``step`` may use."""
        order = {"build": ("build",), "push": ("build", "push"), "pull": SECTIONS}[step.section]
        seen = _Seen()
        for section in order:
            for other in self.sections[section]:
                if other is step:
                    return seen
                seen.add(other)
        return seen

    def before_fields(self) -> _Seen:
        """The steps (by id) a deployment's own fields may use: build and push."""
        seen = _Seen()
        for section in ("build", "push"):
            for step in self.sections[section]:
                seen.add(step)
        return seen

    def all_ids(self) -> dict[str, Step]:
        return {s.id: s for section in SECTIONS for s in self.sections[section] if s.id}


class _Checker:
    def __init__(
        self,
        parsed: DeploymentFile,
        plugins: Plugins,
        allow_import_steps: bool,
        lookup: _LookUp | None,
    ) -> None:
        self.parsed = parsed
        self.plugins = plugins
        self.allow_import_steps = allow_import_steps
        self.lookup = lookup
        self.problems: list[Problem] = list(parsed.problems)
        self._functions: dict[str, Callable[..., Any] | None] = {}
        self._checked: set[int] = set()

    def run(self) -> list[Problem]:
        deployments = self.parsed.deployments
        for deployment in deployments:
            self._sections(self._chain(deployment), SECTIONS)
            self._fields(self._chain(deployment))
        # The file's own sections are checked through the deployments that use them; one that
        # every deployment replaces (or a file without deployments) is checked on its own.
        unused = [
            section
            for section in SECTIONS
            if not any(getattr(d, section) is None for d in deployments)
        ]
        if unused:
            self._sections(self._chain(None), unused)
        return self.problems

    def _sections(self, chain: _Chain, sections: Sequence[str]) -> None:
        for section in sections:
            self._ids(chain, section)
            for step in chain.sections[section]:
                self._step(chain, step)

    def _chain(self, deployment: Deployment | None) -> _Chain:
        return _Chain(
            deployment,
            {section: self.parsed.steps(section, deployment) for section in SECTIONS},
        )

    # -- problems ------------------------------------------------------------------------------

    def report(
        self,
        message: str,
        path: tuple[Hashable, ...],
        chain: _Chain,
        *,
        section: str | None,
        kind: str,
        severity: str = "error",
        key: bool = False,
        text: str | None = None,
    ) -> None:
        positions = self.parsed.positions
        line = column = 0
        if positions is not None:
            if text is not None:
                where = positions.of_text(path, text)
            elif key:
                where = positions.of_key(path)
            else:
                where = positions.of(path)
            line, column = where.line, where.column
        deployment = chain.deployment
        own = section is None or (
            deployment is not None and getattr(deployment, section) is not None
        )
        scope = deployment if own else None
        self.problems.append(
            Problem(
                severity,
                message,
                self.parsed.shown,
                line,
                column,
                kind,
                scope.position if scope is not None else None,
                scope.name if scope is not None else None,
                section,
                _field(path) if section is None else None,
            )
        )

    # -- steps ---------------------------------------------------------------------------------

    def _ids(self, chain: _Chain, section: str) -> None:
        """An id used twice where both steps' outputs are seen: the engine refuses it."""
        shared = ("build", "push") if section in ("build", "push") else ("pull",)
        seen: dict[str, Step] = {}
        for other in shared:
            for step in chain.sections[other]:
                if step.id is None:
                    continue
                first = seen.setdefault(step.id, step)
                if first is not step and step.section == section:
                    self.report(
                        f"{step.label}: id {step.id!r} is already used by {first.label}",
                        (*step.path, step.name, "id"),
                        chain,
                        section=section,
                        kind="step-id",
                        key=True,
                    )

    def _step(self, chain: _Chain, step: Step) -> None:
        function = self._function(chain, step)
        if function is not None and id(step) not in self._checked:
            _Arguments(self, chain, step, function).check()
            self._working_folder(chain, step, function)
        self._checked.add(id(step))
        for path, text in _strings(step.arguments, (*step.path, step.name)):
            for reference in _references(text):
                self._reference(chain, path, reference, chain.visible(step), section=step.section)

    def _working_folder(self, chain: _Chain, step: Step, function: Callable[..., Any]) -> None:
        """A pull step that works in "the folder the code was pulled into", Prefect-style.

        Prefect's pull steps write into the working folder, so a later step without a
        ``directory`` (or with the clone's folder name) finds the code there. codeferry's write
        a new checkout elsewhere and say where in their ``directory`` output.
        """
        if step.section != "pull" or _short_name(self.plugins, step) == "set_working_directory":
            return
        earlier = list(chain.sections["pull"])
        earlier = earlier[: earlier.index(step)] if step in earlier else []
        fetching = [s for s in earlier if _fetches_code(self.plugins, s)]
        if not fetching:
            return
        try:
            takes_directory = "directory" in inspect.signature(function).parameters
        except (TypeError, ValueError):
            return
        directory = step.arguments.get("directory")
        if not takes_directory or (isinstance(directory, str) and _references(directory)):
            return
        source = fetching[-1]
        use = f"{{{{ {source.id}.directory }}}}" if source.id else "{{ ID.directory }}"
        if directory is None:
            what = "has no directory, so it runs in the deployment file's folder"
        elif isinstance(directory, str) and not directory.startswith("/"):
            what = f"reads the folder {directory!r} next to the deployment file"
        else:
            return
        self.report(
            f"{step.label} {what}, not where {source.label} put the code (Prefect pulls into "
            f"the working folder, codeferry into a checkout of its own): give it "
            f'directory: "{use}"',
            (*step.path, step.name, "directory") if directory is not None else step.path,
            chain,
            section=step.section,
            kind="working-folder",
            severity="warning",
        )

    def _function(self, chain: _Chain, step: Step) -> Callable[..., Any] | None:
        """The step's function, or ``None`` (with a problem when it cannot run)."""
        from codeferry.steps.resolution import resolve_step

        try:
            resolved = resolve_step(step, plugins=self.plugins, allow_import_steps=False)
        except ImportStepNotAllowedError as error:
            if self.allow_import_steps:
                return None  # allowed; not imported here (that would run the file's code)
            message = str(error)
        except MissingPluginError as error:
            message = str(error)
            if error.distribution is not None:
                self.report(message, step.path, chain, section=step.section, kind="unknown-step")
                return None
        else:
            if resolved.note is not None:
                self.report(
                    f"{step.label}: {resolved.note}",
                    step.path,
                    chain,
                    section=step.section,
                    kind="deprecated-step",
                    severity="warning",
                )
            return resolved.function
        suggestion = _closest(step.name, self.plugins.steps)
        if suggestion is not None:
            message += f"; did you mean {suggestion!r}?"
        self.report(message, step.path, chain, section=step.section, kind="unknown-step")
        return None

    # -- templates -----------------------------------------------------------------------------

    def _fields(self, chain: _Chain) -> None:
        deployment = chain.deployment
        assert deployment is not None
        assert deployment.position is not None
        root = ("deployments", deployment.position - 1)
        values = {
            "name": deployment.name,
            "entrypoint": deployment.entrypoint,
            "description": deployment.description,
            "parameters": deployment.parameters,
            **{k: v for k, v in deployment.extra.items() if k not in _UNTEMPLATED},
        }
        visible = chain.before_fields()
        for path, text in _strings(values, root):
            for reference in _references(text):
                self._reference(chain, path, reference, visible, section=None)

    def _reference(
        self,
        chain: _Chain,
        path: tuple[Hashable, ...],
        reference: Reference,
        visible: Mapping[str, Step],
        *,
        section: str | None,
    ) -> None:
        def add(message: str, kind: str = "reference", severity: str = "error") -> None:
            self.report(
                f"{_owner(path, chain)}{reference}: {message}",
                path,
                chain,
                section=section,
                kind=kind,
                severity=severity,
                text=reference.source,
            )

        if reference.kind == "output":
            self._output(reference, visible, chain, add)
        elif reference.kind == "block":
            self._block(reference, add)
        elif reference.kind == "variable":
            if not reference.path or not isinstance(reference.path[0], str):
                add("a variable reference is prefect.variables.NAME")
            elif self.lookup is not None and not self.lookup.variable(reference.path[0], add):
                add(
                    f"no variable {reference.path[0]!r} is set on this machine "
                    f"(codeferry variable set {reference.path[0]} VALUE)",
                    "missing-variable",
                    "warning",
                )
        elif self.lookup is not None and str(reference.path[0]) not in self.lookup.environ:
            add(
                f"the environment variable {reference.path[0]} is not set here",
                "missing-env",
                "warning",
            )

    def _output(
        self,
        reference: Reference,
        visible: Mapping[str, Step],
        chain: _Chain,
        add: Callable[..., None],
    ) -> None:
        first = reference.path[0]
        if first in visible:
            return
        if first == "prefect":
            add("only prefect.blocks and prefect.variables are understood")
            return
        later = chain.all_ids().get(str(first))
        if later is not None:
            add(f"{first!r} is the id of {later.label}, which does not run before this")
            return
        suggestion = _closest(str(first), visible)
        if isinstance(visible, _Seen) and visible.anonymous and len(reference.path) == 1:
            return  # {{ KEY }}: an output a step without an id returns, as Prefect allows
        if not visible:
            anyone = isinstance(visible, _Seen) and visible.anonymous
            which = "" if anyone else " (or any step)"
            add(f"no step with the id {first!r}{which} runs before this")
        elif suggestion is not None:  # a misspelt id, almost surely
            add(f"no step with the id {first!r} runs before this; did you mean {suggestion!r}?")
        elif len(reference.path) > 1:
            # {{ key.more }} could be an output a step returns without an id: say it is unsure
            add(
                f"no step with the id {first!r} runs before this; it must be an output an "
                "earlier step returns",
                severity="warning",
            )

    def _block(self, reference: Reference, add: Callable[..., None]) -> None:
        from codeferry.known_plugins import distribution_for_block_type

        path = reference.path
        if len(path) < 2 or not all(isinstance(p, str) for p in path[:2]):
            add("a block reference is prefect.blocks.TYPE.NAME")
            return
        slug, name = str(path[0]), str(path[1])
        entry = self.plugins.block_types.get(slug)
        block_type = entry.block_type if entry is not None else None
        if block_type is None and self.lookup is not None:
            block_type = self.lookup.registered_block_type(slug)
        if block_type is None:
            hint = distribution_for_block_type(slug)
            if hint is not None:
                add(
                    f"no installed plugin provides the block type {slug!r}; "
                    f"install it with: pip install {hint}",
                    "block-type",
                )
            elif self.lookup is not None:
                suggestion = _closest(slug, self.plugins.block_types)
                hint_text = f"; did you mean {suggestion!r}?" if suggestion else ""
                add(f"no block type {slug!r} is known{hint_text}", "block-type")
            return  # at run time a type registered from a module may still provide it
        missing = _missing_field(block_type, path[2:])
        if missing is not None:
            add(missing, "reference")
        if self.lookup is not None and not self.lookup.block(slug, name, add):
            add(
                f"no block {slug}/{name} is saved on this machine "
                f"(codeferry block create {slug} {name} --set FIELD=VALUE)",
                "missing-block",
                "warning",
            )


class _Arguments:
    """Whether a step's arguments fit its function's signature (names; kinds as warnings)."""

    def __init__(
        self, checker: _Checker, chain: _Chain, step: Step, function: Callable[..., Any]
    ) -> None:
        self.checker, self.chain, self.step, self.function = checker, chain, step, function

    def check(self) -> None:
        try:
            signature = inspect.signature(self.function)
        except (TypeError, ValueError):  # no signature to read (a builtin): the call decides
            return
        parameters = signature.parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        named = {
            name: p
            for name, p in parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        written: Mapping[Any, Any] = self.step.arguments  # YAML keys may be numbers
        for key, value in written.items():
            if not isinstance(key, str):
                self._add(f"argument names are text, not {key!r}", key, "arguments")
            elif key in named:
                self._kind(key, value, named[key].annotation)
            elif not takes_any:
                suggestion = _closest(key, named)
                hint = f"; did you mean {suggestion!r}?" if suggestion else ""
                self._add(
                    f"{key!r} is not an argument of this step{hint} "
                    f"(it takes: {', '.join(named) or 'nothing'})",
                    key,
                    "arguments",
                )
        for name, p in parameters.items():
            if p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if p.kind is p.POSITIONAL_ONLY:
                self._add(f"its argument {name!r} cannot be given by name", None, "arguments")
            elif name not in self.step.arguments:
                self._add(f"the argument {name!r} is required", None, "arguments")

    def _kind(self, key: str, value: Any, annotation: Any) -> None:
        accepted = _accepted_kinds(annotation)
        given = _value_kind(value)
        if _ANY in accepted or given == _ANY or given in accepted:
            return
        if given == "int" and "float" in accepted:
            return
        self._add(
            f"{key!r} takes {' or '.join(sorted(accepted))}, not {_describe(value)}",
            key,
            "argument-type",
            severity="warning",
        )

    def _add(
        self, message: str, key: Hashable | None, kind: str, *, severity: str = "error"
    ) -> None:
        step = self.step
        path = (*step.path, step.name, key) if key is not None else step.path
        self.checker.report(
            f"{step.label}: {message}",
            path,
            self.chain,
            section=step.section,
            kind=kind,
            severity=severity,
            key=key is not None,
        )


# -- looking things up on this machine -----------------------------------------------------------


class _LookUp:
    """Blocks, variables and environment variables present on this machine, read once each."""

    def __init__(self, environ: Mapping[str, str] | None, store: BlockStore | None) -> None:
        import os

        self.environ = environ if environ is not None else os.environ
        self._store = store
        self._opened = store is not None
        self._failed = False
        self._blocks: dict[tuple[str, str], bool] = {}
        self._variables: dict[str, bool] = {}

    def store(self) -> BlockStore | None:
        """The store, when it is on this machine (a shared database is not contacted)."""
        if not self._opened:
            self._opened = True
            self._store = _local_store()
        if self._store is None or self._failed:
            return None
        return self._store

    def block(self, slug: str, name: str, add: Callable[..., None]) -> bool:
        """Whether ``slug/name`` is saved (``True`` when that cannot be known here)."""
        if (slug, name) not in self._blocks:
            self._blocks[(slug, name)] = self._ask(
                add, lambda store: store.get_document(slug, name), BlockNotFoundError
            )
        return self._blocks[(slug, name)]

    def variable(self, name: str, add: Callable[..., None]) -> bool:
        """Whether the variable ``name`` is set (``True`` when that cannot be known here)."""
        if name not in self._variables:
            self._variables[name] = self._ask(
                add, lambda store: store.get_variable(name), VariableNotFoundError
            )
        return self._variables[name]

    def registered_block_type(self, slug: str) -> Any:
        """A block type registered from a module into the store, when there is one."""
        from codeferry.blocks import get_block_type

        store = self.store()
        if store is None:
            return None
        try:
            return get_block_type(slug, store=store)
        except Exception:  # not registered, or its module no longer imports: unknown either way
            return None

    def _ask(
        self, add: Callable[..., None], question: Callable[[Any], Any], absent: type[Exception]
    ) -> bool:
        store = self.store()
        if store is None:
            return True
        try:
            question(store)
        except absent:
            return False
        except StoreError as error:
            self._failed = True
            add(f"cannot read the block store to look it up: {error}", "store", "warning")
        return True


def _local_store() -> BlockStore | None:
    """The configured store if it is a SQLite file here; ``None`` for a shared database.

    A store file that does not exist yet is an empty store (and is not created).
    """
    from codeferry.settings import database_url

    url = database_url()
    match = re.match(r"^sqlite(?:\+\w+)?:///(.*)$", url)
    if match is None:
        return None
    from codeferry.store.blockstore import BlockStore

    database = match.group(1)
    if database and database != ":memory:" and not Path(database).expanduser().exists():
        return _EmptyStore()  # type: ignore[return-value]
    return BlockStore(url)


class _EmptyStore:
    """Stands for a store file not created yet: nothing is saved in it."""

    def get_document(self, slug: str, name: str) -> Any:
        raise BlockNotFoundError(f"no block {slug}/{name} is saved")

    def get_variable(self, name: str) -> Any:
        raise VariableNotFoundError(f"no variable {name!r} is set")

    def get_block_type(self, _slug: str) -> Any:
        return None


# -- small helpers -------------------------------------------------------------------------------


def _strings(value: Any, path: tuple[Hashable, ...]) -> Iterator[tuple[tuple[Hashable, ...], str]]:
    """Every string inside ``value`` with its path, through mappings and lists."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _references(text: str) -> list[Reference]:
    from codeferry.templating import find_references

    return find_references(text)


def _short_name(plugins: Plugins, step: Step) -> str | None:
    entry = plugins.steps.get(step.name)
    return entry.name if entry is not None else None


def _fetches_code(plugins: Plugins, step: Step) -> bool:
    """Whether ``step`` is one of the registered steps that fetch code into a checkout."""
    name = _short_name(plugins, step)
    return name is not None and (name == "git_clone" or name.startswith("pull_"))


def _owner(path: tuple[Hashable, ...], chain: _Chain) -> str:
    """How a reference's message names where it is: a step, or a deployment's field."""
    for section in SECTIONS:
        for step in chain.sections[section]:
            if step.path and path[: len(step.path)] == step.path:
                return f"{step.label}: "
    deployment = chain.deployment
    if deployment is None:
        return ""
    who = (
        f"deployment {deployment.name!r}"
        if deployment.name
        else f"deployment {deployment.position}"
    )
    dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[2:])
    return f"{who} {dotted.lstrip('.')}: "


def _closest(name: str, candidates: Mapping[str, Any] | Sequence[str]) -> str | None:
    names = [c for c in candidates if isinstance(c, str)]
    found = difflib.get_close_matches(name, names, n=1, cutoff=_CLOSE)
    if not found and "." in name:  # a mistyped or moved dotted name: compare the last parts
        last = name.rsplit(".", 1)[-1]
        tails = {c.rsplit(".", 1)[-1]: c for c in names}
        close = difflib.get_close_matches(last, list(tails), n=1, cutoff=_CLOSE)
        found = [tails[close[0]]] if close else []
    return found[0] if found else None


def _missing_field(block_type: Any, path: Sequence[str | int]) -> str | None:
    """Why ``path`` is not a field of the block type (``None`` when it is, or cannot be told)."""
    from pydantic import BaseModel

    model: Any = block_type
    if "value" in getattr(model, "model_fields", {}):
        return None  # a value block (secret, json...): the path goes into its value
    walked: list[str] = []
    for segment in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        if not isinstance(segment, str):
            return None
        fields = model.model_fields
        if segment not in fields:
            names = ", ".join(sorted(fields))
            inside = f" field {'.'.join(walked)}" if walked else ""
            return (
                f"block type {block_type.block_type_slug!r}{inside} has no field {segment!r} "
                f"(it has: {names})"
            )
        walked.append(segment)
        models = [
            t
            for t in _union_members(fields[segment].annotation)
            if isinstance(t, type) and issubclass(t, BaseModel)
        ]
        model = models[0] if len(models) == 1 else None
    return None


def _union_members(annotation: Any) -> list[Any]:
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _union_members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _union_members(arg)]
    return [annotation]


_KIND_NAMES = {
    "str": "text",
    "bool": "bool",
    "int": "int",
    "float": "float",
    "list": "list",
    "Sequence": "list",
    "tuple": "list",
    "dict": "mapping",
    "Mapping": "mapping",
    "MutableMapping": "mapping",
    "None": "None",
}


def _accepted_kinds(annotation: Any) -> set[str]:
    """What kinds of YAML value an annotation takes; ``{"any"}`` when it cannot be told."""
    if annotation is inspect.Parameter.empty:
        return {_ANY}
    if not isinstance(annotation, str):
        annotation = inspect.formatannotation(annotation)
    kinds = set()
    for part in _top_level_union(annotation):
        base = part.split("[", 1)[0].strip().rsplit(".", 1)[-1]
        if part.strip().startswith(("Optional[", "typing.Optional[")):
            inner = part.strip()[part.index("[") + 1 : -1]
            kinds |= _accepted_kinds(inner) | {"None"}
            continue
        kind = _KIND_NAMES.get(base)
        if kind is None:
            return {_ANY}  # a class (a block, a Path...) or Any: anything may turn into it
        kinds.add(kind)
    return kinds


def _top_level_union(annotation: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for character in annotation:
        if character == "[":
            depth += 1
        elif character == "]":
            depth -= 1
        if character == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += character
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


_VALUE_KINDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("bool", bool),  # before int: a bool is an int to Python, not to a YAML reader
    ("int", int),
    ("float", float),
    ("mapping", Mapping),
    ("list", list),
)


def _value_kind(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, str):
        from codeferry.templating import parse_template

        parts = [p for p in parse_template(value) if not (isinstance(p, str) and not p.strip())]
        if len(parts) == 1 and not isinstance(parts[0], str):
            return _ANY  # one whole template: it becomes the referenced value, of any kind
        return "text"
    for kind, types in _VALUE_KINDS:
        if isinstance(value, types):
            return kind
    return _ANY


def _describe(value: Any) -> str:
    kind = _value_kind(value)
    if kind == "text":
        return f"the text {value[:40]!r}"
    if kind in ("mapping", "list"):
        return f"a {kind}"
    return f"{kind} {value!r}" if kind != "None" else "nothing"
