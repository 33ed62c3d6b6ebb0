"""The ``rmpbt`` command line: parse, load config, call the library, print, exit.

Every user error (``RmpbtError``) is printed as one line on stderr with exit code 2;
nothing is half-written (run folders are written atomically). ``--debug`` shows the
traceback of unexpected errors.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from backtest.errors import Interrupted, RmpbtError

app = typer.Typer(
    name="rmpbt",
    help="Regime-aware portfolio backtester: test allocations across Fed liquidity regimes (QE, QT, RMP).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(width=140)
err_console = Console(stderr=True, width=200)

COMMAND_MODULES = (
    "backtest.commands.data_cmd",
    "backtest.commands.regimes_cmd",
    "backtest.commands.compare_cmd",
    "backtest.commands.scenarios_cmd",
    "backtest.commands.tune_cmd",
)

ConfigArg = Annotated[
    Path, typer.Argument(help="YAML run config (see configs/).", show_default=False)
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Override a config key: dotted.path=value (strategies by name). Repeatable."
    ),
]
StartOpt = Annotated[str | None, typer.Option(help="Override data.start (YYYY-MM-DD).")]
EndOpt = Annotated[str | None, typer.Option(help="Override data.end (YYYY-MM-DD).")]
DataDirOpt = Annotated[
    str | None,
    typer.Option(
        "--data-dir", help="Folder in the csv layout (prices/, vol/, fred/); implies source csv."
    ),
]
OutOpt = Annotated[
    Path, typer.Option("--out", help="Results root; the run writes one new folder inside.")
]


def fail(exc: RmpbtError) -> None:
    """Print a user error on one line and exit with its code."""
    err_console.print(f"[bold red]{exc.kind}:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def fmt(x: float, pct: bool = False) -> str:
    """Format a metric for the terminal."""
    if x is None or x != x:
        return "–"
    return f"{x:.1%}" if pct else f"{x:.2f}"


def summary_table(metrics, regime_metrics=None, title: str = "") -> Table:
    """Rich table: one row per strategy, with per-regime Sharpe when available."""
    t = Table(title=title, title_justify="left", header_style="bold")
    t.add_column("strategy", style="cyan", no_wrap=True)
    for col in ("CAGR", "vol", "Sharpe", "Sortino", "max DD", "Calmar", "turnover"):
        t.add_column(col, justify="right")
    regimes: list[str] = []
    if regime_metrics is not None and len(regime_metrics):
        regimes = sorted(regime_metrics["regime"].unique())
        for r in regimes:
            t.add_column(f"Sharpe@{r}", justify="right")
    for name, row in metrics.iterrows():
        cells = [
            fmt(row["cagr"], True),
            fmt(row["ann_vol"], True),
            fmt(row["sharpe"]),
            fmt(row["sortino"]),
            fmt(row["max_drawdown"], True),
            fmt(row["calmar"]),
            fmt(row["turnover"]),
        ]
        for r in regimes:
            sub = regime_metrics[
                (regime_metrics["strategy"] == name) & (regime_metrics["regime"] == r)
            ]
            cells.append(fmt(sub["sharpe"].iloc[0]) if len(sub) else "–")
        t.add_row(str(name), *cells)
    return t


@app.command()
def run(
    config: ConfigArg,
    set_: SetOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    data_dir: DataDirOpt = None,
    out: OutOpt = Path("results"),
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Skip tearsheet.html and PNGs.")
    ] = False,
) -> None:
    """Run a config-driven backtest and write a run folder (its path is the last line printed)."""
    from backtest.config import load_config
    from backtest.pipeline import run_backtest, write_run

    try:
        cfg = load_config(config, set_ or [], start=start, end=end, data_dir=data_dir)
        output = run_backtest(cfg, str(config))
        folder = write_run(output, out, report=not no_report)
    except RmpbtError as exc:
        fail(exc)
        return
    md = output.md
    label = "SYNTHETIC sample market" if md.synthetic else md.source
    console.print(
        f"[bold]{cfg.name}[/]  {output.days[0].date()} → {output.days[-1].date()}  "
        f"data: {label}  rebalance: {cfg.rebalance.every}  lag: {cfg.execution.lag_days}d  "
        f"costs: {cfg.costs.fee_bps:g}+{cfg.costs.slippage_bps:g} bps",
        highlight=False,
    )
    console.print(summary_table(output.metrics, output.regime_metrics))
    for note in output.notes:
        console.print(f"[dim]note: {escape(note)}[/]", highlight=False)
    console.print(str(folder), highlight=False, soft_wrap=True)


@app.command("strategies")
def list_strategies() -> None:
    """List the registered strategy kinds."""
    from strategies.base import load_all

    t = Table(header_style="bold")
    t.add_column("kind", style="cyan")
    t.add_column("what it does")
    for kind, spec in sorted(load_all().items()):
        t.add_row(kind, spec.doc)
    console.print(t)


def _register_commands() -> None:
    for mod in COMMAND_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise
        module.register(app)


_register_commands()


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

    Exit codes: 0 success; 2 anything the user can fix (bad input, usage, unreadable or
    wrong-type file, read-only or full disk, unreachable scheduler); 1 a genuine bug
    (``--debug`` shows its traceback); 128+N after signal N (nothing written).
    """
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    old = install_signal_handlers()
    try:
        _dispatch(debug)
    finally:
        restore_signal_handlers(old)


def _dispatch(debug: bool) -> None:
    from typer.exceptions import Abort, TyperException  # typer vendors click's exceptions

    from backtest.errors import ResourceError, file_error, is_user_os_error

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
