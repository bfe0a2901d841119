"""The ``pip_install_requirements`` step: install a requirements file into the running Python."""

from __future__ import annotations

import sys
from pathlib import Path

from codeferry.errors import CodeferryError
from codeferry.steps.programs import run_program

__all__ = ["pip_install_requirements"]


def pip_install_requirements(
    directory: str | None = None,
    requirements_file: str = "requirements.txt",
    stream_output: bool = True,
) -> dict[str, str]:
    """Run ``python -m pip install -r requirements_file`` with the interpreter codeferry runs on.

    :param directory: the folder holding the requirements file (default: the working folder);
        pip runs there, so relative paths in the file resolve against it.
    :returns: ``stdout`` and ``stderr`` of pip, stripped.
    """
    folder = Path(directory) if directory is not None else Path.cwd()
    if not (folder / requirements_file).is_file():
        raise CodeferryError(f"requirements file {folder / requirements_file} does not exist")
    result = run_program(
        [sys.executable, "-m", "pip", "install", "-r", requirements_file],
        cwd=folder,
        stream_output=stream_output,
    )
    return {"stdout": result.stdout.strip(), "stderr": result.stderr.strip()}
