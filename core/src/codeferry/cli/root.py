"""The root command of the ``codeferry`` command line, as a typer application.

Every command is declared here, with its help and usage errors. :func:`codeferry.cli.main`
hands the commands a worker runs (``pull`` and ``run`` in their common forms) to
:mod:`codeferry.cli.lean` instead, which does the same without importing typer; everything
else comes here. Both report errors through :func:`codeferry.cli.lean.report_failure`.

Start-up time is a feature: this module and the command modules import only typer and the
standard library at module level, and each command imports what it needs when it runs.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from codeferry import __version__
from codeferry.cli import block, code, deployment, init, plugins, variable

__all__ = ["CodeferryGroup", "app"]


class CodeferryGroup(TyperGroup):
    """The root command: masks secrets in all it prints; one-line errors and exit statuses."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Everything a command prints passes the mask: its results, errors and tracebacks, the
        # output of the programs its steps run, user code's prints, usage errors. The secrets
        # of the environment (GITHUB_TOKEN...) are known from the start: a program may print them.
        import os

        from codeferry.masked_output import masked_stdio
        from codeferry.secrets import remember_named
        from codeferry.terminal import logging_restored

        remember_named(os.environ)
        with masked_stdio(), logging_restored():
            return super().main(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        from codeferry.cli.lean import report_failure

        try:
            return super().invoke(ctx)
        except Exception as error:
            if _is_click_control_flow(error):
                raise
            report_failure(error)
            raise typer.Exit(1) from None


def _is_click_control_flow(error: Exception) -> bool:
    """Usage errors, exits, aborts and a closed pipe (``| head``): click handles those itself."""
    if isinstance(error, BrokenPipeError):
        return True
    return type(error).__module__.split(".", 1)[0] in {"typer", "click"}


app = typer.Typer(
    name="codeferry",
    cls=CodeferryGroup,
    help="Fetch workflow code from where it is stored, and run it.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: rich and markdown-it cost 100 ms of start-up
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"codeferry {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[  # noqa: ARG001 - read by its eager callback, not here
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="Say what codeferry does on standard error; -vv adds debugging detail.",
        ),
    ] = 0,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Errors only: no progress, notices or summaries on stderr."
        ),
    ] = False,
) -> None:
    """Fetch workflow code from where it is stored, and run it."""
    from codeferry.terminal import QUIET, configure_logging

    if verbose and quiet:
        raise typer.BadParameter("give -v or -q, not both", param_hint="'-v' / '-q'")
    configure_logging(QUIET if quiet else verbose)


# Commands and groups of commands: one line each.
app.command("pull")(code.pull)
app.command("run", cls=code.RunCommand)(code.run)
app.command("push")(deployment.push)
app.command("init")(init.init)
app.add_typer(deployment.app)
app.add_typer(block.app)
app.add_typer(variable.app)
app.add_typer(plugins.app)
