"""The ``run_shell_script`` step: run commands, one per line, where a template is one argument.

The script reaches the step with its templates unresolved (:func:`resolves_templates`). Each line
is split into a command and its arguments first; only then is each template filled in, inside
the argument it was written in. A value therefore never adds a command or an argument, whatever
it holds (a newline, spaces, quotes, ``;``). ``expand_env_vars`` obeys the same rule.

With ``shell: true`` a line runs through ``/bin/sh``; the values are then handed to the shell in
environment variables, referred to from where each template was written and quoted for that
place, so the shell never reads a value as shell code.

``split_templates: true`` is Prefect's order, for scripts that rely on a value making several
words or lines: templates are filled into the text of the script first, then it is split.
"""

from __future__ import annotations

import os
import re
import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codeferry.errors import CodeferryError
from codeferry.steps.context import mask, resolve_template, resolves_templates
from codeferry.steps.programs import run_program
from codeferry.templating import Reference, parse_template

__all__ = ["run_shell_script"]

_SHELL = "/bin/sh"
_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: marks where a value goes
_MARK = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_VALUE_VARIABLE = "CODEFERRY_TEMPLATE_{}"


@resolves_templates("script")
def run_shell_script(  # noqa: PLR0917 - Prefect's step takes these positionally
    script: str,
    directory: str | None = None,
    env: Mapping[str, Any] | None = None,
    stream_output: bool = True,
    expand_env_vars: bool = False,
    shell: bool = False,
    split_templates: bool = False,
) -> dict[str, str]:
    """Run each line of ``script`` as a command; a template's value is always one argument.

    Blank lines and lines starting with ``#`` are skipped. The first command that fails stops
    the script.

    :param directory: the folder the commands run in (default: the working folder).
    :param env: variables added to the environment of the commands.
    :param stream_output: echo the commands' output as it comes (secrets masked).
    :param expand_env_vars: replace ``$NAME`` and ``${NAME}`` with the variables of that
        environment (``$$`` is a ``$``); each value stays within its argument, like a template's.
    :param shell: run each line with ``/bin/sh -c``, for pipes, ``&&`` and redirections.
    :param split_templates: fill the templates (and ``$NAME``) into the text of the script before
        splitting it, as Prefect does: a value may then make several arguments or commands.
    :returns: ``stdout`` and ``stderr``, the commands' output joined and stripped.
    """
    environment = dict(os.environ)
    given = {str(key): str(value) for key, value in (env or {}).items()}
    environment.update(given)
    lines = (
        _filled_lines(script, environment, expand_env_vars)
        if split_templates
        else _written_lines(script)
    )
    stdout: list[str] = []
    stderr: list[str] = []
    for line in lines:
        if isinstance(line, str):
            argv, extra = _filled_command(line, shell)
        else:
            pieces = line if not expand_env_vars else _with_variables(line, environment, given)
            argv, extra = _command(pieces, shell)
        if not argv:
            continue
        result = run_program(
            argv, cwd=directory, env={**environment, **extra}, stream_output=stream_output
        )
        stdout.append(result.stdout)
        stderr.append(result.stderr)
    return {"stdout": "".join(stdout).strip(), "stderr": "".join(stderr).strip()}


# -- the script as written: lines of literal text and values -----------------------------------


@dataclass(frozen=True)
class _Variable:
    """``$NAME`` of ``expand_env_vars``; ``value`` is set when ``env`` gave it."""

    name: str
    value: str | None = None


_Piece = str | Reference | _Variable


def _written_lines(script: str) -> list[list[_Piece]]:
    """Each line to run, as literal text and templates (placeholders never span lines)."""
    lines: list[list[_Piece]] = []
    for written in script.splitlines():
        if not written.strip() or written.lstrip().startswith("#"):
            continue
        if _OPEN in written or _CLOSE in written:
            raise CodeferryError(
                f"the command {written.strip()!r} holds characters U+E000/U+E001, which "
                "run_shell_script uses to mark templates"
            )
        lines.append(list(parse_template(written)))
    return lines


