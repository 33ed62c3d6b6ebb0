"""The ``rmpbt`` command line: parse, load config, call the library, print, exit.

Commands live in ``backtest/commands/`` and are imported only when invoked, so
``rmpbt --help``, ``--version`` and ``strategies`` load no numerical stack.

Every user error (``RmpbtError``) is printed as one line on stderr with exit code 2;
nothing is half-written (run folders are written atomically). ``--debug`` shows the
traceback of unexpected errors.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from typing import Annotated, Any

import typer
import typer.main
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from backtest import __version__
from backtest.commands import COMMANDS
from backtest.commands.common import (  # noqa: F401 - re-exported: old import paths
    ConfigArg,
    DataDirOpt,
    EndOpt,
    OutOpt,
    SetOpt,
    StartOpt,
    console,
    err_console,
    fail,
    fmt,
    summary_table,
)
from backtest.errors import RmpbtError

COMMAND_MODULES = tuple(module for module, _help in COMMANDS.values())


class LazyGroup(TyperGroup):
    """A typer group whose commands are imported only when invoked.

    Listing (``--help``) uses the help texts of :data:`backtest.commands.COMMANDS`;
    resolving a command imports its module and calls its ``register(app)``.
    """

    _listing = False

    def list_commands(self, ctx: typer.Context) -> list[str]:
        """Names of the available commands, in the table's order."""
        names = [n for n, (mod, _h) in COMMANDS.items() if n in self.commands or _available(mod)]
        return names + [n for n in self.commands if n not in COMMANDS]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        """The command, imported on first use (a help-only stub while listing)."""
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        module, help_text = COMMANDS[cmd_name]
        if self._listing:
            return TyperCommand(cmd_name, help=help_text, short_help=help_text)
        if not _available(module):
            return None
        cmd = load_command(cmd_name)
        self.commands[cmd_name] = cmd
        return cmd

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        """Help of the group: commands listed from the static table."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:
        """Resolve a command; an unknown name gets a did-you-mean over all commands."""
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:  # the vendored click's UsageError
            message = getattr(exc, "message", None)
            close = difflib.get_close_matches(args[0], list(COMMANDS)) if args else []
            if message is not None and close and "Did you mean" not in message:
                exc.message = f"{message.rstrip('.')}. Did you mean {close[0]!r}?"
            raise


def _available(module: str) -> bool:
    """Whether a command module exists (commands still being written are skipped)."""
    return importlib.util.find_spec(module) is not None


def load_command(name: str) -> Any:
    """Import the module of command ``name`` and build its click command.

    Parameters
    ----------
    name : str
        A key of :data:`backtest.commands.COMMANDS`.

    Returns
    -------
    click.Command
        The command (a group for sub-apps such as ``data``), from typer's click.
    """
    module = importlib.import_module(COMMANDS[name][0])
    sub = typer.Typer()
    module.register(sub)
    return typer.main.get_group(sub).commands[name]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rmpbt {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="rmpbt",
    cls=LazyGroup,
    help="Regime-aware portfolio backtester: test allocations across Fed liquidity regimes (QE, QT, RMP).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Show the traceback of unexpected errors (anywhere on the line)."
        ),
    ] = False,
) -> None:
    """Regime-aware portfolio backtester: test allocations across Fed liquidity regimes (QE, QT, RMP)."""


def main() -> None:
    """Console-script entry point."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        app()
    except RmpbtError as exc:  # raised outside a command's own handler
        err_console.print(f"[bold red]{exc.kind}:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted: nothing written", highlight=False)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback
        if debug:
            raise
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} (rerun with --debug for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
