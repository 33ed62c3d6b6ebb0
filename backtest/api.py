"""The public Python API: the CLI's commands as functions returning results in memory.

>>> import rmpbt                                     # or: from backtest import api
>>> cfg = rmpbt.load_config("configs/quickstart.yaml", **{"costs.fee_bps": 5})
>>> res = rmpbt.run(cfg)                             # same numbers as ``rmpbt run``
>>> res.metrics.loc["sixty_forty", "sharpe"]         # doctest: +SKIP
>>> res.save("results")                              # a run folder, as the CLI writes it

Every function takes a config as a YAML path, a mapping or a :class:`RunConfig`, plus
dotted overrides that work like ``--set`` (``**{"costs.fee_bps": 5}`` or
``overrides={"strategies.playbook.params.variant": "A"}``; strategies by name). Paths in
a YAML file (``data.dir``) are relative to that file. Errors are :class:`RmpbtError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from backtest.config import RunConfig, describe_input
from backtest.config import load_config as _load_config
from backtest.data.base import MarketData
from backtest.errors import ConfigError
from backtest.guards import (
    check_calibration_budget,
    check_scenario_budget,
    check_side_paths,
)

ConfigLike = str | Path | dict | RunConfig


def _arg(fn: str, name: str, value: Any, kind: type | tuple[type, ...], optional: bool = False) -> Any:
    """Check an API argument's type as the CLI's parser would (one-line ConfigError naming it).

    Booleans are not numbers here either (``paths=True`` is refused), as in configs.
    """
    if value is None and optional:
        return value
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        want = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds) + (" or None" if optional else "")
        raise ConfigError(f"rmpbt.{fn}: {name}: expected {want}, got {describe_input(value)}")
    return value


_KIND_NAMES = {int: "an integer", float: "a number", str: "text", bool: "true or false", dict: "a mapping",
               list: "a list", Path: "a path", RunConfig: "a RunConfig", pd.DataFrame: "a DataFrame"}


def _config_arg(fn: str, config: Any, overrides: Any, data_dir: Any) -> None:
    if not isinstance(config, str | Path | dict | RunConfig):
        raise ConfigError(f"rmpbt.{fn}: config: expected a YAML path, a mapping or a RunConfig, "
                          f"got {describe_input(config)}")
    if isinstance(config, str) and not config.strip():
        raise ConfigError(f"rmpbt.{fn}: config: empty path")
    _arg(fn, "overrides", overrides, dict, optional=True)
    _arg(fn, "data_dir", data_dir, (str, Path), optional=True)


def _sets(overrides: dict[str, Any] | None, kw: dict[str, Any]) -> list[str]:
    merged = {**(overrides or {}), **kw}
    return [f"{k}={json.dumps(v, default=str)}" for k, v in merged.items()]


def load_config(
    config: ConfigLike, overrides: dict[str, Any] | None = None, *, data_dir: str | None = None, **kw: Any
) -> RunConfig:
    """Load and validate a run config, applying dotted overrides.

    Parameters
    ----------
    config : str, Path, dict or RunConfig
        YAML file, a mapping with the YAML's structure, or an already validated config.
    overrides : dict, optional
        ``{"dotted.key": value}`` applied like ``--set`` (strategies addressed by name).
    data_dir : str, optional
        Folder in the csv layout (like ``--data-dir``; implies the csv source).
    **kw
        More overrides (``**{"costs.fee_bps": 5}``; plain keys such as ``name=`` too).

    Returns
    -------
    RunConfig

    Raises
    ------
    ConfigError
        One line naming the file and key.
    """
    _config_arg("load_config", config, overrides, data_dir)
    return _load_config(config, _sets(overrides, kw), data_dir=None if data_dir is None else str(data_dir))


def _origin(config: ConfigLike) -> str:
    return str(config) if isinstance(config, str | Path) else "<api>"


def _weights_long(targets: dict[str, pd.DataFrame]) -> pd.DataFrame:
    parts = []
    for name, w in targets.items():
        live = w.dropna(how="all").rename_axis("date").reset_index()
        long = live.melt(id_vars="date", var_name="asset", value_name="weight")
        long.insert(1, "strategy", name)
        parts.append(long)
    cols = ["date", "strategy", "asset", "weight"]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True).sort_values(cols[:3], kind="stable").reset_index(drop=True)


@dataclass
class Result:
    """One backtest run in memory (what ``rmpbt run`` writes, before writing).

    Attributes
    ----------
    output : backtest.pipeline.RunOutput
        Everything the pipeline computed (data, signals, simulations, labels).
    """

    output: Any

    @property
    def config(self) -> RunConfig:
        """The validated config."""
        return self.output.cfg

    @property
    def returns(self) -> pd.DataFrame:
        """Daily net returns, one column per strategy."""
        return self.output.returns

    @property
    def weights(self) -> pd.DataFrame:
        """Target weights at the decision dates, long format ``date, strategy, asset, weight``."""
        return _weights_long(self.output.targets)

    @property
    def holdings(self) -> dict[str, pd.DataFrame]:
        """End-of-day actual (drifted) weights per strategy, including ``CASH``."""
        return {n: s.weights for n, s in self.output.sims.items()}

    @property
    def metrics(self) -> pd.DataFrame:
        """The run's metrics table (as ``metrics.csv``)."""
        return self.output.metrics

    @property
    def regime_metrics(self) -> pd.DataFrame:
        """Per-regime metrics (as ``regime_metrics.csv``)."""
        return self.output.regime_metrics

    @property
    def notes(self) -> list[str]:
        """Notes of the run (data repairs, renormalisations, fallbacks)."""
        return self.output.notes

    def save(self, root: str | Path = "results", report: bool = False) -> Path:
        """Write the run folder (atomically) inside ``root`` and return its path.

        Parameters
        ----------
        root : str or Path
            Results root; one new folder is written inside.
        report : bool
            Also render ``tearsheet.html`` and PNGs (as configured).
        """
        from backtest.pipeline import write_run

        return write_run(self.output, root, report=report)


