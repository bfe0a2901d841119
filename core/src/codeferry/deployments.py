"""Deployment files: ``codeferry.yaml``, and Prefect's ``prefect.yaml`` read as it is.

A deployment file has top-level ``build``, ``push`` and ``pull`` lists of steps and a
``deployments`` list; a deployment's own ``build``/``push``/``pull`` replace the top-level ones.
``definitions:`` holds YAML anchors for the rest of the file to alias. Keys codeferry does not use
(``prefect-version``, ``schedules``, ``work_pool``, ``tags``...) are kept in ``extra``, never
refused, so one file serves both tools.

A step is a one-key mapping, ``{step-name: {arguments}}``. Besides the step's own arguments,
every step takes ``id`` (names its outputs), ``requires`` (the distribution providing it),
``retries``, ``retry_delay`` (seconds, doubled after each failed attempt) and ``timeout``
(seconds); the engine strips those before calling the step. An empty or ``null`` entry in a list
of steps is skipped, as Prefect skips it.

Reading collects every problem it finds (:class:`Problem`, with file, line and column) instead of
stopping at the first: a malformed part is left out and the rest of the file is read, so that
one bad step does not take down every deployment in the file. ``strict=True`` (the default)
raises the first error; :mod:`codeferry.checks` decides which problems matter to a command.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.errors import DeploymentFileError

if TYPE_CHECKING:
    import yaml

    from codeferry.plugins import Plugins
    from codeferry.positions import Positions

__all__ = [
    "DEFAULT_FILE_NAMES",
    "SECTIONS",
    "STEP_OPTIONS",
    "Deployment",
    "DeploymentFile",
    "Problem",
    "Step",
    "find_deployment_file",
    "init_deployment_file",
    "list_deployments",
    "load_deployment_file",
    "parse_deployment_file",
    "twins_message",
    "write_deployment_file",
]

DEFAULT_FILE_NAMES = ("codeferry.yaml", "prefect.yaml")
SECTIONS = ("build", "push", "pull")
STEP_OPTIONS = ("id", "requires", "retries", "retry_delay", "timeout")
RESERVED_IDS = frozenset({"blocks", "variables", "prefect"})
_STEP_ID = re.compile(r"^[A-Za-z_][\w-]*$")
_KNOWN_TOP_LEVEL = frozenset({"name", *SECTIONS, "deployments"})
_KNOWN_DEPLOYMENT = frozenset({"name", "entrypoint", "description", "parameters", *SECTIONS})

PathKey = tuple[Hashable, ...]


@dataclass(frozen=True)
class Problem:
    """Something wrong, or doubtful, in a deployment file, and where it is written.

    :param severity: ``"error"`` (the part cannot run) or ``"warning"``.
    :param message: one line, for people.
    :param file: the file as shown in messages.
    :param line: 1-based line (0 when unknown, as for an unreadable file).
    :param column: 1-based column (0 when unknown).
    :param kind: what kind of problem, for programs: ``yaml``, ``merge-conflict``, ``shape``,
        ``step-shape``, ``stray-keys``, ``empty-step``, ``duplicate-key``, ``duplicate-deployment``,
        ``unknown-step``, ``deprecated-step``, ``arguments``, ``argument-type``, ``step-id``,
        ``reference``, ``block-type``, ``missing-block``, ``missing-variable``, ``missing-env``,
        ``store``.
    :param deployment: the 1-based position of the deployment it is in, ``None`` for the
        file's top level.
    :param deployment_name: that deployment's name, when it has one.
    :param section: ``"build"``, ``"push"`` or ``"pull"`` when it is in a list of steps.
    :param field: the deployment's own field it is in (``parameters``, ``work_pool``...), when
        it is in one: a command that does not use that field only warns about it.
    """

    severity: str
    message: str
    file: str
    line: int = 0
    column: int = 0
    kind: str = "shape"
    deployment: int | None = None
    deployment_name: str | None = None
    section: str | None = None
    field: str | None = None

    @property
    def where(self) -> str:
        """``file:line:column``, or the file alone when the place is unknown."""
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "severity": self.severity,
            "kind": self.kind,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "deployment": self.deployment_name,
            "deployment_position": self.deployment,
            "section": self.section,
            "field": self.field,
        }


@dataclass(frozen=True)
class Step:
    """One step of a ``build``, ``push`` or ``pull`` section.

    :param name: the step's name as written (short, fully qualified, an alias or an import path).
    :param arguments: the step's own arguments, templates unresolved.
    :param id: names the step's outputs for later steps (``{{ id.key }}``).
    :param requires: distributions that provide the step (used for the install hint).
    :param retries: further attempts after a failure.
    :param retry_delay: seconds before the first retry, doubled after each.
    :param timeout: seconds the step may run; ``None``: no limit.
    :param section: ``"build"``, ``"push"`` or ``"pull"``.
    :param index: 1-based position in its section (skipped empty entries count).
    :param location: ``file:line:column`` where the step is written, when read from a file.
    :param path: where the step is in the file's YAML (keys and list indexes), when read from one.
    """

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    requires: tuple[str, ...] = ()
    retries: int = 0
    retry_delay: float = 1.0
    timeout: float | None = None
    section: str = "pull"
    index: int = 1
    location: str | None = None
    path: PathKey = field(default=(), compare=False, repr=False)

    @classmethod
    def from_mapping(
        cls,
        raw: Any,
        *,
        section: str = "pull",
        index: int = 1,
        location: str | None = None,
    ) -> Step:
        """Read ``{step-name: {arguments}}``.

        :raises DeploymentFileError: the mapping is not a step, naming ``location``.
        """
        reader = _Reader(location or "", None)
        step = reader.step(raw, section, index, (), None)
        reader.raise_first()
        if step is None:  # an empty entry, which a list of steps skips
            raise DeploymentFileError(f"{reader.at(())}{section} step {index} is empty")
        return step

    def to_mapping(self) -> dict[str, dict[str, Any]]:
        """The step as written in a deployment file."""
        arguments = dict(self.arguments)
        if self.id is not None:
            arguments["id"] = self.id
        if self.requires:
            arguments["requires"] = (
                self.requires[0] if len(self.requires) == 1 else list(self.requires)
            )
        if self.retries:
            arguments["retries"] = self.retries
            arguments["retry_delay"] = self.retry_delay
        if self.timeout is not None:
            arguments["timeout"] = self.timeout
        return {self.name: arguments}

    @property
    def label(self) -> str:
        """How messages name the step: ``pull step 2 'git_clone' (id clone)``."""
        ident = f" (id {self.id})" if self.id else ""
        return f"{self.section} step {self.index} {self.name!r}{ident}"


@dataclass(frozen=True)
class Deployment:
    """One entry of ``deployments``.

    ``build``, ``push`` and ``pull`` are ``None`` when the deployment does not set them (the
    file's are used). ``extra`` keeps every other key (``work_pool``, ``schedules``, ``tags``...).
    ``position`` is its 1-based place in the list.
    """

    name: str | None
    entrypoint: str | None = None
    description: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    build: tuple[Step, ...] | None = None
    push: tuple[Step, ...] | None = None
    pull: tuple[Step, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    location: str | None = None
    position: int | None = None

    @property
    def line(self) -> int | None:
        """The line the deployment starts at, when read from a file."""
        parts = (self.location or "").rsplit(":", 2)
        return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None

    @property
    def flow_name(self) -> str | None:
        """The entrypoint's function name, as Prefect's ``FLOW/DEPLOYMENT`` selection uses it."""
        if not self.entrypoint or ":" not in self.entrypoint:
            return None
        return self.entrypoint.rsplit(":", 1)[1]


@dataclass(frozen=True)
class DeploymentFile:
    """A parsed deployment file.

    ``problems`` holds what reading found (errors left the broken part out; warnings, such as a
    skipped empty step, did not); ``positions`` says where each part is written.
    """

    path: Path | None
    name: str | None = None
    build: tuple[Step, ...] = ()
    push: tuple[Step, ...] = ()
    pull: tuple[Step, ...] = ()
    deployments: tuple[Deployment, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    positions: Positions | None = field(default=None, compare=False, repr=False)

    @property
    def directory(self) -> Path:
        """The folder the file is in (steps run from there); the working folder if unsaved."""
        return self.path.parent if self.path is not None else Path.cwd()

    @property
    def shown(self) -> str:
        """The file as messages name it."""
        return str(self.path) if self.path is not None else "<deployment file>"

    def deployment(self, name: str) -> Deployment:
        """The deployment called ``name``, or ``FLOW/NAME`` (Prefect's form, for twins).

        :raises DeploymentFileError: none is, listing the names there are; or several are,
            naming where each is and how to choose.
        """
        from codeferry.deployment_templates import find_deployment

        return find_deployment(self, name)

    def select(self, name: str | None, section: str) -> Deployment | None:
        """The deployment whose ``section`` steps to run: by ``name``, or the only one.

        With no ``name``: the file's only deployment; or none (the top-level steps) when no
        deployment sets its own ``section``.

        :raises DeploymentFileError: ``name`` is unknown, or several deployments set their own
            ``section`` and none was named.
        """
        if name is not None:
            return self.deployment(name)
        if len(self.deployments) == 1:
            return self.deployments[0]
        own = [d for d in self.deployments if getattr(d, section) is not None]
        if own:
            names = ", ".join(str(d.name) for d in self.deployments)
            raise DeploymentFileError(
                f"{self._where()} has several deployments with their own {section} steps "
                f"({names}); choose one with --deployment NAME"
            )
        return None

    def steps(self, section: str, deployment: Deployment | None = None) -> tuple[Step, ...]:
        """The ``section`` steps for ``deployment``: its own if it sets them, else the file's."""
        if section not in SECTIONS:
            raise ValueError(f"section must be one of {', '.join(SECTIONS)}")
        own = getattr(deployment, section) if deployment is not None else None
        steps: tuple[Step, ...] = own if own is not None else getattr(self, section)
        return steps

    def _where(self) -> str:
        return str(self.path) if self.path is not None else "the deployment file"


def twins_message(name: str, twins: Sequence[Deployment]) -> str:
    where = " and ".join(
        f"{d.position or '?'}" + (f" (line {d.line})" if d.line else "") for d in twins
    )
    flows = [d.flow_name for d in twins]
    if all(flows) and len(set(flows)) == len(flows):
        choices = ", ".join(f"{flow}/{d.name}" for flow, d in zip(flows, twins, strict=True))
        how = f"choose one as FLOW/NAME: {choices}"
    else:
        how = "give each its own name"
    return f"deployments {where} are both called {name!r}; {how}"


# -- reading -------------------------------------------------------------------------------------


def find_deployment_file(directory: str | Path | None = None) -> Path:
    """``codeferry.yaml``, else ``prefect.yaml``, in ``directory`` (default: the working folder).

    :raises DeploymentFileError: neither is there.
    """
    folder = Path(directory) if directory is not None else Path.cwd()
    for name in DEFAULT_FILE_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise DeploymentFileError(
        f"no {' or '.join(DEFAULT_FILE_NAMES)} in {folder.absolute()}; give one with -f FILE"
    )


def load_deployment_file(path: str | Path | None = None, *, strict: bool = True) -> DeploymentFile:
    """Read and check a deployment file (default: :func:`find_deployment_file`).

    :param strict: raise the first error found; when false, the errors are in ``problems``
        and the parts they concern are left out.
    :raises DeploymentFileError: the file is missing or unreadable; when ``strict``, it is not
        YAML or has the wrong shape (``file:line:column``).
    """
    file = Path(path) if path is not None else find_deployment_file()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeploymentFileError(f"deployment file {file} does not exist") from None
    except IsADirectoryError:
        raise DeploymentFileError(f"deployment file {file} is a folder") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DeploymentFileError(f"cannot read deployment file {file}: {error}") from None
    return parse_deployment_file(text, file.absolute(), strict=strict)


def parse_deployment_file(
    text: str, path: str | Path | None = None, *, strict: bool = True
) -> DeploymentFile:
    """Parse the text of a deployment file; ``path`` is where it came from (for messages).

    :raises DeploymentFileError: as :func:`load_deployment_file`.
    """
    import yaml

    from codeferry.positions import conflict_markers, load_yaml

    source = Path(path) if path is not None else None
    shown = str(source) if source is not None else "<deployment file>"
    reader = _Reader(shown, None)
    markers = conflict_markers(text)
    for marker in markers:
        reader.problems.append(
            Problem(
                "error",
                f"git merge-conflict marker {marker.text!r} ({marker.meaning}): resolve the "
                "conflict and remove the marker lines",
                shown,
                marker.line,
                1,
                kind="merge-conflict",
            )
        )
    try:
        data, positions = load_yaml(text)
    except yaml.YAMLError as error:
        if not markers:  # the markers are what the parser trips on; they are named already
            reader.problems.append(_yaml_problem(shown, error))
        data, positions = None, None
    if positions is not None:
        reader.positions = positions
        reader.duplicate_keys()
    if data is None:
        data = {}
    parsed = reader.file(data, source)
    if strict:
        reader.raise_first()
    return parsed


def _yaml_problem(shown: str, error: yaml.YAMLError) -> Problem:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    context, problem = getattr(error, "context", None), getattr(error, "problem", None)
    text = " ".join(part for part in (context, problem) if part)
    if not text:
        text = (str(error).splitlines() or ["cannot parse"])[0]
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    return Problem("error", f"invalid YAML: {text}", shown, line, column, kind="yaml")


class _Reader:
    """Turns the loaded YAML into a :class:`DeploymentFile`, collecting problems on the way."""

    def __init__(self, shown: str, positions: Positions | None) -> None:
        self.shown = shown
        self.positions = positions
        self.problems: list[Problem] = []
        self.scope: tuple[int | None, str | None] = (None, None)  # deployment, its name

    # -- problems ------------------------------------------------------------------------------

    def at(self, path: PathKey, *, key: bool = False) -> str:
        """``file:line:column: `` for ``path``; ``file: `` when no positions are known."""
        if self.positions is None:
            return f"{self.shown}: " if self.shown else ""
        where = self.positions.of_key(path) if key else self.positions.of(path)
        return f"{self.shown}:{where.line}:{where.column}: "

    def add(
        self,
        message: str,
        path: PathKey,
        *,
        kind: str = "shape",
        severity: str = "error",
        key: bool = False,
        section: str | None = None,
    ) -> None:
        line = column = 0
        if self.positions is not None:
            where = self.positions.of_key(path) if key else self.positions.of(path)
            line, column = where.line, where.column
        deployment, name = self.scope
        self.problems.append(
            Problem(severity, message, self.shown, line, column, kind, deployment, name, section)
        )

    def raise_first(self) -> None:
        for problem in self.problems:
            if problem.severity == "error":
                where = f"{problem.where}: " if problem.where else ""
                raise DeploymentFileError(f"{where}{problem.message}")

    def duplicate_keys(self) -> None:
        assert self.positions is not None
        for duplicate in self.positions.duplicate_keys:
            path = duplicate.path
            inside = path[:1] == ("deployments",) and len(path) > 1 and isinstance(path[1], int)
            deployment = path[1] + 1 if inside and isinstance(path[1], int) else None
            section = (path[2:3] if inside else path[:1]) or (None,)
            self.problems.append(
                Problem(
                    "warning",
                    f"{duplicate.key!r} is written twice in one mapping (first at line "
                    f"{duplicate.first.line}); YAML keeps only the second",
                    self.shown,
                    duplicate.second.line,
                    duplicate.second.column,
                    kind="duplicate-key",
                    deployment=deployment,
                    section=section[0] if section[0] in SECTIONS else None,
                )
            )

    # -- the file ------------------------------------------------------------------------------

    def file(self, data: Any, source: Path | None) -> DeploymentFile:
        if not isinstance(data, Mapping):
            self.add(f"a deployment file is a mapping, not {_kind(data)}", ())
            return DeploymentFile(
                path=source, problems=tuple(self.problems), positions=self.positions
            )
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            self.add(f"name must be a string, not {_kind(name)}", ("name",))
            name = None
        sections = {section: self.steps(data, section, ()) or () for section in SECTIONS}
        raw_deployments = data.get("deployments") or []
        if not isinstance(raw_deployments, list):
            self.add(f"deployments must be a list, not {_kind(raw_deployments)}", ("deployments",))
            raw_deployments = []
        deployments = []
        for position, raw in enumerate(raw_deployments, 1):
            deployment = self.deployment(raw, position)
            if deployment is not None:
                deployments.append(deployment)
        self.scope = (None, None)
        self.twins(deployments)
        return DeploymentFile(
            path=source,
            name=name,
            build=sections["build"],
            push=sections["push"],
            pull=sections["pull"],
            deployments=tuple(deployments),
            extra={key: value for key, value in data.items() if key not in _KNOWN_TOP_LEVEL},
            problems=tuple(self.problems),
            positions=self.positions,
        )

    def deployment(self, raw: Any, position: int) -> Deployment | None:
        path: PathKey = ("deployments", position - 1)
        name = raw.get("name") if isinstance(raw, Mapping) else None
        self.scope = (position, name if isinstance(name, str) else None)
        what = f"deployment {position}"
        if not isinstance(raw, Mapping):
            self.add(f"{what} must be a mapping, not {_kind(raw)}", path)
            return None
        texts: dict[str, str | None] = {}
        for key in ("name", "entrypoint", "description"):
            value = raw.get(key)
            if value is not None and not isinstance(value, str):
                self.add(f"{what} {key} must be a string, not {_kind(value)}", (*path, key))
                value = None
            texts[key] = value
        parameters = raw.get("parameters") or {}
        if not isinstance(parameters, Mapping):
            self.add(f"{what} parameters must be a mapping", (*path, "parameters"))
            parameters = {}
        return Deployment(
            name=texts["name"],
            entrypoint=texts["entrypoint"],
            description=texts["description"],
            parameters=dict(parameters),
            build=self.steps(raw, "build", path),
            push=self.steps(raw, "push", path),
            pull=self.steps(raw, "pull", path),
            extra={key: value for key, value in raw.items() if key not in _KNOWN_DEPLOYMENT},
            location=self.at(path).removesuffix(": ") or None,
            position=position,
        )

    def twins(self, deployments: Sequence[Deployment]) -> None:
        """Two deployments with one name: say so (Prefect asks which, or deploys both)."""
        by_name: dict[str, list[Deployment]] = {}
        for deployment in deployments:
            if deployment.name is not None:
                by_name.setdefault(deployment.name, []).append(deployment)
        for name, twins in by_name.items():
            if len(twins) < 2:
                continue
            flows = [d.flow_name for d in twins]
            # told apart by FLOW/NAME (as Prefect does) when their flows differ: only a warning
            severity = "warning" if all(flows) and len(set(flows)) == len(flows) else "error"
            for deployment in twins:
                assert deployment.position is not None
                self.scope = (deployment.position, name)
                self.add(
                    twins_message(name, twins),
                    ("deployments", deployment.position - 1, "name"),
                    kind="duplicate-deployment",
                    severity=severity,
                )
        self.scope = (None, None)

    # -- steps ---------------------------------------------------------------------------------

    def steps(
        self, parent: Mapping[str, Any], section: str, path: PathKey
    ) -> tuple[Step, ...] | None:
        raw = parent.get(section)
        if raw is None:
            return None
        if not isinstance(raw, list):
            self.add(
                f"{section} must be a list of steps, not {_kind(raw)}",
                (*path, section),
                section=section,
            )
            return ()
        found = []
        for index, item in enumerate(raw, 1):
            step = self.step(item, section, index, (*path, section, index - 1), section)
            if step is not None:
                found.append(step)
        return tuple(found)

    def step(
        self, raw: Any, section: str, index: int, path: PathKey, scope: str | None
    ) -> Step | None:
        what = f"{section} step {index}{self._of_deployment()}"
        shape = self._shape(raw, what, path, scope)
        if shape is None:
            return None
        name, arguments = shape
        label = f"{what} {name!r}"
        arguments = dict(arguments)
        options = {key: arguments.pop(key) for key in STEP_OPTIONS if key in arguments}
        before = len(self.problems)

        def check(key: str, reading: Any) -> Any:
            try:
                return reading()
            except _RefusedError as refused:
                self.add(f"{label}: {refused}", (*path, name, key), section=scope)
                return None

        step_id = check("id", lambda: _step_id(options.get("id")))
        requires = check("requires", lambda: _requires(options.get("requires")))
        retries = check("retries", lambda: _retries(options.get("retries")))
        delay = check(
            "retry_delay",
            lambda: _seconds(options.get("retry_delay", 1.0), "retry_delay", zero=True),
        )
        timeout = check(
            "timeout",
            lambda: (
                None
                if options.get("timeout") is None
                else _seconds(options["timeout"], "timeout", zero=False)
            ),
        )
        if len(self.problems) > before:
            return None
        return Step(
            name=name.strip(),
            arguments=arguments,
            id=step_id,
            requires=requires,
            retries=retries,
            retry_delay=delay,
            timeout=timeout,
            section=section,
            index=index,
            location=self.at(path).removesuffix(": ") or None,
            path=path,
        )

    def _shape(
        self, raw: Any, what: str, path: PathKey, scope: str | None
    ) -> tuple[str, Mapping[str, Any]] | None:
        """The step's name and arguments, or ``None`` (with a problem, unless merely empty)."""
        if raw is None or (isinstance(raw, Mapping) and not raw):
            self.add(
                f"{what} is empty; it is skipped, as Prefect skips it",
                path,
                kind="empty-step",
                severity="warning",
                section=scope,
            )
            return None
        if not isinstance(raw, Mapping):
            self.add(
                f"{what} must be a mapping with one key, the step name "
                f"({{step_name: {{arguments}}}}), not {_kind(raw)}",
                path,
                kind="step-shape",
                section=scope,
            )
            return None
        if len(raw) != 1:
            self.stray_keys(raw, what, path, scope)
            return None
        ((name, arguments),) = raw.items()
        if not isinstance(name, str) or not name.strip():
            self.add(
                f"{what}: the step name must be a string", path, kind="step-shape", section=scope
            )
            return None
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            self.add(
                f"{what} {name!r}: arguments must be a mapping, not {_kind(arguments)}",
                (*path, name),
                kind="step-shape",
                section=scope,
            )
            return None
        return name, arguments

    def stray_keys(
        self, raw: Mapping[Any, Any], what: str, path: PathKey, scope: str | None
    ) -> None:
        """A step mapping with keys beside the step name: most often a mis-indented argument."""
        keys = list(raw)
        # The step name is the one key holding a mapping (or nothing); else the first key.
        holders = [key for key in keys if raw[key] is None or isinstance(raw[key], Mapping)]
        name = holders[0] if len(holders) == 1 else keys[0]
        stray = [key for key in keys if key != name]
        listed = ", ".join(repr(key) for key in stray)
        one = len(stray) == 1
        if all(raw[key] is None or isinstance(raw[key], Mapping) for key in stray):
            fix = f"if {'it is' if one else 'they are'} another step, start each step with '- '"
        else:
            fix = f"indent {'it' if one else 'them'} under {name}:"
        self.add(
            f"{what} {name!r} has {'a key' if one else 'keys'} beside the step name: {listed}; "
            f"a step is {{step_name: {{arguments}}}}: {fix}",
            (*path, stray[0]),
            kind="stray-keys",
            key=True,
            section=scope,
        )

    def _of_deployment(self) -> str:
        position, name = self.scope
        if position is None:
            return ""
        return f" of deployment {name!r}" if name else f" of deployment {position}"


class _RefusedError(ValueError):
    """A step option's value is refused; the message says why."""


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _step_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _STEP_ID.match(value):
        raise _RefusedError(f"id {value!r} must be a name of letters, digits, '_' and '-'")
    if value in RESERVED_IDS:
        raise _RefusedError(f"id {value!r} is reserved for templates")
    return value


def _requires(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise _RefusedError("requires must be a requirement or a list of them")
    return tuple(items)


def _retries(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _RefusedError(f"retries must be a whole number >= 0, not {value!r}")
    return value


def _seconds(value: Any, key: str, *, zero: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or value < 0 or (value == 0 and not zero):
        bound = ">= 0" if zero else "> 0"
        raise _RefusedError(f"{key} must be a number of seconds {bound}")
    return float(value)


# -- listing and writing -------------------------------------------------------------------------


def list_deployments(file: str | Path | DeploymentFile | None = None) -> list[dict[str, Any]]:
    """Each deployment as a JSON-ready dict: name, entrypoint, description, and its steps."""
    parsed = file if isinstance(file, DeploymentFile) else load_deployment_file(file)
    listing = []
    from codeferry.deployment_templates import listed_name

    for deployment in parsed.deployments:
        listing.append(
            {
                "name": listed_name(deployment),
                "entrypoint": deployment.entrypoint,
                "description": deployment.description,
                **{
                    section: [step.name for step in parsed.steps(section, deployment)]
                    for section in SECTIONS
                },
            }
        )
    return listing


_HEADER = """\
# codeferry deployment file: where the code lives, and what to run.
# `codeferry pull` runs the pull steps; `codeferry run NAME` pulls, then calls the entrypoint.
# Reference: the "Deployment file" page of the codeferry documentation.
"""


def write_deployment_file(
    path: str | Path,
    *,
    name: str,
    entrypoint: str,
    pull: Sequence[Step | Mapping[str, Any]],
    deployment_name: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a deployment file with one deployment and the given ``pull`` steps.

    :raises DeploymentFileError: the file exists and ``overwrite`` is false.
    """
    import yaml

    from codeferry.entrypoints import parse_entrypoint

    parse_entrypoint(entrypoint)
    target = Path(path)
    if target.exists() and not overwrite:
        raise DeploymentFileError(f"{target} already exists; pass overwrite to replace it")
    steps = [step.to_mapping() if isinstance(step, Step) else dict(step) for step in pull]
    document = {
        "name": name,
        "pull": steps,
        "deployments": [{"name": deployment_name or name, "entrypoint": entrypoint}],
    }
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(_HEADER + body, encoding="utf-8")
    temporary.replace(target)  # never a half-written file where one is expected
    return target


def init_deployment_file(
    path: str | Path = "codeferry.yaml",
    *,
    source: Any,
    entrypoint: str,
    name: str | None = None,
    overwrite: bool = False,
    plugins: Plugins | None = None,
) -> Path:
    """Write a starter ``codeferry.yaml`` whose pull step fetches ``source``.

    :param source: a path, a URL, a saved storage block (``block:SLUG/NAME``) or a storage
        object; the installed plugin that understands it writes the pull step.
    :param name: the project and deployment name (default: the folder the file goes in).
    :raises SourceNotSupportedError: no installed plugin understands ``source``.
    """
    if plugins is None:
        from codeferry.plugins import get_plugins

        plugins = get_plugins()
    storage = plugins.storage_from_source(source)
    target = Path(path)
    project = name or target.absolute().parent.name or "code"
    return write_deployment_file(
        target,
        name=project,
        entrypoint=entrypoint,
        pull=[storage.to_pull_step()],
        overwrite=overwrite,
    )
