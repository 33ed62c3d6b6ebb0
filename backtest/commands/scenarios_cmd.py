"""``rmpbt scenarios CONFIG``: score every strategy of a config on simulated RMP scenarios.

Paths of each scenario (``configs/scenarios.yaml`` or ``--scenarios FILE``) are generated
from the real data (``--data-dir``: block bootstrap of analogue days) or the sample
market (calibrated parametric model), every strategy runs on every path, and the run
folder gets ``scenario_metrics.csv``, ``scenario_regret.csv``, ``scenario_fan.parquet``
besides the contract files. Prints a summary table and, last, the folder path.
See ``docs/scenarios.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from backtest.commands.common import out_path
from backtest.commands.progress import RichProgress
from backtest.errors import RmpbtError
from backtest.guards import (
    MAX_SIDE_PATHS,
    check_calibration_budget,
    check_scenario_budget,
    check_workers,
)

ConfigArg = Annotated[Path, typer.Argument(help="YAML run config whose strategies are scored.", show_default=False)]


def _pct(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.1%}"


def summary_table(run) -> Table:
    """Median horizon return (p5 … p95) per strategy and scenario, plus mix risk and regret.

    The max-regret cell carries, on a second line, the share of path resamples in which
    the strategy is the robust choice (``choice_share``; absent when resampling is off).
    """
    sm = run.scenario_metrics
    scen = list(dict.fromkeys(sm["scenario"]))
    t = Table(title=f"Horizon return, median (p5 … p95) over {run.paths:,} paths per scenario",
              title_justify="left", header_style="bold")
    t.add_column("strategy", style="cyan", no_wrap=True)
    for s in scen:
        t.add_column("mix" if s == "mix" else s, justify="right")
    has_mix = "mix" in scen
    ref = "mix" if has_mix else scen[0]
    t.add_column(f"P(loss) {ref}", justify="right")
    t.add_column(f"CVaR5 {ref}", justify="right")
    t.add_column(f"max DD {ref}", justify="right")
    beat = f"prob_beat_6040_{ref}" in run.regret
    if beat:
        t.add_column(f"P(beat 60/40) {ref}", justify="right")
    share = "choice_share" in run.regret and bool(np.isfinite(run.regret["choice_share"]).any())
    t.add_column("max regret\n[dim](chosen)[/]" if share else "max regret", justify="right")
    hr = sm.loc[sm["statistic"] == "horizon_return"].set_index(["strategy", "scenario"])
    other = sm.set_index(["strategy", "scenario", "statistic"])
    reg = run.regret.set_index("strategy")
    for strat in dict.fromkeys(sm["strategy"]):
        cells = []
        for s in scen:
            r = hr.loc[(strat, s)]
            cells.append(f"{_pct(r['median'])}\n[dim]{_pct(r['p5'])} … {_pct(r['p95'])}[/]")
        cells.append(_pct(other.loc[(strat, ref, "prob_loss"), "mean"]))
        cells.append(_pct(other.loc[(strat, ref, "cvar_5"), "mean"]))
        cells.append(_pct(other.loc[(strat, ref, "max_drawdown"), "median"]))
        if beat:
            p, se = reg.loc[strat, f"prob_beat_6040_{ref}"], reg.loc[strat, f"prob_beat_6040_se_{ref}"]
            cells.append("–" if not np.isfinite(p) else f"{p:.0%} ± {se:.0%}")
        robust = bool(reg.loc[strat, "robust"])
        chosen = f"\n[dim]{reg.loc[strat, 'choice_share']:.0%}[/]" if share else ""
        cells.append(("[bold green]" if robust else "") + _pct(reg.loc[strat, "max_regret"]) + (" ★[/]" if robust else "")
                     + chosen)
        t.add_row(strat, *cells)
    return t


CHUNKS_PER_SCENARIO = 8
MAX_DEFAULT_CHUNK = 2000


def default_chunk(paths: int) -> int:
    """Paths per chunk when ``--chunk-size`` is not given: about 8 chunks per scenario (at most 2000).

    Progress advances per chunk, so one chunk per scenario would leave it at 0 for minutes.
    """
    return max(1, min(MAX_DEFAULT_CHUNK, -(-int(paths) // CHUNKS_PER_SCENARIO)))


def select_strategies(cfg, names: list[str], origin: str):
    """The config restricted to ``names`` (ConfigError naming an unknown strategy)."""
    import difflib

    from backtest.errors import ConfigError

    known = [s.name for s in cfg.strategies]
    for n in names:
        if n not in known:
            close = difflib.get_close_matches(n, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{origin}: --strategies: no strategy named {n!r}{hint}")
    return cfg.model_copy(update={"strategies": [s for s in cfg.strategies if s.name in names]})


def register(app: typer.Typer) -> None:
    """Add the ``scenarios`` command to ``app``."""

    @app.command("scenarios")
    def scenarios(
        config: ConfigArg,
        paths: Annotated[int | None, typer.Option("--paths", help="Paths per scenario (default 1000; --calibrate: 200).",
                                                  show_default=False)] = None,
        horizon: Annotated[int | None, typer.Option("--horizon", help="Trading days (default: the scenario file's).")] = None,
        seed: Annotated[int, typer.Option("--seed", help="Root seed; same seed = same paths.")] = 0,
        workers: Annotated[int | None, typer.Option("--workers", help="Start a local Dask cluster with N workers.")] = None,
        scheduler: Annotated[str | None, typer.Option("--scheduler", help="Use a running Dask scheduler (host:port).")] = None,
        scenarios_file: Annotated[Path | None, typer.Option("--scenarios", help="Scenario file (default configs/scenarios.yaml).")] = None,
        data_dir: Annotated[str | None, typer.Option("--data-dir", help="Real data folder (csv layout): bootstrap from history.")] = None,
        out: Annotated[Path, typer.Option("--out", parser=out_path, help="Results root; the run writes one new folder inside.")] = Path("results"),
        chunk_size: Annotated[int | None, typer.Option("--chunk-size", help="Paths per chunk (results do not depend on it).")] = None,
        only: Annotated[str | None, typer.Option("--only", help="Comma-separated scenarios to run (default: all).")] = None,
        strategies: Annotated[str | None, typer.Option("--strategies", help="Comma-separated strategies of CONFIG to score (default: all).")] = None,
        no_report: Annotated[bool, typer.Option("--no-report", help="Skip tearsheet.html and PNGs.")] = False,
        force: Annotated[bool, typer.Option("--force", help="Run even above the work/memory guard.")] = False,
        include_forecast_period: Annotated[bool, typer.Option(
            "--include-forecast-period",
            help="Let analogue pools use days on or after a scenario's start (off: no peeking).")] = False,
        calibrate: Annotated[bool, typer.Option("--calibrate", help="Calibration backtest: fit on data up to each "
                                                "past start, simulate the next horizon, score the realised outcome.")] = False,
        calibrate_from: Annotated[str, typer.Option("--calibrate-from", help="First calibration start.")] = "2014-01-01",
        calibrate_every: Annotated[str, typer.Option("--calibrate-every", help="quarter | month | year.")] = "quarter",
        drift: Annotated[str | None, typer.Option(
            "--drift", help="State drifts: raw | shrunk | demeaned (default: the scenario file's, shrunk).")] = None,
        pace: Annotated[str | None, typer.Option(
            "--pace", help="Constant paces in bn USD/month, e.g. A=25,B=45,C=3.5 (0..2000).")] = None,
        pace_effect_paths: Annotated[int | None, typer.Option(
            "--pace-effect-paths", min=0, max=MAX_SIDE_PATHS,
            help="Paths of the pace-effect measurement (default min(paths, 500); 0 skips it).")] = None,
        channel_effect_paths: Annotated[int | None, typer.Option(
            "--channel-effect-paths", min=0, max=MAX_SIDE_PATHS,
            help="Paths per scenario of the liquidity channel's total effect (default min(paths, 200); 0 skips it).")
        ] = None,
        sensitivity_paths: Annotated[int | None, typer.Option(
            "--sensitivity-paths", min=0, max=MAX_SIDE_PATHS,
            help="Paths per scenario of the leave-one-episode-out reruns (default min(paths, 100); 0 skips them).")
        ] = None,
    ) -> None:
        """Score every strategy of CONFIG on simulated RMP scenarios (A, B, C, mix)."""
        from backtest.commands.common import console, err_console, fail
        from backtest.commands.loading import load_run_config as load_config
        from backtest.executors import make_executor
        from backtest.synthetic.model.drift import drift_line
        from backtest.synthetic.runner import run_scenarios
        from backtest.synthetic.scenarios import load_scenarios
        from backtest.synthetic.side.pace_effect import pace_effect_lines
        from backtest.synthetic.writer import write_scenario_run

        bar = RichProgress(err_console, "scenarios", "of the estimated work", percent=True)

        def started(prep, n: int) -> None:
            for w in prep.warnings:  # after the pools resolved: an error stays the only line
                err_console.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)

        def estimated(est) -> None:
            err_console.print(f"{est.message()} (pilot: {est.pilot_paths} paths per scenario, "
                              f"{est.pilot_seconds:.1f} s)", highlight=False, markup=False, soft_wrap=True)
            bar.start(est.total, prior_rate=est.seconds() / est.total if est.total > 0 else None)

        def advance(done: float, total: float) -> None:
            bar.update(done)

        try:
            cfg = load_config(config, [], data_dir=data_dir)
            if strategies:
                cfg = select_strategies(cfg, [x.strip() for x in strategies.split(",") if x.strip()], str(config))
            sset = load_scenarios(scenarios_file).with_horizon(horizon)
            sset = sset.only([s.strip() for s in only.split(",") if s.strip()] if only else None)
            sset = sset.with_forecast_period(include_forecast_period)
            sset = sset.with_drift(drift).with_paces(pace)
            check_workers(workers, force)
            if calibrate:
                from backtest.commands.calibrate_cmd import calibrate_command

                check_calibration_budget(200 if paths is None else paths, calibrate_from, calibrate_every,
                                         max(s.horizon_days for s in sset.scenarios), len(cfg.strategies),
                                         chunk_size, seed, force)

                calibrate_command(cfg, sset, config=config, paths=200 if paths is None else paths, seed=seed,
                                  start_from=calibrate_from, every=calibrate_every, out=out, report=not no_report,
                                  workers=workers, scheduler=scheduler)
                return
            paths = 1000 if paths is None else paths
            if chunk_size is None:
                chunk_size = default_chunk(paths)
            check_scenario_budget(paths, [s.horizon_days for s in sset.scenarios], len(cfg.data.universe),
                         len(cfg.strategies), chunk_size, seed, force)
            with make_executor(workers, scheduler) as ex:
                try:
                    run = run_scenarios(cfg, sset, paths=paths, seed=seed, origin=str(config), chunk_size=chunk_size,
                                        executor=ex, progress=advance, on_prepared=started,
                                        on_estimate=estimated, pace_effect_paths=pace_effect_paths,
                                        channel_effect_paths=channel_effect_paths, sensitivity_paths=sensitivity_paths)
                finally:
                    bar.stop()
            folder = write_scenario_run(run, out, report=not no_report)
        except RmpbtError as exc:
            fail(exc)
            return
        prep = run.prep
        label = "SYNTHETIC sample market" if prep.md.synthetic else prep.md.source
        gen = ("parametric (calibrated per regime kind)" if prep.source == "parametric"
               else f"block bootstrap of analogue days (mean block {sset.spec.mean_block_days:g})")
        first = next(iter(prep.contexts.values()))
        console.print(
            f"[bold]{cfg.name}[/]  scenarios: {', '.join(s.name for s in sset.scenarios)}  "
            f"paths: {paths:,} x {first.horizon} days from {first.days[0].date()}  seed: {seed}  "
            f"data: {label}  generator: {gen}  executor: {run.executor}  ({run.timings['total']:.1f} s)",
            highlight=False,
        )
        console.print(summary_table(run))
        from backtest.report.scenario_page import verdict

        text, tone = verdict(run.regret, sset.spec.scoring.choice_resamples)  # coloured by what it says (docs/scenarios.md)
        colour = {"good": "green", "neutral": "yellow", "bad": "red"}[tone]
        console.print(f"[bold {colour}]{escape(text)}[/]", highlight=False)
        from backtest.synthetic.decide.core import run_decision_lines

        for line in run_decision_lines(run):  # the flips of the choice (docs/decide.md)
            console.print(escape(line), highlight=False, soft_wrap=True)
        console.print(drift_line(sset.states, first.drifts), highlight=False, soft_wrap=True)
        for line in pace_effect_lines(run.extras.get("pace_effect")):
            console.print(line, highlight=False, soft_wrap=True)
        from backtest.synthetic.model_record import model_lines

        for line, tone in model_lines(run):  # medians' source, channels, pool sensitivity, separation
            style = {"good": "green", "neutral": "yellow", "bad": "red"}.get(tone)
            console.print(f"[{style}]{escape(line)}[/]" if style else escape(line), highlight=False, soft_wrap=True)
        for note in run.notes:
            console.print(f"[dim]note: {note}[/]", highlight=False)
        console.print(str(folder), highlight=False, soft_wrap=True)