def run(config: ConfigLike, overrides: dict[str, Any] | None = None, *, data_dir: str | None = None,
        md: Any = None, **kw: Any) -> Result:
    """Run a backtest, as ``rmpbt run`` does, and return the result in memory.

    Parameters
    ----------
    config : str, Path, dict or RunConfig
        The run config.
    overrides : dict, optional
        Dotted overrides (like ``--set``).
    data_dir : str, optional
        csv data folder (like ``--data-dir``).
    md : MarketData, optional
        Pre-loaded market data.
    **kw
        More dotted overrides.

    Returns
    -------
    Result
    """
    from backtest.pipeline import run_backtest

    _config_arg("run", config, overrides, data_dir)
    _arg("run", "md", md, MarketData, optional=True)
    cfg = load_config(config, overrides, data_dir=data_dir, **kw)
    return Result(run_backtest(cfg, _origin(config), md))


@dataclass
class ScenarioResult:
    """A scenario run in memory (``rmpbt scenarios``)."""

    run: Any

    @property
    def scenario_metrics(self) -> pd.DataFrame:
        """Distribution statistics per strategy and scenario."""
        return self.run.scenario_metrics

    @property
    def regret(self) -> pd.DataFrame:
        """Regret of each strategy across scenarios (with the ``robust`` flag)."""
        return self.run.regret

    @property
    def metrics(self) -> pd.DataFrame:
        """Metrics per strategy across paths."""
        return self.run.metrics

    @property
    def pace_effect(self) -> pd.DataFrame:
        """The measured pace effect per strategy (as ``pace_effect.csv``; empty when not measured)."""
        return self.run.extras.get("pace_effect", pd.DataFrame())

    @property
    def channel_effect(self) -> pd.DataFrame:
        """The liquidity channel's total effect per scenario and strategy (``channel_effect.csv``)."""
        return self.run.extras.get("channel_effect", pd.DataFrame())

    @property
    def pool_table(self) -> pd.DataFrame:
        """Per state: its pool beside realised history in its regime kind (``pool_table.csv``)."""
        return self.run.extras.get("pool_table", pd.DataFrame())

    @property
    def pool_sensitivity(self) -> pd.DataFrame:
        """The leave-one-episode-out reruns (``pool_sensitivity.csv``; empty when not measured)."""
        res = self.run.extras.get("pool_sensitivity")
        return res.table if res is not None else pd.DataFrame()

    def save(self, root: str | Path = "results", report: bool = False) -> Path:
        """Write the scenario run folder inside ``root`` and return its path."""
        from backtest.synthetic.writer import write_scenario_run

        return write_scenario_run(self.run, root, report=report)


