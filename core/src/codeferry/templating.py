"""Templates in step arguments, resolved just before each step runs.

A placeholder is ``{{ REFERENCE }}``; a reference is one of:

``{{ $NAME }}``
    the environment variable ``NAME``;
``{{ blocks.TYPE.NAME }}`` (or ``prefect.blocks.TYPE.NAME``)
    the saved block, typed; ``.field.sub`` goes into it. A block whose one field is ``value``
    (``secret``, ``json``, ``string``, ``date-time``) gives that value in its JSON form, and
    ``.key`` goes into the value, as Prefect resolves its system blocks;
``{{ variables.NAME }}`` (or ``prefect.variables.NAME``)
    a variable from the store; ``.key`` goes into a JSON object;
``{{ STEP_ID.KEY }}``
    an output of an earlier step with that ``id``; a bare ``{{ KEY }}`` is an output that exactly
    one earlier step returned. Outputs no step of this run returned are looked up in the build
    and push outputs ``codeferry push`` recorded, when the context has them
    (:attr:`TemplateContext.recorded`).

A string that is one placeholder and nothing else becomes the referenced value with its type (a
block object, a dict, an int); placeholders inside longer text are replaced by ``str(value)``,
except that a block, or a mapping or list taken from a block, has no text form: inside longer text
it is an error (refer to one of its fields).
Braces whose content is not a reference (``{{.Config.Image}}`` in a ``docker inspect`` script)
are left as they are. A reference that cannot be resolved is a :class:`TemplateError` naming the
step and the reference: nothing is silently dropped.

Secret values that resolution reveals (secret blocks, secret fields, the secret fields of block
objects, environment variables named like secrets, as :func:`codeferry.secrets.is_secret_name`
decides) are remembered (:func:`codeferry.secrets.remember`), so they are masked in everything
codeferry shows, and added to the context's ``secrets``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codeferry.errors import (
    BlockError,
    MissingPluginError,
    StoreError,
    TemplateError,
    VariableNotFoundError,
)

if TYPE_CHECKING:
    from codeferry.recorded_outputs import RecordedOutputs
    from codeferry.steps.outputs import StepOutputs
    from codeferry.store.blockstore import BlockStore

__all__ = [
    "Reference",
    "TemplateContext",
    "find_references",
    "parse_reference",
    "parse_template",
    "resolve_reference",
    "resolve_templates",
]

_PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")
_FIRST = r"[A-Za-z_][\w-]*(?:\[\d+\])*"
_NEXT = r"[\w-]+(?:\[\d+\])*"
_REFERENCE = re.compile(rf"^(?:\$[A-Za-z_]\w*|{_FIRST}(?:\.{_NEXT})*)$")
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Reference:
    """A parsed ``{{ ... }}`` placeholder.

    :param source: the placeholder exactly as written, braces included.
    :param text: the reference inside the braces, stripped.
    :param kind: ``"env"``, ``"block"``, ``"variable"`` or ``"output"``.
    :param path: the segments after the kind's prefix; list indexes (``[0]``) are ints.
    """

    source: str
    text: str
    kind: str
    path: tuple[str | int, ...]

    def __str__(self) -> str:
        return f"{{{{ {self.text} }}}}"


def parse_reference(text: str, source: str | None = None) -> Reference | None:
    """Parse what is inside a placeholder's braces, or ``None`` when it is not a reference."""
    text = text.strip()
    if not _REFERENCE.match(text):
        return None
    source = source if source is not None else f"{{{{ {text} }}}}"
    if text.startswith("$"):
        return Reference(source, text, "env", (text[1:],))
    path = _split_path(text)
    if path[:2] in {("prefect", "blocks"), ("prefect", "variables")}:
        path = path[1:]
    if path[0] == "blocks":
        return Reference(source, text, "block", path[1:])
    if path[0] == "variables":
        return Reference(source, text, "variable", path[1:])
    return Reference(source, text, "output", path)


