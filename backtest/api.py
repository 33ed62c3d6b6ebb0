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

from backtest.config import RunConfig, config_from_dict
from backtest.config import load_config as _load_yaml_config

ConfigLike = str | Path | dict | RunConfig


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
    sets = _sets(overrides, kw)
    if isinstance(config, RunConfig):
        if not sets and data_dir is None:
            return config
        return config_from_dict(config.resolved_dict(), config.name, sets, data_dir=data_dir)
    if isinstance(config, dict):
        return config_from_dict(config, "<dict>", sets, data_dir=data_dir)
    return _load_yaml_config(config, sets, data_dir=data_dir)


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
        from backtest.synthetic.runner import write_scenario_run

        return write_scenario_run(self.run, root, report=report)


def scenarios(config: ConfigLike, overrides: dict[str, Any] | None = None, *, paths: int = 1000, seed: int = 0,
              scenarios_file: str | Path | None = None, data_dir: str | None = None,
              chunk_size: int | None = None, drift: str | None = None, pace: str | None = None,
              pace_effect_paths: int | None = None, include_forecast_period: bool = False,
              channel_effect_paths: int | None = None, sensitivity_paths: int | None = None,
              **kw: Any) -> ScenarioResult:
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
    **kw
        More dotted config overrides.

    Returns
    -------
    ScenarioResult
    """
    from backtest.synthetic.runner import run_scenarios

    cfg = load_config(config, overrides, data_dir=data_dir, **kw)
    sset = _scenario_set(scenarios_file, drift, pace, include_forecast_period)
    return ScenarioResult(run_scenarios(cfg, sset, paths=paths, seed=seed, origin=_origin(config),
                                        chunk_size=chunk_size, pace_effect_paths=pace_effect_paths,
                                        channel_effect_paths=channel_effect_paths,
                                        sensitivity_paths=sensitivity_paths))


def _scenario_set(scenarios_file: str | Path | None, drift: str | None, pace: str | None, include: bool) -> Any:
    from backtest.synthetic.scenarios import load_scenarios

    return load_scenarios(scenarios_file).with_forecast_period(include).with_drift(drift).with_paces(pace)


def calibrate(config: ConfigLike, overrides: dict[str, Any] | None = None, *, paths: int = 200, seed: int = 0,
              start_from: str = "2014-01-01", every: str = "quarter", scenarios_file: str | Path | None = None,
              data_dir: str | None = None, drift: str | None = None, **kw: Any) -> Any:
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
    **kw
        More dotted config overrides.

    Returns
    -------
    backtest.synthetic.calibrate.CalibrationRun
        ``.table`` (one row per start and strategy: realised, PIT, band), ``.summary``
        (coverage and verdict per strategy), ``.histogram``; write it with
        :func:`backtest.synthetic.calibrate_write.write_calibration_run`.
    """
    from backtest.synthetic.calibrate import run_calibration

    cfg = load_config(config, overrides, data_dir=data_dir, **kw)
    sset = _scenario_set(scenarios_file, drift, None, False)
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
         data_dir: str | None = None, benchmarks: bool = True, request: dict[str, Any] | None = None,
         **kw: Any) -> TuneOutput:
    """Sweep config keys of one strategy (``rmpbt tune``).

    Parameters
    ----------
    config : str, Path, dict or RunConfig
        The run config.
    grid : list of str
        ``KEY=START:STOP:STEP`` or ``KEY=a,b,c`` specs (as ``--grid``).
    overrides : dict, optional
        Dotted config overrides.
    data_dir : str, optional
        csv data folder.
    benchmarks : bool
        Also run the untuned benchmarks.
    request : dict, optional
        Other fields of :class:`backtest.tune.orchestrate.TuneRequest` (``metric``, ``walk_forward``,
        ``split``, ``strategy``, ``where``, ``random``, ``seed``...).
    **kw
        More dotted config overrides.

    Returns
    -------
    TuneOutput
    """
    from backtest.tune.orchestrate import TuneRequest, run_tune

    cfg = load_config(config, overrides, data_dir=data_dir, **kw)
    req = TuneRequest(grid=list(grid), **(request or {}))
    return TuneOutput(run_tune(cfg, req, origin=_origin(config), benchmarks=benchmarks))


def now(config: ConfigLike, overrides: dict[str, Any] | None = None, *, data_dir: str | None = None,
        capital: float | None = None, holdings: str | Path | pd.DataFrame | None = None,
        today: Any = None, **kw: Any) -> Any:
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
        Portfolio value for the trade list.
    holdings : str, Path or DataFrame, optional
        Current holdings (``asset,shares`` or ``asset,weight``).
    today : date or str, optional
        Today's date for the staleness check (default: the UTC date).
    **kw
        More dotted config overrides.

    Returns
    -------
    backtest.now.NowReport
        ``.to_json()`` is ``now.json``; :func:`backtest.now.write_now` writes the folder.
    """
    from backtest.now import compute_now

    cfg = load_config(config, overrides, data_dir=data_dir, **kw)
    return compute_now(cfg, _origin(config), today=today, capital=capital, holdings=holdings)


__all__ = ["Result", "ScenarioResult", "TuneOutput", "load_config", "now", "run", "scenarios", "tune"]