def scenarios(config: ConfigLike, overrides: dict[str, Any] | None = None, *, paths: int = 1000, seed: int = 0,
              scenarios_file: str | Path | None = None, data_dir: str | None = None,
              chunk_size: int | None = None, drift: str | None = None, pace: str | None = None,
              pace_effect_paths: int | None = None, include_forecast_period: bool = False,
              channel_effect_paths: int | None = None, sensitivity_paths: int | None = None,
              force: bool = False, **kw: Any) -> ScenarioResult:
    """Score the config's strategies on synthetic paths of every scenario (``rmpbt scenarios``).

    Parameters
    ----------
    config : str, Path, dict or RunConfig
        The run config.
    overrides : dict, optional
        Dotted config overrides.
    paths, seed : int
        Paths per scenario and root seed.
    scenarios_file : str or Path, optional
        Scenario file (default ``configs/scenarios.yaml``).
    data_dir : str, optional
        Real data folder to bootstrap from.
    chunk_size : int, optional
        Paths per chunk (results do not depend on it).
    drift : {"raw", "shrunk", "demeaned"}, optional
        State drifts (``--drift``; default: the scenario file's).
    pace : str, optional
        Constant paces, e.g. ``"A=25,B=45,C=3.5"`` (``--pace``).
    pace_effect_paths : int, optional
        Paths of the pace-effect measurement (default ``min(paths, 500)``; 0 skips it).
    include_forecast_period : bool
        Let pools use days on or after a scenario's start (``--include-forecast-period``).
    channel_effect_paths : int, optional
        Paths per scenario of the liquidity channel's total effect (default
        ``min(paths, 200)``; 0 skips it).
    sensitivity_paths : int, optional
        Paths per scenario of the leave-one-episode-out reruns (default ``min(paths, 100)``;
        0 skips them).
    force : bool
        Run even above the work/memory guard (``--force``).
    **kw
        More dotted config overrides.

    Returns
    -------
    ScenarioResult

    Raises
    ------
    RmpbtError
        As the CLI: a one-line ``ConfigError`` for an argument of the wrong type,
        ``ScenarioError``/``ResourceError`` from the same guards as ``rmpbt scenarios``.
    """
    from backtest.synthetic.runner import run_scenarios

    fn = "scenarios"
    _config_arg(fn, config, overrides, data_dir)
    _arg(fn, "paths", paths, int)
    _arg(fn, "seed", seed, int)
    _arg(fn, "chunk_size", chunk_size, int, optional=True)
    _arg(fn, "pace_effect_paths", pace_effect_paths, int, optional=True)
    _arg(fn, "scenarios_file", scenarios_file, (str, Path), optional=True)
    _arg(fn, "drift", drift, str, optional=True)
    _arg(fn, "pace", pace, str, optional=True)
    _arg(fn, "include_forecast_period", include_forecast_period, bool)
    _arg(fn, "force", force, bool)
    _arg(fn, "channel_effect_paths", channel_effect_paths, int, optional=True)
    _arg(fn, "sensitivity_paths", sensitivity_paths, int, optional=True)
    for flag, value in (("--pace-effect-paths", pace_effect_paths), ("--channel-effect-paths", channel_effect_paths),
                        ("--sensitivity-paths", sensitivity_paths)):
        check_side_paths(flag, value)
    cfg = load_config(config, overrides, data_dir=data_dir, **kw)
    sset = _scenario_set(scenarios_file, drift, pace, include_forecast_period)
    check_scenario_budget(paths, [sc.horizon_days for sc in sset.scenarios], len(cfg.data.universe),
                          len(cfg.strategies), chunk_size, seed, force)
    return ScenarioResult(run_scenarios(cfg, sset, paths=paths, seed=seed, origin=_origin(config),
                                        chunk_size=chunk_size, pace_effect_paths=pace_effect_paths,
                                        channel_effect_paths=channel_effect_paths,
                                        sensitivity_paths=sensitivity_paths))


def _scenario_set(scenarios_file: str | Path | None, drift: str | None, pace: str | None, include: bool) -> Any:
    from backtest.synthetic.scenarios import load_scenarios

    return load_scenarios(scenarios_file).with_forecast_period(include).with_drift(drift).with_paces(pace)