def _with_variables(
    pieces: list[_Piece], environment: Mapping[str, str], given: Mapping[str, str]
) -> list[_Piece]:
    """``pieces`` with each ``$NAME`` of the environment made a value of its own."""
    out: list[_Piece] = []
    for piece in pieces:
        if not isinstance(piece, str):
            out.append(piece)
            continue
        position = 0
        for match in string.Template.pattern.finditer(piece):
            name = match.group("named") or match.group("braced")
            if match.group("escaped") is None and name not in environment:
                continue  # safe_substitute leaves unknown names and a lone $ as they are
            out.append(piece[position : match.start()])
            out.append("$" if name is None else _Variable(name, given.get(name)))
            position = match.end()
        out.append(piece[position:])
    return [piece for piece in out if piece != ""]


def _text_of(piece: Reference | _Variable) -> str:
    if isinstance(piece, _Variable):
        if piece.value is not None:
            return piece.value
        piece = Reference(f"{{{{ ${piece.name} }}}}", f"${piece.name}", "env", (piece.name,))
    text: str = resolve_template(piece.source, text=True)
    return text


def _command(pieces: list[_Piece], shell: bool) -> tuple[list[str], dict[str, str]]:
    """The argv for one line, and the variables it needs; values resolved one by one."""
    values = [piece for piece in pieces if not isinstance(piece, str)]
    if shell:
        script, names = _shell_script(pieces)
        extra = {name: _checked(_text_of(value)) for name, value in zip(names, values, strict=True)}
        return [_SHELL, "-c", script], extra
    marked = "".join(
        piece if isinstance(piece, str) else f"{_OPEN}{piece}{_CLOSE}"
        for piece in _numbered(pieces)
    )
    try:
        words = shlex.split(marked)
    except ValueError as error:
        written = "".join(p if isinstance(p, str) else _source(p) for p in pieces).strip()
        raise CodeferryError(f"cannot split the command {written!r}: {error}") from None
    texts: dict[int, str] = {}

    def fill(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index not in texts:
            texts[index] = _text_of(values[index])
        return texts[index]

    return [_MARK.sub(fill, word) for word in words], {}


def _numbered(pieces: list[_Piece]) -> list[str | int]:
    """Literal text as is, each value replaced by its index among the values."""
    numbered: list[str | int] = []
    count = 0
    for piece in pieces:
        if isinstance(piece, str):
            numbered.append(piece)
        else:
            numbered.append(count)
            count += 1
    return numbered


def _source(piece: Reference | _Variable) -> str:
    return f"${{{piece.name}}}" if isinstance(piece, _Variable) else piece.source


def _checked(value: str) -> str:
    if "\0" in value:
        raise CodeferryError("a value given to the shell holds a NUL character")
    return value


# -- quoting a value for the place it has in a shell line --------------------------------------


def _shell_script(pieces: list[_Piece]) -> tuple[str, list[str]]:
    """The line for ``sh -c``, each value replaced by a quoted variable reference.

    The reference is quoted for where the template stands: outside quotes ``"${V}"``, inside
    double quotes ``${V}``, inside single quotes ``'"${V}"'``. Expansions are never read as
    shell code, so a value cannot run a command whatever the quoting; the quoting keeps it one
    word.
    """
    out: list[str] = []
    names: list[str] = []
    quote: str | None = None
    escaped = False
    for piece in pieces:
        if isinstance(piece, str):
            for char in piece:
                if escaped:
                    escaped = False
                elif char == "\\" and quote != "'":
                    escaped = True
                elif char in "'\"" and quote in {None, char}:
                    quote = None if quote == char else char
            out.append(piece)
            continue
        if escaped:
            raise CodeferryError(
                f"{_source(piece)} follows a backslash; with shell: true a template cannot be "
                "escaped"
            )
        name = _VALUE_VARIABLE.format(len(names) + 1)
        names.append(name)
        out.append({None: f'"${{{name}}}"', '"': f"${{{name}}}", "'": f"'\"${{{name}}}\"'"}[quote])
    return "".join(out), names


# -- Prefect's order: fill the text, then split --------------------------------------------------


def _filled_lines(script: str, environment: Mapping[str, str], expand: bool) -> list[str]:
    filled = resolve_template(script, text=True)
    lines = []
    for written in str(filled).splitlines():
        line = string.Template(written).safe_substitute(environment) if expand else written
        if line.strip() and not line.lstrip().startswith("#"):
            lines.append(line)
    return lines


def _filled_command(line: str, shell: bool) -> tuple[list[str], dict[str, str]]:
    if shell:
        return [_SHELL, "-c", line], {}
    try:
        return shlex.split(line), {}
    except ValueError as error:
        raise CodeferryError(f"cannot split the command {mask(line.strip())!r}: {error}") from None