def _split_path(text: str) -> tuple[str | int, ...]:
    segments: list[str | int] = []
    for part in text.split("."):
        name, _, indexes = part.partition("[")
        segments.append(name)
        segments.extend(int(i) for i in _INDEX.findall("[" + indexes if indexes else ""))
    return tuple(segments)


def parse_template(text: str) -> list[str | Reference]:
    """Split ``text`` into literal pieces and references, in order.

    Joining the literal pieces and each reference's ``source`` gives ``text`` back.
    """
    parts: list[str | Reference] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        reference = parse_reference(match.group(1), match.group(0))
        if reference is None:
            continue
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(reference)
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return parts


def find_references(value: Any) -> list[Reference]:
    """Every reference in ``value``, looking through dicts, lists and tuples."""
    if isinstance(value, str):
        return [part for part in parse_template(value) if isinstance(part, Reference)]
    if isinstance(value, Mapping):
        return [ref for item in value.values() for ref in find_references(item)]
    if isinstance(value, list | tuple):
        return [ref for item in value for ref in find_references(item)]
    return []


@dataclass
class TemplateContext:
    """What templates resolve against.

    :param outputs: the outputs of the steps that ran before (``{{ id.key }}``).
    :param environ: environment variables (default: the process's, read at resolution).
    :param store: the block store (default: :func:`codeferry.store.get_store`, opened on first
        block or variable reference).
    :param secrets: filled with the secret values resolution revealed.
    :param recorded: the build and push outputs ``codeferry push`` recorded, read (once) for an
        output reference that no step of this run answers.
    """

    outputs: StepOutputs | None = None
    environ: Mapping[str, str] | None = None
    store: BlockStore | None = None
    secrets: set[str] = field(default_factory=set)
    recorded: RecordedOutputs | None = None

    def open_store(self) -> BlockStore:
        """:attr:`store`, opened on first use when none was given."""
        if self.store is None:
            from codeferry.store import get_store

            self.store = get_store()
        return self.store