def calibrate(config: ConfigLike, overrides: dict[str, Any] | None = None, *, paths: int = 200, seed: int = 0,
              start_from: str = "2014-01-01", every: str = "quarter", scenarios_file: str | Path | None = None,
              data_dir: str | None = None, drift: str | None = None, force: bool = False, **kw: Any) -> Any:
    """The calibration backtest of the scenario model (``rmpbt scenarios --calibrate``).

    Parameters
    ----------
    config : str, Path, dict or RunConfig
        The run config (its strategies are scored).
    overrides : dict, optional
        Dotted config overrides.
    paths, seed : int
        Paths per scenario and start date; root seed.
    start_from : str
        First start date considered.
    every : {"quarter", "month", "year"}
        Spacing of the start dates.
    scenarios_file : str or Path, optional
        Scenario file (default ``configs/scenarios.yaml``).
    data_dir : str, optional
        Real data folder.
    drift : str, optional
        State drifts (default: the scenario file's).
    force : bool
        Run even above the work guard (``--force``).
    **kw
        More dotted config overrides.

    Returns
    -------
    backtest.synthetic.calibrate.run.CalibrationRun
        ``.table`` (one row per start and strategy: realised, PIT, band), ``.summary``
        (coverage and verdict per strategy), ``.histogram``; write it with
        :func:`backtest.synthetic.calibrate.write.write_calibration_run`.
    """
    from backtest.synthetic.calibrate.run import run_calibration

    fn = "calibrate"
    _config_arg(fn, config, overrides, data_dir)
    _arg(fn, "paths", paths, int)
    _arg(fn, "seed", seed, int)
    _arg(fn, "start_from", start_from, str)
    _arg(fn, "every", every, str)
    _arg(fn, "scenarios_file", scenarios_file, (str, Path), optional=True)
    _arg(fn, "drift", drift, str, optional=True)
    _arg(fn, "force", force, bool)
    cfg = load_config(config, overrides, data_dir=data_dir, **kw)
    sset = _scenario_set(scenarios_file, drift, None, False)
    check_calibration_budget(paths, start_from, every, max(sc.horizon_days for sc in sset.scenarios),
                             len(cfg.strategies), None, seed, force)
    return run_calibration(cfg, sset, paths=paths, seed=seed, start_from=start_from, every=every,
                           origin=_origin(config))


@dataclass
class TuneOutput:
    """A tune in memory (``rmpbt tune``)."""

    result: Any

    @property
    def table(self) -> pd.DataFrame:
        """One row per variant with its in-sample metrics (as ``tune.csv``)."""
        return self.result.table

    @property
    def best_config(self) -> dict[str, Any]:
        """The best variant's config (as ``best.yaml``)."""
        return self.result.best_config

    @property
    def oos_metrics(self) -> pd.DataFrame:
        """Out-of-sample metrics of the selected variants."""
        return self.result.oos_metrics

    def save(self, root: str | Path = "results", report: bool = False) -> Path:
        """Write the tune folder inside ``root`` and return its path."""
        from backtest.tune.write import write_tune

        return write_tune(self.result, root, html=report)


