"""The ``run_shell_script`` step: run commands, one per line, without a shell (as Prefect does)."""

from __future__ import annotations

import os
import shlex
import string
from collections.abc import Mapping
from typing import Any

from codeferry.errors import CodeferryError
from codeferry.steps.programs import run_program

__all__ = ["run_shell_script"]


def run_shell_script(
    script: str,
    directory: str | None = None,
    env: Mapping[str, Any] | None = None,
    stream_output: bool = True,
    expand_env_vars: bool = False,
) -> dict[str, str]:
    """Run each line of ``script`` as a command, split like a shell would but without one.

    No shell runs, so pipes, ``&&`` and redirections are plain arguments; write
    ``sh -c '...'`` for those. Blank lines and lines starting with ``#`` are skipped. The first
    command that fails stops the script.

    :param directory: the folder the commands run in (default: the working folder).
    :param env: variables added to the environment of the commands.
    :param stream_output: echo the commands' output as it comes (secrets masked).
    :param expand_env_vars: replace ``$NAME`` and ``${NAME}`` in each line with the variables
        of that environment before splitting it.
    :returns: ``stdout`` and ``stderr``, the commands' output joined and stripped.
    """
    environment = dict(os.environ)
    environment.update({str(key): str(value) for key, value in (env or {}).items()})
    stdout: list[str] = []
    stderr: list[str] = []
    for written in script.splitlines():
        if not written.strip() or written.lstrip().startswith("#"):
            continue
        line = string.Template(written).safe_substitute(environment) if expand_env_vars else written
        try:
            argv = shlex.split(line)
        except ValueError as error:
            raise CodeferryError(f"cannot split the command {written.strip()!r}: {error}") from None
        if not argv:
            continue
        result = run_program(argv, cwd=directory, env=environment, stream_output=stream_output)
        stdout.append(result.stdout)
        stderr.append(result.stderr)
    return {"stdout": "".join(stdout).strip(), "stderr": "".join(stderr).strip()}