def resolve_templates(
    value: Any, context: TemplateContext, *, step: str = "step", text: bool = False
) -> Any:
    """``value`` with every reference resolved, through dicts, lists and tuples.

    :param step: names the step in error messages, such as ``pull step 2 'git_clone'``.
    :param text: strings resolve to text, a lone placeholder too (as it would inside longer
        text: a block there is an error).
    :raises TemplateError: a reference cannot be resolved; names ``step`` and the reference.
    """
    if isinstance(value, str):
        return _resolve_string(value, context, step, text)
    if isinstance(value, Mapping):
        return {
            key: resolve_templates(item, context, step=step, text=text)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [resolve_templates(item, context, step=step, text=text) for item in value]
    if isinstance(value, tuple):
        return tuple(resolve_templates(item, context, step=step, text=text) for item in value)
    return value


def _resolve_string(text: str, context: TemplateContext, step: str, as_text: bool) -> Any:
    parts = parse_template(text)
    if not any(isinstance(part, Reference) for part in parts):
        return text
    if not as_text:
        if len(parts) == 1 and isinstance(parts[0], Reference):
            return _resolve(parts[0], context, step)
        stripped = [part for part in parts if not (isinstance(part, str) and not part.strip())]
        if len(stripped) == 1 and isinstance(stripped[0], Reference):  # whitespace around one
            return _resolve(stripped[0], context, step)
    return "".join(
        part if isinstance(part, str) else _inline(part, _resolve(part, context, step), step)
        for part in parts
    )


def _inline(reference: Reference, value: Any, step: str) -> str:
    """The text of ``value`` inside longer text: a block (or a collection from one) has none."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        fields = ", ".join(type(value).model_fields)
        raise TemplateError(
            f"{step}: cannot use {reference} inside longer text: it is a block, which has no "
            f"text form; refer to one of its fields ({fields})"
        )
    if reference.kind == "block" and isinstance(value, Mapping | list | tuple):
        kind = "mapping" if isinstance(value, Mapping) else "list"
        raise TemplateError(
            f"{step}: cannot use {reference} inside longer text: it is a {kind}, which has no "
            f"text form; refer to one of its items"
        )
    return str(value)


def resolve_reference(reference: Reference, context: TemplateContext, *, step: str = "step") -> Any:
    """The value ``reference`` stands for, with its type (as a lone placeholder gives it).

    :raises TemplateError: it cannot be resolved; names ``step`` and the reference.
    """
    return _resolve(reference, context, step)


def _resolve(reference: Reference, context: TemplateContext, step: str) -> Any:
    def fail(why: str) -> TemplateError:
        return TemplateError(f"{step}: cannot resolve {reference}: {why}")

    if reference.kind == "env":
        return _resolve_env(str(reference.path[0]), context, fail)
    if reference.kind == "block":
        return _resolve_block(reference, context, fail)
    if reference.kind == "variable":
        return _resolve_variable(reference, context, fail)
    return _resolve_output(reference, context, fail)


def _resolve_env(name: str, context: TemplateContext, fail: Any) -> str:
    environ = context.environ if context.environ is not None else os.environ
    if name not in environ:
        raise fail(f"environment variable {name} is not set")
    value = environ[name]
    from codeferry.secrets import is_secret_name

    if is_secret_name(name):
        _remember(value, context.secrets)
    return value


def _resolve_block(reference: Reference, context: TemplateContext, fail: Any) -> Any:
    from codeferry.blocks import Block, get_block_type

    path = reference.path
    if len(path) < 2 or not all(isinstance(p, str) for p in path[:2]):
        raise fail("a block reference is blocks.TYPE.NAME")
    slug, name = str(path[0]), str(path[1])
    store = context.open_store()
    try:
        block = get_block_type(slug, store=store).load(name, store=store)
    except (BlockError, MissingPluginError, StoreError) as error:
        raise fail(str(error)) from None
    _remember_model_secrets(block, context.secrets)
    rest = path[2:]
    if _is_value_block(block):
        # Prefect's rule for its system blocks: the block stands for its value (.value is allowed)
        inner = rest[1:] if rest[:1] == ("value",) else rest
        value = _value_of(block, context.secrets)
        return _follow(value, inner, context.secrets, fail, f"block {slug}/{name} value")
    value = _follow(block, rest, context.secrets, fail, f"block {slug}/{name}")
    if isinstance(value, Block) and _is_value_block(value):
        return _value_of(value, context.secrets)
    if isinstance(value, Block):
        _remember_model_secrets(value, context.secrets)
    return value


def _is_value_block(block: Any) -> bool:
    """A block whose only field is ``value`` (``secret``, ``json``, ``string``, ``date-time``)."""
    return set(type(block).model_fields) == {"value"}


def _value_of(block: Any, secrets: set[str]) -> Any:
    """The ``value`` of a value-only block, revealed, in its JSON form."""
    return _json_form(_reveal(block.value, secrets))


def _json_form(value: Any) -> Any:
    """``value`` as JSON data (a datetime as ISO 8601 text), as Prefect stores block values."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    import pydantic

    return pydantic.TypeAdapter(Any).dump_python(value, mode="json")


def _resolve_variable(reference: Reference, context: TemplateContext, fail: Any) -> Any:
    if not reference.path or not isinstance(reference.path[0], str):
        raise fail("a variable reference is variables.NAME")
    name = reference.path[0]
    try:
        value = context.open_store().get_variable(name)
    except (VariableNotFoundError, StoreError) as error:
        raise fail(str(error)) from None
    return _follow(value, reference.path[1:], context.secrets, fail, f"variable {name!r}")


def _resolve_output(reference: Reference, context: TemplateContext, fail: Any) -> Any:
    first = reference.path[0]
    assert isinstance(first, str)
    found = _lookup_output(context.outputs, reference, context.secrets, fail)
    if found is not _MISSING:
        return found
    if first == "prefect":
        raise fail("only prefect.blocks and prefect.variables are understood")
    missing = f"no earlier step has the id or returned the output {first!r}"
    if context.recorded is None:
        raise fail(missing)
    recorded = context.recorded.load(context.secrets, fail)
    if recorded is None:
        raise fail(f"{missing}, and {context.recorded.absence()}")
    found = _lookup_output(recorded, reference, context.secrets, fail)
    if found is _MISSING:
        raise fail(f"{missing}, nor did a build or push step {context.recorded.describe()}")
    return found


_MISSING = object()


def _lookup_output(
    outputs: StepOutputs | None, reference: Reference, secrets: set[str], fail: Any
) -> Any:
    """The output ``reference`` names in ``outputs``, or ``_MISSING`` when none has its name."""
    first, rest = reference.path[0], reference.path[1:]
    assert isinstance(first, str)
    if outputs is None:
        return _MISSING
    if first in outputs.by_id:
        if not rest:
            return dict(outputs.by_id[first])
        return _follow(outputs.by_id[first], rest, secrets, fail, f"step {first!r}")
    if first in outputs.ambiguous:
        steps = " and ".join(outputs.ambiguous[first])
        raise fail(
            f"output {first!r} was returned by {steps} with different values; "
            f"give the step an id and use {{{{ ID.{first} }}}}"
        )
    if first in outputs.shared:
        return _follow(outputs.shared[first], rest, secrets, fail, f"output {first!r}")
    return _MISSING


def _follow(value: Any, path: Sequence[str | int], secrets: set[str], fail: Any, what: str) -> Any:
    """Walk ``path`` into mappings, sequences and models; reveal (and remember) secrets."""
    from pydantic import BaseModel

    walked: list[str] = []
    for segment in path:
        if isinstance(segment, int):
            if not isinstance(value, Sequence) or isinstance(value, str):
                raise fail(f"{what}{_dotted(walked)} is not a list")
            if segment >= len(value):
                raise fail(f"{what}{_dotted(walked)} has no item {segment}")
            value = value[segment]
            walked.append(f"[{segment}]")
            continue
        if isinstance(value, Mapping):
            if segment not in value:
                raise fail(f"{what}{_dotted(walked)} has no key {segment!r}{_keys(value)}")
            value = value[segment]
        elif isinstance(value, BaseModel):
            fields = type(value).model_fields
            if segment not in fields:
                raise fail(f"{what}{_dotted(walked)} has no field {segment!r}{_keys(fields)}")
            value = getattr(value, segment)
        else:
            raise fail(f"{what}{_dotted(walked)} has no field {segment!r}")
        walked.append(f".{segment}")
        value = _reveal(value, secrets)
    return value


def _dotted(walked: list[str]) -> str:
    return " field " + "".join(walked).lstrip(".") if walked else ""


def _keys(found: Mapping[str, Any]) -> str:
    names = sorted(str(k) for k in found)
    return f" (it has: {', '.join(names)})" if names else ""


def _reveal(value: Any, secrets: set[str]) -> Any:
    import pydantic

    if isinstance(value, (pydantic.SecretStr, pydantic.SecretBytes, pydantic.Secret)):
        revealed = value.get_secret_value()
        _remember(revealed, secrets)
        return revealed
    return value


def _remember(value: Any, secrets: set[str]) -> None:
    """Remember every string (or text bytes) inside ``value``, and add it to ``secrets``."""
    from codeferry.secrets import MIN_LENGTH, remember

    remember(value)
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return
    if isinstance(value, str):
        if len(value) >= MIN_LENGTH:
            secrets.add(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            _remember(item, secrets)
    elif isinstance(value, list | tuple):
        for item in value:
            _remember(item, secrets)


def _remember_model_secrets(model: Any, secrets: set[str]) -> None:
    """Remember the value of every secret field of a block, nested blocks included."""
    from pydantic import BaseModel

    from codeferry.secrets import remember

    remember(model)  # secrets in lists and dicts of secrets too
    if not isinstance(model, BaseModel):
        return
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if isinstance(value, BaseModel):
            _remember_model_secrets(value, secrets)
        else:
            _reveal(value, secrets)