def tune(config: ConfigLike, grid: list[str], overrides: dict[str, Any] | None = None, *,
         where: list[str] | None = None, random: int | None = None, seed: int | None = None,
         metric: str = "sharpe", walk_forward: str | None = None, split: str | None = None,
         strategy: str | None = None, chunk_size: int = 250, exact_weights: bool = False,
         heatmap: str | None = None, benchmark: str | None = None, benchmarks: bool = True,
         null_runs: int | None = None, cv: str | None = None,
         force: bool = False, data_dir: str | None = None, **kw: Any) -> TuneOutput:
    """Sweep config keys of one strategy (``rmpbt tune``): the CLI's arguments, the CLI's checks.

    Parameters
    ----------
    config : str, Path, dict or RunConfig
        The run config.
    grid : list of str
        ``KEY=START:STOP:STEP`` or ``KEY=a,b,c`` specs (``--grid``); keys may name the tuned
        strategy (``strategies.pb.params.x``, ``pb.params.x`` or ``params.x``).
    overrides : dict, optional
        Dotted config overrides (``--set``).
    where : list of str, optional
        Constraints between keys (``--where``; all must hold).
    random : int, optional
        Sample N variants of the grid (``--random``).
    seed : int, optional
        Seed of ``random`` (default: the config's seed).
    metric : str
        Ranking metric (``--metric``): ``sharpe``, ``sortino``, ``calmar``, ``cagr``,
        ``max_drawdown``, ``information_ratio`` or ``METRIC@REGIME``.
    walk_forward : str, optional
        ``train=36M,test=12M[,step=12M][,anchored]`` (``--walk-forward``).
    split : str, optional
        In-sample before this date, out-of-sample from it (``--split``).
    strategy : str, optional
        Strategy to tune (default: the first non-benchmark).
    chunk_size : int
        Variants per simulation batch (``--chunk-size``).
    exact_weights : bool
        No effect (``--exact-weights``, kept for old scripts): every variant's weights are exact.
    heatmap : str, optional
        ``KEY1,KEY2`` of the heatmap (``--heatmap``).
    benchmark : str, optional
        Strategy the verdict also compares with (``--benchmark``).
    benchmarks : bool
        Also run the untuned benchmarks (``--no-benchmarks`` is ``False``).
    null_runs : int, optional
        Runs of the verdict's noise null (``--null-runs``; default 200, 0 = off).
    cv : str, optional
        ``cpcv:N,K[,purge=D][,embargo=D]`` (``--cv``).
    force : bool
        Run even above the memory guard (``--force``).
    data_dir : str, optional
        csv data folder (``--data-dir``).
    **kw
        More dotted config overrides.

    Returns
    -------
    TuneOutput

    Raises
    ------
    RmpbtError
        The CLI's one-line errors: wrong argument types (``ConfigError``), grid, windows and
        guards (``SweepError``, ``ResourceError``).
    """
    from backtest.tune.orchestrate import checked_request, run_tune

    fn = "tune"
    _config_arg(fn, config, overrides, data_dir)
    _arg(fn, "grid", grid, (list, tuple))
    for g in grid:
        _arg(fn, "grid item", g, str)
    _arg(fn, "where", where, (list, tuple), optional=True)
    for w in where or []:
        _arg(fn, "where item", w, str)
    _arg(fn, "random", random, int, optional=True)
    _arg(fn, "seed", seed, int, optional=True)
    _arg(fn, "metric", metric, str)
    for name, value in (("walk_forward", walk_forward), ("split", split), ("strategy", strategy),
                        ("heatmap", heatmap), ("benchmark", benchmark), ("cv", cv)):
        _arg(fn, name, value, str, optional=True)
    _arg(fn, "chunk_size", chunk_size, int)
    _arg(fn, "null_runs", null_runs, int, optional=True)
    for name, value in (("exact_weights", exact_weights), ("benchmarks", benchmarks), ("force", force)):
        _arg(fn, name, value, bool)
    cfg = load_config(config, overrides, data_dir=data_dir, **kw)
    req = checked_request(cfg, list(grid), heatmap=heatmap, force=force, where=list(where or []), random=random,
                          seed=seed, metric=metric, walk_forward=walk_forward, split=split, strategy=strategy,
                          chunk_size=chunk_size, vectorise=not exact_weights, benchmark=benchmark, cv=cv,
                          **({} if null_runs is None else {"null_runs": null_runs}))
    return TuneOutput(run_tune(cfg, req, origin=_origin(config), benchmarks=benchmarks))


def now(config: ConfigLike, overrides: dict[str, Any] | None = None, *, data_dir: str | None = None,
        capital: float | None = None, holdings: str | Path | pd.DataFrame | None = None,
        today: Any = None, strategies: list[str] | None = None, **kw: Any) -> Any:
    """Where we stand today (``rmpbt now``): regimes, targets, drift, returns, trades.

    Parameters
    ----------
    config : str, Path, dict or RunConfig
        The run config.
    overrides : dict, optional
        Dotted config overrides.
    data_dir : str, optional
        csv data folder.
    capital : float, optional
        Portfolio value for the trade list (with holdings in shares: must match their value
        within 0.5 %).
    holdings : str, Path or DataFrame, optional
        Current holdings (``asset,shares`` or ``asset,weight``, optional ``CASH`` row); a
        DataFrame meets the file's checks (:mod:`backtest.now_book`); shares alone give the NAV.
    today : date or str, optional
        Today's date (default: the UTC date): within the data's span (data known by then only)
        or after its end.
    strategies : list of str, optional
        Strategies to report (default: all), as ``--strategies``.
    **kw
        More dotted config overrides.

    Returns
    -------
    backtest.now.NowReport
        ``.to_json()`` is ``now.json``; :func:`backtest.now.write_now` writes the folder.
    """
    from backtest.now import compute_now

    cfg = load_config(config, overrides, data_dir=data_dir, **kw)
    return compute_now(cfg, _origin(config), today=today, capital=capital, holdings=holdings,
                       strategies=strategies)


