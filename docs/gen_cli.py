"""Write ``docs/cli.md`` from the command line itself: ``python docs/gen_cli.py``.

``tests/core/test_docs.py`` checks that the committed page equals what this prints, so the
reference cannot drift from the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
import typer.main

from codeferry.cli import app

PAGE = Path(__file__).with_name("cli.md")


def render() -> str:
    """The CLI reference page, in Markdown."""
    root = typer.main.get_command(app)
    lines = [
        "# CLI reference",
        "",
        "Generated from the commands by `python docs/gen_cli.py`; "
        "`codeferry COMMAND --help` prints the same.",
        "",
    ]
    _command(root, ["codeferry"], lines)
    return "\n".join(lines).rstrip() + "\n"


def _command(command: Any, path: list[str], lines: list[str]) -> None:
    context = typer.Context(command, info_name=" ".join(path))
    if len(path) > 1:
        lines += [f"{'#' * min(len(path), 4)} `{' '.join(path)}`", ""]
    lines += ["```text", " ".join([*path, *command.collect_usage_pieces(context)]), "```", ""]
    if command.help:
        lines += [_paragraphs(command.help), ""]
    rows = [_row(param) for param in command.get_params(context) if not _hidden(param)]
    if rows:
        lines += ["| Argument or option | Meaning |", "| --- | --- |", *rows, ""]
    if hasattr(command, "list_commands"):  # a group
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None and not sub.hidden:
                _command(sub, [*path, name], lines)


def _hidden(param: Any) -> bool:
    return bool(getattr(param, "hidden", False)) or param.name in {
        "help",
        "install_completion",
        "show_completion",
    }


def _row(param: Any) -> str:
    option = param.param_type_name == "option"
    if option:
        names = ", ".join(f"`{name}`" for name in [*param.opts, *param.secondary_opts])
        if not param.is_flag and not getattr(param, "count", False):
            names += f" `{param.metavar or _metavar(param)}`"
    else:
        names = f"`{(param.metavar or param.name or '').upper()}`"
    meaning = getattr(param, "help", None) or ""
    default = param.default if option else None
    if option and param.show_default is not False and default not in (None, False, "", ()):
        meaning += f" (default: `{default}`)"
    meaning = meaning.replace("|", "\\|")
    return f"| {names} | {meaning} |"


def _metavar(param: Any) -> str:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", str)
    return {str: "TEXT", int: "INTEGER", float: "NUMBER", Path: "PATH"}.get(annotation, "VALUE")


def _paragraphs(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if PAGE.read_text() == render() else 1)
    PAGE.write_text(render())
