"""Deployment files: ``codeferry.yaml``, and Prefect's ``prefect.yaml`` read as it is.

A deployment file has top-level ``build``, ``push`` and ``pull`` lists of steps and a
``deployments`` list; a deployment's own ``build``/``push``/``pull`` replace the top-level ones.
``definitions:`` holds YAML anchors for the rest of the file to alias. Keys codeferry does not use
(``prefect-version``, ``schedules``, ``work_pool``, ``tags``...) are kept in ``extra``, never
refused, so one file serves both tools.

A step is a one-key mapping, ``{step-name: {arguments}}``. Besides the step's own arguments,
every step takes ``id`` (names its outputs), ``requires`` (the distribution providing it),
``retries``, ``retry_delay`` (seconds, doubled after each failed attempt) and ``timeout``
(seconds); the engine strips those before calling the step.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.errors import DeploymentFileError

if TYPE_CHECKING:
    import yaml

    from codeferry.plugins import Plugins

__all__ = [
    "DEFAULT_FILE_NAMES",
    "SECTIONS",
    "STEP_OPTIONS",
    "Deployment",
    "DeploymentFile",
    "Step",
    "find_deployment_file",
    "init_deployment_file",
    "list_deployments",
    "load_deployment_file",
    "parse_deployment_file",
    "write_deployment_file",
]

DEFAULT_FILE_NAMES = ("codeferry.yaml", "prefect.yaml")
SECTIONS = ("build", "push", "pull")
STEP_OPTIONS = ("id", "requires", "retries", "retry_delay", "timeout")
RESERVED_IDS = frozenset({"blocks", "variables", "prefect"})
_STEP_ID = re.compile(r"^[A-Za-z_][\w-]*$")
_KNOWN_TOP_LEVEL = frozenset({"name", *SECTIONS, "deployments"})
_KNOWN_DEPLOYMENT = frozenset({"name", "entrypoint", "description", "parameters", *SECTIONS})


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
    :param index: 1-based position in its section.
    :param location: ``file:line:column`` where the step is written, when read from a file.
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
        where = f"{location}: " if location else ""
        what = f"{section} step {index}"
        if not isinstance(raw, Mapping) or len(raw) != 1:
            found = f"a mapping with {len(raw)} keys" if isinstance(raw, Mapping) else _kind(raw)
            raise DeploymentFileError(
                f"{where}{what} must be a mapping with one key, the step name "
                f"({{step_name: {{arguments}}}}), not {found}"
            )
        ((name, arguments),) = raw.items()
        if not isinstance(name, str) or not name.strip():
            raise DeploymentFileError(f"{where}{what}: the step name must be a string")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            raise DeploymentFileError(
                f"{where}{what} {name!r}: arguments must be a mapping, not {_kind(arguments)}"
            )
        arguments = dict(arguments)
        options = {key: arguments.pop(key) for key in STEP_OPTIONS if key in arguments}
        label = f"{where}{what} {name!r}"
        return cls(
            name=name.strip(),
            arguments=arguments,
            id=_step_id(options.get("id"), label),
            requires=_requires(options.get("requires"), label),
            retries=_retries(options.get("retries"), label),
            retry_delay=_seconds(options.get("retry_delay", 1.0), "retry_delay", label, zero=True),
            timeout=(
                None
                if options.get("timeout") is None
                else _seconds(options["timeout"], "timeout", label, zero=False)
            ),
            section=section,
            index=index,
            location=location,
        )

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


@dataclass(frozen=True)
class DeploymentFile:
    """A parsed deployment file."""

    path: Path | None
    name: str | None = None
    build: tuple[Step, ...] = ()
    push: tuple[Step, ...] = ()
    pull: tuple[Step, ...] = ()
    deployments: tuple[Deployment, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        """The folder the file is in (steps run from there); the working folder if unsaved."""
        return self.path.parent if self.path is not None else Path.cwd()

    def deployment(self, name: str) -> Deployment:
        """The deployment called ``name`` (its name's templates resolved, as Prefect does).

        :raises DeploymentFileError: none is, listing the names there are.
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


def load_deployment_file(path: str | Path | None = None) -> DeploymentFile:
    """Read and check a deployment file (default: :func:`find_deployment_file`).

    :raises DeploymentFileError: the file is missing, is not YAML (``file:line:column``), or
        has the wrong shape (where it is known, ``file:line:column`` too).
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
    return parse_deployment_file(text, file.absolute())


def parse_deployment_file(text: str, path: str | Path | None = None) -> DeploymentFile:
    """Parse the text of a deployment file; ``path`` is where it came from (for messages).

    :raises DeploymentFileError: as :func:`load_deployment_file`.
    """
    import yaml

    source = Path(path) if path is not None else None
    shown = str(source) if source is not None else "<deployment file>"
    try:
        data = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        raise DeploymentFileError(_yaml_message(shown, error)) from None
    except yaml.YAMLError as error:
        first = (str(error).splitlines() or ["invalid YAML"])[0]
        raise DeploymentFileError(f"{shown}: invalid YAML: {first}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise DeploymentFileError(f"{shown}: a deployment file is a mapping, not {_kind(data)}")
    return _file_from(data, source, shown)


def _loader() -> type[yaml.SafeLoader]:
    """A safe YAML loader whose mappings remember where they start (for messages)."""
    global _LOADER
    if _LOADER is None:
        import yaml

        base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(base):  # type: ignore[misc]
            pass

        def construct_map(loader: Any, node: Any) -> Any:
            data = _Located()
            data.mark = (node.start_mark.line + 1, node.start_mark.column + 1)
            yield data
            data.update(loader.construct_mapping(node))

        Loader.add_constructor("tag:yaml.org,2002:map", construct_map)
        _LOADER = Loader
    return _LOADER


_LOADER: type[yaml.SafeLoader] | None = None


class _Located(dict[Any, Any]):
    """A mapping read from YAML, with the line and column it starts at."""

    mark: tuple[int, int] = (0, 0)


def _yaml_message(shown: str, error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark is not None else shown
    problem = " ".join(part for part in (error.context, error.problem) if part)
    return f"{where}: invalid YAML: {problem or 'cannot parse'}"


def _at(shown: str, value: Any) -> str:
    if isinstance(value, _Located) and value.mark != (0, 0):
        return f"{shown}:{value.mark[0]}:{value.mark[1]}"
    return shown


def _file_from(data: Mapping[str, Any], source: Path | None, shown: str) -> DeploymentFile:
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise DeploymentFileError(f"{_at(shown, data)}: name must be a string")
    sections = {
        section: _steps(data.get(section), section, shown, data) or () for section in SECTIONS
    }
    raw_deployments = data.get("deployments") or []
    if not isinstance(raw_deployments, list):
        raise DeploymentFileError(
            f"{_at(shown, data)}: deployments must be a list, not {_kind(raw_deployments)}"
        )
    deployments = tuple(
        _deployment(raw, position, shown) for position, raw in enumerate(raw_deployments, 1)
    )
    extra = {key: value for key, value in data.items() if key not in _KNOWN_TOP_LEVEL}
    return DeploymentFile(
        path=source,
        name=name,
        build=sections["build"],
        push=sections["push"],
        pull=sections["pull"],
        deployments=deployments,
        extra=extra,
    )


def _steps(raw: Any, section: str, shown: str, parent: Any) -> tuple[Step, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise DeploymentFileError(
            f"{_at(shown, parent)}: {section} must be a list of steps, not {_kind(raw)}"
        )
    return tuple(
        Step.from_mapping(item, section=section, index=index, location=_at(shown, item))
        for index, item in enumerate(raw, 1)
    )


def _deployment(raw: Any, position: int, shown: str) -> Deployment:
    where = _at(shown, raw)
    if not isinstance(raw, Mapping):
        raise DeploymentFileError(f"{where}: deployment {position} must be a mapping")
    name, entrypoint, description = raw.get("name"), raw.get("entrypoint"), raw.get("description")
    for key, value in (("name", name), ("entrypoint", entrypoint), ("description", description)):
        if value is not None and not isinstance(value, str):
            raise DeploymentFileError(
                f"{where}: deployment {position} {key} must be a string, not {_kind(value)}"
            )
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise DeploymentFileError(f"{where}: deployment {position} parameters must be a mapping")
    return Deployment(
        name=name,
        entrypoint=entrypoint,
        description=description,
        parameters=dict(parameters),
        build=_steps(raw.get("build"), "build", shown, raw),
        push=_steps(raw.get("push"), "push", shown, raw),
        pull=_steps(raw.get("pull"), "pull", shown, raw),
        extra={key: value for key, value in raw.items() if key not in _KNOWN_DEPLOYMENT},
        location=where,
    )


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


def _step_id(value: Any, label: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _STEP_ID.match(value):
        raise DeploymentFileError(
            f"{label}: id {value!r} must be a name of letters, digits, '_' and '-'"
        )
    if value in RESERVED_IDS:
        raise DeploymentFileError(f"{label}: id {value!r} is reserved for templates")
    return value


def _requires(value: Any, label: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise DeploymentFileError(f"{label}: requires must be a requirement or a list of them")
    return tuple(items)


def _retries(value: Any, label: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DeploymentFileError(f"{label}: retries must be a whole number >= 0, not {value!r}")
    return value


def _seconds(value: Any, key: str, label: str, *, zero: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or value < 0 or (value == 0 and not zero):
        bound = ">= 0" if zero else "> 0"
        raise DeploymentFileError(f"{label}: {key} must be a number of seconds {bound}")
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