@dataclass
class EvidenceResult:
    """The evidence of a config in memory (``rmpbt evidence``)."""

    evidence: Any

    @property
    def claims(self) -> pd.DataFrame:
        """One row per measured claim (as ``claims.csv``)."""
        return self.evidence.claims

    @property
    def event_study(self) -> pd.DataFrame:
        """Event windows with placebo p-values (as ``event_study.csv``)."""
        return self.evidence.event_study

    @property
    def attribution(self) -> pd.DataFrame:
        """Regime attribution by asset (as ``attribution.csv``)."""
        return self.evidence.attribution

    @property
    def attribution_sleeves(self) -> pd.DataFrame:
        """Regime attribution by sleeve (as ``attribution_sleeves.csv``)."""
        return self.evidence.attribution_sleeves

    @property
    def episodes(self) -> pd.DataFrame:
        """Episode replay (as ``episodes.csv``)."""
        return self.evidence.episodes

    def save(self, root: str | Path = "results", report: bool = True) -> Path:
        """Write the evidence folder inside ``root`` and return its path (``evidence.html`` when ``report``)."""
        from backtest.evidence.write import write_evidence

        return write_evidence(self.evidence, root, html=report)


def evidence(config: ConfigLike, overrides: dict[str, Any] | None = None, *, data_dir: str | None = None,
             seed: int | None = None, **kw: Any) -> EvidenceResult:
    """The article's claims tested on history (``rmpbt evidence``).

    Parameters
    ----------
    config : str, Path, dict or RunConfig
        The run config.
    overrides : dict, optional
        Dotted config overrides.
    data_dir : str, optional
        csv data folder.
    seed : int, optional
        Seed of the bootstrap and placebo draws (default: the config's ``seed``).
    **kw
        More dotted config overrides.

    Returns
    -------
    EvidenceResult
    """
    from backtest.evidence.build import build_evidence
    from backtest.pipeline import run_backtest

    cfg = load_config(config, overrides, data_dir=data_dir, **kw)
    return EvidenceResult(build_evidence(run_backtest(cfg, _origin(config)), seed=seed))


def decide(run_dir: str | Path, probs: str | dict[str, float] | None = None, *, cvar_lambda: float | None = None,
           statistic: str | None = None, views: list[str] | tuple[str, ...] = (), resamples: int = 200) -> Any:
    """Re-score a saved scenario run (``rmpbt decide``) without re-simulating.

    Parameters
    ----------
    run_dir : str or Path
        A ``rmpbt scenarios`` run folder (with ``scenario_paths.parquet``).
    probs : str or dict, optional
        Scenario probabilities, ``"A=0.4,B=0.35,C=0.25"`` or ``{"A": 0.4, ...}`` (default: the run's).
    cvar_lambda : float, optional
        λ of ``cvar_penalised`` in [0, 100] (default: the run's).
    statistic : str, optional
        Regret statistic (default: the run's).
    views : list of str
        Views by entropy pooling, e.g. ``["P(B)>=0.5", "E[spy]=0.08"]``.
    resamples : int
        Paired path resamples of the margin's Monte-Carlo noise (0 skips it).

    Returns
    -------
    backtest.synthetic.decide.core.Decision
        ``.choice``, ``.runner_up``, ``.flips``, ``.map``, ``.table``, ``.lines`` (the plain
        reading), ``.to_json()`` (``decision.json``); ``.save(root)`` writes the folder.
    """
    from backtest.synthetic.decide.core import decide as run_decide

    fn = "decide"
    _arg(fn, "run_dir", run_dir, (str, Path))
    _arg(fn, "probs", probs, (str, dict), optional=True)
    _arg(fn, "cvar_lambda", cvar_lambda, (int, float), optional=True)
    _arg(fn, "statistic", statistic, str, optional=True)
    _arg(fn, "views", views, (list, tuple))
    for v in views:
        _arg(fn, "views item", v, str)
    _arg(fn, "resamples", resamples, int)
    return run_decide(run_dir, probs, cvar_lambda, statistic, list(views), resamples)


__all__ = ["EvidenceResult", "Result", "ScenarioResult", "TuneOutput", "calibrate", "decide", "evidence", "load_config",
           "now", "run", "scenarios", "tune"]
