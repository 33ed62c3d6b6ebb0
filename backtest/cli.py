"""The ``rmpbt`` command line: parse, load config, call the library, print, exit.

Commands live in ``backtest/commands/`` and are imported only when invoked, so
``rmpbt --help``, ``--version`` and ``strategies`` load no numerical stack.

Every user error (``RmpbtError``) is printed as one line on stderr with exit code 2;
nothing is half-written (run folders are written atomically). ``--debug`` shows the
traceback of unexpected errors.
"""

from __future__ import annotations

import atexit
import difflib
import gc
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
from backtest.commands.common import err_console
from backtest.errors import Interrupted, RmpbtError

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


def _on_signal(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


def install_signal_handlers() -> dict[int, object]:
    """Handle SIGINT, SIGTERM and SIGHUP alike: unwind (removing temp folders), then exit.

    Returns
    -------
    dict
        The previous handlers by signal number (for :func:`restore_signal_handlers`).
    """
    import signal

    old: dict[int, object] = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                old[sig] = signal.signal(sig, _on_signal)
            except (ValueError, OSError):  # not the main thread / not allowed: keep the default
                pass
    return old


def restore_signal_handlers(old: dict[int, object]) -> None:
    """Put back the handlers returned by :func:`install_signal_handlers`."""
    import signal

    for sig, handler in old.items():
        try:
            signal.signal(sig, handler)  # type: ignore[arg-type]
        except (ValueError, OSError, TypeError):
            pass


def _say(kind: str, msg: str) -> None:
    err_console.print(
        f"[bold red]{kind}:[/] {escape(' '.join(str(msg).split()))}", highlight=False, soft_wrap=True
    )


def main() -> None:
    """Console-script entry point: one line on stderr for every failure.

    Exit codes: 0 success (also a signal or a closed or full stdout after the output folder
    was complete: "interrupted after writing FOLDER"); 2 anything the user can fix (bad
    input, usage, unreadable or wrong-type file, read-only or full disk, unreachable
    scheduler); 1 a genuine bug (``--debug`` shows its traceback); 128+N after signal N
    when nothing was written.
    """
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    # at exit, no cyclic garbage collection over the libraries' objects (vectorbt alone:
    # ~1 s of interpreter shutdown); refcounted objects are still freed, std streams flushed
    atexit.unregister(gc.freeze)  # once, also when main() is called again in one process
    atexit.register(gc.freeze)
    ascii_fallback(sys.stdout)
    ascii_fallback(sys.stderr)
    numba_cache_fallback()
    old = install_signal_handlers()
    out = GuardedStream(sys.stdout)
    real_stdout, sys.stdout = sys.stdout, out
    from backtest.results import COMPLETED

    first = len(COMPLETED)
    try:
        _dispatch(debug, COMPLETED, first)
    finally:
        sys.stdout = real_stdout
        restore_signal_handlers(old)
        _after_stdout_failure(out, COMPLETED[first:])


# ----------------------------------------------------------------- terminal endings

#: Plain-ASCII stand-ins for the symbols rmpbt prints, on a terminal whose encoding lacks them
#: (``PYTHONIOENCODING=latin-1``, ``LANG=C``); anything else becomes ``?``.
ASCII_FALLBACKS = {
    "→": "->", "←": "<-", "–": "-", "—": "-", "…": "...", "★": "*", "Δ": "d", "±": "+/-",
    "≤": "<=", "≥": ">=", "≠": "!=", "≈": "~", "×": "x", "·": ".", "•": "*", "✓": "v", "✗": "x",
    "‘": "'", "’": "'", "“": '"', "”": '"', "γ": "g", "μ": "u", "σ": "s", "λ": "l", "θ": "t",
    "³": "3", "²": "2", "₀": "0", "\u2009": " ", "\u00a0": " ",
}


def _ascii_errors(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start:exc.end]
    return "".join(ASCII_FALLBACKS.get(c, "?") for c in text), exc.end


def ascii_fallback(stream: Any) -> None:
    """Let ``stream`` write any text: characters its encoding lacks become ASCII stand-ins.

    A terminal in a narrow encoding (``PYTHONIOENCODING=latin-1``) then shows ``->`` for
    the arrow of the header instead of failing with ``UnicodeEncodeError`` after the run
    folder was written.
    """
    import codecs

    try:
        codecs.lookup_error("rmpbt-ascii")
    except LookupError:
        codecs.register_error("rmpbt-ascii", _ascii_errors)
    enc = getattr(stream, "encoding", None) or "utf-8"
    try:
        "→–…★Δ±≤".encode(enc)
        return
    except (UnicodeEncodeError, LookupError):
        pass
    try:
        stream.reconfigure(errors="rmpbt-ascii")
    except (AttributeError, ValueError, OSError):
        pass


class GuardedStream:
    """``sys.stdout`` that survives its reader: a closed pipe or a full disk stops the output.

    The first write that fails (``BrokenPipeError``: ``| head``; ``OSError``: ``> /dev/full``)
    is recorded in ``failure`` and everything after it is dropped, so that a failing
    terminal never turns a written run into an error; :func:`main` then ends quietly (a
    closed pipe) or with one warning naming the folder written (exit 0).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failure: OSError | None = None

    def write(self, text: str) -> int:
        """Write through, unless the stream already failed (then drop)."""
        if self.failure is None:
            try:
                self.inner.write(text)
            except OSError as exc:
                self.failure = exc
        return len(text)

    def flush(self) -> None:
        """Flush through, unless the stream already failed."""
        if self.failure is None:
            try:
                self.inner.flush()
            except OSError as exc:
                self.failure = exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _silence_fd1() -> None:
    """Point fd 1 at /dev/null so that the interpreter's last flush cannot fail again."""
    import os

    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.close(fd)
    except OSError:
        pass


def _after_stdout_failure(out: GuardedStream, written: list[Any]) -> None:
    out.flush()
    if out.failure is None:
        return
    if getattr(out.inner, "fileno", None) is not None and out.inner is sys.__stdout__:
        _silence_fd1()
    if isinstance(out.failure, BrokenPipeError):
        return  # the reader has gone: end quietly, with the exit code already chosen
    reason = out.failure.strerror or type(out.failure).__name__
    where = f"; written: {written[-1]}" if written else ""
    err_console.print(f"warning: could not write to standard output ({reason}){where}",
                      highlight=False, markup=False, soft_wrap=True)


def numba_cache_fallback() -> None:
    """Compile without numba's on-disk cache (one warning) when no cache folder is writable.

    numba caches compiled kernels next to the sources (``__pycache__``), in
    ``NUMBA_CACHE_DIR`` or in the user's cache folder; when none can be written it fails at
    import. Then this points ``NUMBA_CACHE_DIR`` at a private temporary folder removed at
    exit: kernels compile in every run (slower start), results are the same.
    """
    import os

    if "numba" in sys.modules or os.environ.get("RMPBT_NUMBA_FALLBACK"):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    cands = [os.path.join(here, "__pycache__")]
    if os.environ.get("NUMBA_CACHE_DIR"):
        cands.insert(0, os.environ["NUMBA_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    cands.append(os.path.join(xdg, "numba"))
    if any(cache_writable(c) for c in cands):
        return
    import shutil
    import tempfile

    tmp = tempfile.mkdtemp(prefix="rmpbt-numba-")
    atexit.register(shutil.rmtree, tmp, True)
    os.environ["NUMBA_CACHE_DIR"] = tmp
    os.environ["RMPBT_NUMBA_FALLBACK"] = "1"
    err_console.print(f"warning: numba's cache is not writable ({cands[0]}); compiling without a cache "
                      "(slower start, same results)", highlight=False, markup=False, soft_wrap=True)


def cache_writable(folder: str) -> bool:
    """Whether ``folder`` exists (or can be created) and a file can be written in it."""
    import os
    import tempfile

    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
        return True
    except OSError:
        return False


def _dispatch(debug: bool, completed: list[Any] | None = None, first: int = 0) -> None:
    from typer.exceptions import Abort, TyperException  # typer vendors click's exceptions

    from backtest.errors import ResourceError, file_error, is_user_os_error

    completed = completed if completed is not None else []
    try:
        rc = app(standalone_mode=False)
    except RmpbtError as exc:  # raised outside a command's own handler
        _say(exc.kind, str(exc))
        sys.exit(exc.exit_code)
    except TyperException as exc:  # click usage errors: one short line, exit 2
        msg = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `rmpbt`: the help is the message
            err_console.print(msg, highlight=False, markup=False)
        else:
            _say("usage error", msg)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    except (Interrupted, KeyboardInterrupt, Abort) as exc:
        written = completed[first:]
        if written:  # the output was complete before the signal: say so, keep it, exit 0
            err_console.print(f"interrupted after writing {written[-1]}", highlight=False, markup=False,
                              soft_wrap=True)
            print(str(written[-1]), flush=True)
            sys.exit(0)
        err_console.print("interrupted: nothing written", highlight=False)
        code = getattr(exc, "signum", None)
        if code is None and isinstance(exc.__context__, Interrupted):
            code = exc.__context__.signum
        sys.exit(128 + (code or 2))
    except MemoryError:
        _say(ResourceError.kind, "out of memory: reduce --paths, --horizon or the grid")
        sys.exit(2)
    except OSError as exc:
        if not is_user_os_error(exc) or debug:
            if debug:
                raise
            _internal(exc)
        err = file_error(exc)
        _say(err.kind, str(err))
        sys.exit(err.exit_code)
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback
        if debug:
            raise
        _internal(exc)
    if isinstance(rc, int) and rc:
        sys.exit(rc)


def _internal(exc: BaseException) -> None:
    _say("internal error", f"{type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
    sys.exit(1)


if __name__ == "__main__":
    main()
