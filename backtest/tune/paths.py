"""Preparing a tune: the tuned strategy, checks of the grid keys, one context per path, and the
config's strategies as configured (the untuned reference) through the batch kernel."""

from __future__ import annotations

import copy
import dataclasses
import difflib
from typing import Any

import numpy as np
import pandas as pd

from backtest.config import RunConfig, StrategyConfig, config_from_dict
from backtest.errors import ConfigError, DataError, StrategyError, SweepError
from backtest.execution.spec import build_spec
from backtest.execution.weights import check_static_leverage
from backtest.regimes.models import make_regime_model
from backtest.signals import build_signal_frame
from backtest.tune.chunks import PathContext, checked_weights, fill_targets, simulate_targets
from backtest.tune.folds import Fold
from backtest.tune.grid import GridAxis, parse_grid
from backtest.tune.keys import format_key, get_path, missing_depth, parse_key, set_path
from strategies.base import build_strategy, check_history, load_all, validate_params

PATH_ROOTS = ("rebalance", "execution", "costs", "cash", "regimes")


def benchmark_kinds() -> set[str]:
    """Strategy kinds defined in ``strategies.benchmarks`` (never tuned by default)."""
    return {k for k, s in load_all().items() if s.cls.__module__ == "strategies.benchmarks"}


def pick_strategy(cfg: RunConfig, name: str | None) -> StrategyConfig:
    """The strategy to tune: ``name``, or the first non-benchmark one.

    Raises
    ------
    SweepError
        Unknown name, or no non-benchmark strategy when ``name`` is None.
    """
    names = [s.name for s in cfg.strategies]
    if name is not None:
        for s in cfg.strategies:
            if s.name == name:
                return s
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (strategies: {', '.join(names)})"
        raise SweepError(f"--strategy {name}: no strategy of that name{hint}")
    bench = benchmark_kinds()
    for s in cfg.strategies:
        if s.kind not in bench and s.name != cfg.benchmark:
            return s
    raise SweepError(f"every strategy of the config is a benchmark ({', '.join(names)}); choose one with --strategy")


def resolved_tree(cfg: RunConfig, tuned: StrategyConfig, origin: str) -> dict[str, Any]:
    """The config as a tree with the tuned strategy's params validated (defaults filled in)."""
    tree = cfg.resolved_dict()
    params = validate_params(tuned, origin).model_dump(mode="json")
    for s in tree["strategies"]:
        if s["name"] == tuned.name:
            s["params"] = params
    return tree


def canonical_axis(axis: GridAxis, tuned: StrategyConfig) -> GridAxis:
    """The axis with its key written in full when it names the tuned strategy without ``strategies.``.

    ``--strategy pb --grid pb.params.overrides.short_vol=...`` and ``--grid
    params.overrides.short_vol=...`` both mean ``strategies.pb.params.overrides.short_vol``.
    """
    p = axis.path
    if len(p) >= 2 and p[0] == tuned.name and p[1] == "params" and tuned.name not in PATH_ROOTS:
        full: tuple = ("strategies", *p)
    elif len(p) >= 2 and p[0] == "params":
        full = ("strategies", tuned.name, *p)
    else:
        return axis
    return dataclasses.replace(axis, key=format_key(full), path=full)


def heatmap_keys(text: str, grid: list[str], tuned: StrategyConfig) -> tuple[str, str]:
    """The two grid keys named by ``--heatmap KEY1,KEY2`` (each a grid key or a unique dotted suffix).

    Raises
    ------
    SweepError
        Not two keys, or a key matching no grid key or several.
    """
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise SweepError(f"--heatmap {text}: expected KEY1,KEY2")
    keys = [canonical_axis(parse_grid(g), tuned).key for g in grid]
    canon = []
    for k in parts:
        path = parse_key(k, "--heatmap")
        c = canonical_axis(GridAxis(format_key(path), path, (), k), tuned).key
        match = [g for g in keys if g == c or g.endswith("." + c)]
        if len(match) != 1:
            raise SweepError(f"--heatmap {text}: {k!r} is not one grid key")
        canon.append(match[0])
    return canon[0], canon[1]


