"""The ``codeferry`` command line.

Exit status: 0 on success; 1 when something the user can fix went wrong (any
:class:`~codeferry.errors.CodeferryError`, or an operating-system failure such as a full disk,
printed as one line ``Error: ...`` on standard error, without a traceback, naming the cause and
the file), when a command was declined, or on a bug (printed as ``Error: unexpected
...``; ``CODEFERRY_DEBUG=1`` adds the traceback); 2 when the command line itself is malformed
(unknown option, missing argument); 130 when interrupted.

``-v``/``-vv`` and ``-q`` (before the command: ``codeferry -q pull SOURCE``) set how much is said
on standard error, through :func:`codeferry.terminal.configure_logging`.

Start-up time is a feature. The commands a worker runs before every flow run (``pull`` and
``run``), and ``block type ls``, are parsed by :mod:`codeferry.cli.lean`, which imports no
command-line framework; every other command line, help and usage errors included, goes to the
typer application :data:`app` (:mod:`codeferry.cli.root`), imported only then.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codeferry.cli.root import CodeferryGroup, app

__all__ = ["CodeferryGroup", "app", "main", "program"]


def main(argv: list[str] | None = None) -> None:
    """Run the command line (``argv`` defaults to the process arguments)."""
    from codeferry.cli import lean

    lean.main(sys.argv[1:] if argv is None else argv)  # returns only if it is not lean's to run
    from codeferry.cli.root import app

    app(args=argv, prog_name="codeferry")


def program() -> None:
    """The ``codeferry`` program (and ``python -m codeferry``): :func:`main`, then the end of the
    process, without the interpreter's last full garbage collection.

    A process that is ending frees its memory at once; collecting the 20,000 objects of a pull
    first (none of them holding anything unwritten: every file is closed by then) adds 12 ms to
    a re-pull that finds nothing changed. So the objects left are frozen (:func:`gc.freeze`) as
    the command ends; :func:`main`, which tests and other programs call, does not do this.
    """
    import gc

    try:
        main()
    finally:
        gc.freeze()


def __getattr__(name: str) -> Any:
    # The typer application is imported on first use, so that the lean path never pays for it.
    if name in {"CodeferryGroup", "app"}:
        from codeferry.cli import root

        return getattr(root, name)
    raise AttributeError(f"module 'codeferry.cli' has no attribute {name!r}")