def check_axis(axis: GridAxis, raw: dict[str, Any], resolved: dict[str, Any], tuned: StrategyConfig) -> None:
    """Reject keys that cannot be tuned or do not exist (one-line SweepError)."""
    p = axis.path
    head = p[0]
    if head == "strategies":
        if len(p) < 4 or p[2] != "params":
            raise SweepError(f"--grid {axis.key}: only strategies.<name>.params.* keys can be tuned")
        if p[1] != tuned.name:
            names = [s["name"] for s in raw.get("strategies", [])]
            if p[1] not in names:
                close = difflib.get_close_matches(str(p[1]), names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise SweepError(f"--grid {axis.key}: no strategy named {p[1]!r}{hint}")
            raise SweepError(f"--grid {axis.key}: strategy {p[1]!r} is not the tuned strategy "
                             f"({tuned.name!r}; choose with --strategy)")
    elif head not in PATH_ROOTS:
        raise SweepError(f"--grid {axis.key}: {head!r} cannot be tuned (tunable: {', '.join(PATH_ROOTS)}, "
                         "strategies.<name>.params.*)")
    try:
        get_path(resolved, p)
        return
    except KeyError:
        pass
    # Not present: fine if it is a new entry of a free-form mapping that validates.
    trial = copy.deepcopy(raw)
    try:
        set_path(trial, p, axis.values[0], fallback=resolved)
        cfg = config_from_dict(trial, "--grid", validate_strategies=False)
        if head == "strategies":
                    validate_params(next(s for s in cfg.strategies if s.name == tuned.name), "--grid")
    except (ConfigError, SweepError) as exc:
        msg = str(exc).removeprefix("--grid: ").removeprefix(axis.key + ": ")
        depth = missing_depth(resolved, p)
        if "unknown key" in msg or depth is None:
            raise SweepError(f"--grid {axis.key}: {msg}") from None
        raise SweepError(f"--grid {axis.key}: unknown key {format_key(p[: depth + 1])!r} ({msg})") from None


def days_of(cfg: RunConfig, md: Any) -> pd.DatetimeIndex:
    """The run's trading days: the market calendar within the config's start/end.

    Raises
    ------
    SweepError
        Fewer than 2 days.
    """
    start = pd.Timestamp(cfg.data.start) if cfg.data.start else md.calendar[0]
    days = md.calendar[md.calendar >= start]
    if cfg.data.end is not None:
        days = days[days <= pd.Timestamp(cfg.data.end)]
    if len(days) < 2:
        raise SweepError(f"{md.source}: fewer than 2 trading days between {start.date()} and {cfg.data.end}")
    return days


def build_context(group: int, overrides: dict[str, Any], cfg: RunConfig, tuned: StrategyConfig, md: Any,
                   days: pd.DatetimeIndex, folds: list[Fold], metric: str, regime: str | None,
                   labels_cache: dict[str, Any], origin: str) -> PathContext:
    """Prepare one path as ``run_backtest`` does (regimes, signals, cash, schedule, fills)."""
    rkey = cfg.regimes.model_dump_json()
    if rkey not in labels_cache:
        labels = make_regime_model(cfg.regimes).label(md, md.calendar)
        labels_cache[rkey] = (labels, build_signal_frame(md, labels["regime"], extra={"regime_labels": labels}))
    labels, sf = labels_cache[rkey]
    spec = build_spec(cfg, md, days, sf.signal("cash_rate"), origin)
    fin = np.isfinite(md.prices.loc[days].to_numpy(dtype=float))
    return PathContext(
        group=group, overrides=overrides, strategy=tuned, sf=sf, spec=spec, prices=md.prices.loc[days],
        cash_g=spec.cash_growth(), rf=spec.rf.reindex(days).to_numpy(dtype=float),
        regime=labels["regime"].reindex(days).astype(object).to_numpy(),
        folds=folds, metric=metric, metric_regime=regime,
        avail=sf.available().reindex(index=spec.decisions).fillna(False).astype(bool),
        first=pd.Series(np.where(fin.any(axis=0), fin.argmax(axis=0), len(days)), index=md.prices.columns),
    )


def configured_returns(cfg: RunConfig, md: Any, days: pd.DatetimeIndex, labels_cache: dict[str, Any],
                       origin: str) -> pd.DataFrame:
    """Daily returns of every strategy of ``cfg`` as configured, through the batch kernel.

    What ``run_backtest`` gives them (the same checks, weights, post-processing and fills;
    :func:`backtest.kernel.simulate_batch` is the engine's semantics, tested equal to
    vectorbt to 1e-9), without importing vectorbt: the untuned reference of
    ``--metric information_ratio`` and of the verdict, and the benchmarks of the
    out-of-sample table.

    Raises
    ------
    ConfigError, DataError, StrategyError
        As ``run_backtest``: a static leverage above the cap, an unknown ticker, an
        estimation window longer than the history, bad weights, a run out of cash.
    """
    strategies = [build_strategy(sc, origin) for sc in cfg.strategies]
    check_static_leverage(cfg, origin)
    missing = [a for s in strategies for a in s.assets() if a not in md.prices.columns]
    if missing:
        raise DataError(f"unknown ticker {missing[0]}: not in the loaded data ({md.source})")
    check_history(strategies, md.calendar, origin)
    ctx = build_context(-1, {}, cfg, cfg.strategies[0], md, days, [], "sharpe", None, labels_cache, origin)
    out: dict[str, np.ndarray] = {}
    for s in strategies:
        w, cols = checked_weights(ctx, s, s.weights(ctx.sf, ctx.dates))
        tg, execute = fill_targets(ctx, w[None], cols, None, name=s.name)
        r, failed = simulate_targets(ctx, tg, execute, cols)
        if failed[0]:
            raise StrategyError(f"strategy {s.name}: the portfolio runs out of cash (its value is not finite)")
        out[s.name] = r[0]
    frame = pd.DataFrame(out, index=days)
    frame.index.name = "date"
    return frame


def fmt_variant(v: dict[str, Any]) -> str:
    """``key=value, ...`` of a variant, for messages."""
    return ", ".join(f"{k}={val!r}" for k, val in v.items())



def copy_tree(x: Any) -> Any:
    """Copy of nested dicts/lists of plain values (faster than ``copy.deepcopy``)."""
    if isinstance(x, dict):
        return {k: copy_tree(v) for k, v in x.items()}
    if isinstance(x, list):
        return [copy_tree(v) for v in x]
    return x


def variant_overrides(variant: dict[str, Any], axes: list[GridAxis], tuned: str) -> tuple[dict, dict]:
    """Split a variant into (path overrides, strategy-param overrides keyed by param path)."""
    path_o, strat_o = {}, {}
    for a in axes:
        if a.path[0] == "strategies":
            strat_o[a.path[3:]] = variant[a.key]
        else:
            path_o[a.key] = variant[a.key]
    return path_o, strat_o
