"""``run_tune``: what ``rmpbt tune`` was asked (:class:`TuneRequest`), runs it and returns
(:class:`TuneResult`)."""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from backtest.config import RunConfig, config_from_dict
from backtest.constants import TRADING_DAYS
from backtest.errors import ConfigError, SweepError
from backtest.guards import check_tune_budget, estimate_days
from backtest.metrics_registry import metric_names
from backtest.tune.chunks import Chunk, returns_of, run_chunk
from backtest.tune.cpcv import parse_cv
from backtest.tune.folds import split_folds, walk_forward_folds
from backtest.tune.gcpause import collector_paused
from backtest.tune.grid import GridAxis, expand, parse_grid
from backtest.tune.keys import parse_key, set_path
from backtest.tune.null import NULL_RUNS, check_null_runs
from backtest.tune.paths import (
    build_context,
    canonical_axis,
    check_axis,
    configured_returns,
    copy_tree,
    days_of,
    fmt_variant,
    heatmap_keys,
    pick_strategy,
    resolved_tree,
    variant_overrides,
)
from backtest.tune.selection import DeflatedSharpe, deflated_sharpe, parse_metric, spearman
from backtest.tune.verdict import MAX_VARIANTS, attach_verdict
from backtest.tune.where import WhereExpr


class ProgressSink(Protocol):
    """Receives progress: ``start(total)`` once, then ``advance(n)`` as variants finish."""

    def start(self, total: int) -> None:
        """Total number of variants."""
        ...

    def advance(self, n: int) -> None:
        """``n`` more variants done."""
        ...


@dataclass
class TuneRequest:
    """What ``rmpbt tune`` was asked (see the CLI for each option)."""

    grid: list[str]
    where: list[str] = field(default_factory=list)
    random: int | None = None
    seed: int | None = None
    metric: str = "sharpe"
    walk_forward: str | None = None
    split: str | None = None
    strategy: str | None = None
    chunk_size: int = 250
    vectorise: bool = True  # no effect (issue 24): every variant's weights come from its own params
    heatmap: tuple[str, str] | None = None
    benchmark: str | None = None  # issue 13: reference of the verdict (default: the config's benchmark)
    null_runs: int = NULL_RUNS  # issue 23: runs of the verdict's noise null (0: off)
    cv: str | None = None  # issue 23: ``cpcv:N,K[,purge=D][,embargo=D]``


def checked_request(cfg: RunConfig, grid: list[str], *, heatmap: str | None = None, force: bool = False,
                    **fields: Any) -> TuneRequest:
    """The :class:`TuneRequest` of ``rmpbt tune``'s arguments, after the CLI's checks (CLI and API alike).

    Checks the grid (at least one axis), the memory guard (:func:`backtest.guards.check_tune_budget`,
    skipped by ``force``) and resolves ``heatmap`` (``KEY1,KEY2``) to two grid keys.

    Raises
    ------
    SweepError, ResourceError
        One-line errors naming the flag.
    """
    req = TuneRequest(grid=list(grid), **fields)
    if not req.grid:
        raise SweepError("no --grid given: nothing to tune")
    check_tune_budget([len(parse_grid(g).values) for g in req.grid], req.random, req.chunk_size, req.seed,
                      estimate_days(cfg.data.start, cfg.data.end), force)
    if heatmap:
        req.heatmap = heatmap_keys(heatmap, req.grid, pick_strategy(cfg, req.strategy))
    return req


@dataclass
class TuneResult:
    """Everything a tune computed (written by :func:`write_tune`)."""

    cfg: RunConfig
    origin: str
    request: TuneRequest
    strategy: str
    axes: list[GridAxis]
    table: pd.DataFrame
    best: int
    best_config: dict[str, Any]
    folds: pd.DataFrame
    oos_returns: pd.DataFrame
    oos_metrics: pd.DataFrame
    dsr: DeflatedSharpe
    rank_corr: float
    fold_rank_corr: list[float]
    n_paths: int
    weight_modes: dict[str, int]
    metric: str
    md: Any
    days: pd.DatetimeIndex
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    executor: str = "local (in-process)"
    chunks: dict[int, Chunk] = field(default_factory=dict, repr=False)
    verdict: Any = None  # issue 13: backtest.tune.verdict.TuneVerdict

    def variant_returns(self, ids: Sequence[int]) -> pd.DataFrame:
        """Daily returns of variants ``ids`` over the run's days (recomputed in-process,
        exactly as they were scored)."""
        rets = returns_of(list(ids), self.chunks)
        return pd.DataFrame({i: rets[i] for i in ids}, index=self.days)


def run_tune(
    cfg: RunConfig,
    req: TuneRequest,
    *,
    origin: str = "<config>",
    md: Any = None,
    executor: Any = None,
    progress: ProgressSink | None = None,
    benchmarks: bool = True,
) -> TuneResult:
    """Run a parameter sweep of one strategy of ``cfg`` (see the module docstring).

    Parameters
    ----------
    cfg : RunConfig
        The validated base config (``--set`` etc. already applied).
    req : TuneRequest
        Grid, constraints, metric, windows.
    origin : str
        Config file name, for messages and provenance.
    md : MarketData, optional
        Pre-loaded data (tests, benchmarks); loaded from ``cfg.data`` when omitted.
    executor : Executor, optional
        Where chunks run (default: in-process).
    progress : ProgressSink, optional
        Progress reporting.
    benchmarks : bool
        Also run the config's strategies as configured (the untuned reference and the
        benchmarks: :func:`~backtest.tune.paths.configured_returns`, through the batch
        kernel, never vectorbt) for the out-of-sample comparison and the verdict.

    Raises
    ------
    SweepError, ConfigError, DataError, StrategyError
        One-line user errors.
    """
    with collector_paused():
        return _run_tune(cfg, req, origin=origin, md=md, executor=executor, progress=progress, benchmarks=benchmarks)


def _run_tune(cfg: RunConfig, req: TuneRequest, *, origin: str, md: Any, executor: Any,
              progress: ProgressSink | None, benchmarks: bool) -> TuneResult:
    from backtest.executors import LocalExecutor

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    notes: list[str] = []
    executor = executor or LocalExecutor()
    tuned = pick_strategy(cfg, req.strategy)
    raw = cfg.resolved_dict()
    resolved = resolved_tree(cfg, tuned, origin)
    axes = [canonical_axis(parse_grid(g), tuned) for g in req.grid]  # issue 22: keys naming the tuned strategy
    if not axes:
        raise SweepError("no --grid given: nothing to tune")
    for a in axes:
        check_axis(a, raw, resolved, tuned)
    keys = [a.key for a in axes]
    where = [WhereExpr(w, keys) for w in req.where]
    seed = cfg.seed if req.seed is None else req.seed
    variants = expand(axes, where, req.random, seed)
    metric, regime = parse_metric(req.metric)
    if req.chunk_size < 1:
        raise SweepError(f"--chunk-size {req.chunk_size}: must be at least 1")
    check_null_runs(req.null_runs)  # issue 23: the verdict's options fail before any simulation
    if req.cv is not None:
        parse_cv(req.cv)

    if md is None:
        from backtest.pipeline import load_market

        md = load_market(cfg)
    days = days_of(cfg, md)
    if req.walk_forward and req.split:
        raise SweepError("--walk-forward and --split are exclusive")
    if req.walk_forward:
        folds = walk_forward_folds(days, req.walk_forward)
    elif req.split:
        folds = split_folds(days, req.split)
    else:
        cut = days[int(len(days) * 0.7)]
        folds = split_folds(days, cut)
        notes.append(f"no --walk-forward/--split: in-sample before {cut.date()}, out-of-sample from it (70/30)")
    labels_cache: dict[str, Any] = {}
    base_returns: pd.DataFrame | None = None
    if metric == "information_ratio":  # issue 13: the untuned strategy is the reference of the metric
        base_returns = configured_returns(cfg, md, days, labels_cache, origin)
    timings["prepare"] = time.perf_counter() - t0

    # ---------------------------------------------------------------- paths and weights
    t1 = time.perf_counter()
    groups: dict[str, list[int]] = {}
    split_o: list[tuple[dict, dict]] = []
    for i, v in enumerate(variants):
        po, so = variant_overrides(v, axes, tuned.name)
        split_o.append((po, so))
        groups.setdefault(repr(sorted(po.items())), []).append(i)
    base_params = next(s for s in raw["strategies"] if s["name"] == tuned.name)["params"]
    base_resolved_params = next(s for s in resolved["strategies"] if s["name"] == tuned.name)["params"]
    chunks: list[Chunk] = []
    labels = [fmt_variant(v) for v in variants]
    parallel = not getattr(executor, "distributed", False)
    for g, members in enumerate(groups.values()):
        po = split_o[members[0]][0]
        graw = copy.deepcopy(raw)
        for k, val in po.items():
            set_path(graw, parse_key(k), val, fallback=resolved)
        try:
            gcfg = config_from_dict(graw, origin, validate_strategies=False)
        except ConfigError as exc:
            raise SweepError(f"variant {members[0]} ({fmt_variant(po)}): {exc}") from None
        ctx = build_context(g, po, gcfg, tuned, md, days, folds, metric, regime, labels_cache, origin)
        if base_returns is not None:
            ctx.reference = base_returns[tuned.name].reindex(days).fillna(0.0).to_numpy(dtype=float)
        if regime is not None and g == 0:
            known = sorted({str(x) for x in ctx.regime if isinstance(x, str)})
            if regime not in known:
                raise SweepError(f"--metric {req.metric}: no regime {regime!r} in the labels ({', '.join(known)})")
        params: list[dict[str, Any]] = []
        for i in members:
            p = copy_tree(base_params)
            for sub, val in split_o[i][1].items():
                set_path(p, sub, val, fallback=base_resolved_params)
            params.append(p)  # validated when the chunk builds its variants
        ids = np.array(members)
        for s in range(0, len(ids), req.chunk_size):
            sl = slice(s, s + req.chunk_size)
            chunks.append(Chunk(ctx, ids[sl], params[sl], parallel=parallel, labels=[labels[i] for i in ids[sl]],
                                want_returns=len(variants) <= MAX_VARIANTS))  # issue 13: for the verdict
    timings["paths"] = time.perf_counter() - t1

    # ---------------------------------------------------------------- simulate and score
    t2 = time.perf_counter()
    if progress is not None:
        progress.start(len(variants))

    def done(i: int) -> None:
        if progress is not None:
            progress.advance(len(chunks[i].ids))

    results = executor.map(run_chunk, chunks, progress=done)
    modes = {"batch": 0, "per-variant": 0}
    for res in results:
        modes[res.mode] += len(res.ids)
    timings["simulate"] = time.perf_counter() - t2

    # ---------------------------------------------------------------- select and report
    t3 = time.perf_counter()
    n = len(variants)
    score_keys = list(results[0].scores)
    scores = {k: np.full(n, np.nan) for k in score_keys}
    failed = np.zeros(n, dtype=bool)
    group_of = np.zeros(n, dtype=int)
    chunk_of: dict[int, Chunk] = {}
    for c, res in zip(chunks, results, strict=True):
        for k in score_keys:
            scores[k][res.ids] = res.scores[k]
        if res.failed is not None:
            failed[res.ids] = res.failed
        group_of[res.ids] = c.ctx.group
        for i in res.ids:
            chunk_of[int(i)] = c
    if failed.any():
        notes.append(f"{int(failed.sum())} variant(s) ran out of cash (vectorbt would raise): scored NaN")
    fold_rows = []
    chosen: list[int] = []
    for f, fold in enumerate(folds):
        tr = scores[f"train_{f + 1}"]
        if not np.isfinite(tr).any():
            raise SweepError(f"fold {f + 1}: no variant has a finite {req.metric} on the training window")
        c = int(np.nanargmax(tr))
        chosen.append(c)
        fold_rows.append({
            "fold": f + 1,
            "train_start": days[fold.train[0]].date(), "train_end": days[fold.train[-1]].date(),
            "test_start": days[fold.test[0]].date(), "test_end": days[fold.test[-1]].date(),
            "chosen": c, "train_score": tr[c], "test_score": scores[f"test_{f + 1}"][c],
            "rank_corr": spearman(tr, scores[f"test_{f + 1}"]),
        })
    is_score = scores["is"]
    if not np.isfinite(is_score).any():
        raise SweepError(f"no variant has a finite in-sample {req.metric}")
    best = int(np.nanargmax(is_score))
    need = sorted(set(chosen) | {best})
    rets = returns_of(need, chunk_of)
    is_rows = np.unique(np.concatenate([f.train for f in folds]))
    any_ctx = chunks[0].ctx
    rf_days = pd.Series(any_ctx.rf, index=days)
    stitched = np.concatenate([rets[c][fold.test] for c, fold in zip(chosen, folds, strict=True)])
    stitched_idx = days[np.concatenate([f.test for f in folds])]
    oos = pd.DataFrame({f"{tuned.name} (tuned, walk-forward)" if len(folds) > 1 else f"{tuned.name} (tuned)":
                        pd.Series(stitched, index=stitched_idx)})
    if len(folds) > 1:
        oos[f"{tuned.name} (best in-sample)"] = pd.Series(rets[best], index=days).reindex(stitched_idx)
    best_ctx = chunk_of[best].ctx
    d_rows = is_rows
    best_ex = rets[best][d_rows] - best_ctx.rf[d_rows]
    trial_sr = scores["is_sharpe"] / np.sqrt(TRADING_DAYS)
    dsr = deflated_sharpe(best_ex, trial_sr, n_trials=n)
    rank_corr = float(pd.Series([r["rank_corr"] for r in fold_rows], dtype=float).median())  # issue 13: per fold

    if benchmarks:
        tb = time.perf_counter()
        if base_returns is None:
            base_returns = configured_returns(cfg, md, days, labels_cache, origin)
        cols = [tuned.name] + [c for c in base_returns.columns if c != tuned.name]
        for col in cols:
            label = f"{col} (as configured)" if col == tuned.name else col
            oos[label] = base_returns[col].reindex(stitched_idx)
        timings["benchmarks"] = time.perf_counter() - tb
    from backtest.metrics import summary

    oos_metrics = pd.DataFrame({c: summary(oos[c], rf_days) for c in oos.columns}).T
    oos_metrics.index.name = "strategy"
    oos_metrics = oos_metrics[[*(c for c in metric_names("terminal") if c in oos_metrics), "total_return"]]

    # ---------------------------------------------------------------- table and best config
    table = pd.DataFrame({"variant": np.arange(n), "path": group_of})
    for a in axes:
        table[a.key] = [v[a.key] for v in variants]
    table[f"is_{req.metric}"] = is_score
    table[f"oos_{req.metric}"] = scores["oos"]
    if len(folds) > 1:
        for f in range(len(folds)):
            table[f"train_{f + 1}"] = scores[f"train_{f + 1}"]
            table[f"test_{f + 1}"] = scores[f"test_{f + 1}"]
    for name in ("sharpe", "cagr", "max_drawdown"):
        if f"is_{name}" != f"is_{req.metric}":
            table[f"is_{name}"] = scores[f"is_{name}"]
            table[f"oos_{name}"] = scores[f"oos_{name}"]
    table["is_rank"] = pd.Series(-is_score).rank(method="min", na_option="bottom").astype(int).to_numpy()
    table["oos_rank"] = pd.Series(-scores["oos"]).rank(method="min", na_option="bottom").astype(int).to_numpy()
    table["chosen_folds"] = [";".join(str(f + 1) for f, c in enumerate(chosen) if c == i) for i in range(n)]
    best_cfg = copy.deepcopy(raw)
    for k, val in variants[best].items():
        set_path(best_cfg, parse_key(k), val, fallback=resolved)
    best_cfg["name"] = f"{cfg.name}-tuned"
    config_from_dict(best_cfg, "best.yaml")  # must be ready to run
    timings["report"] = time.perf_counter() - t3 - timings.get("benchmarks", 0.0)
    result = TuneResult(
        cfg=cfg, origin=origin, request=req, strategy=tuned.name, axes=axes, table=table, best=best,
        best_config=best_cfg, folds=pd.DataFrame(fold_rows), oos_returns=oos, oos_metrics=oos_metrics,
        dsr=dsr, rank_corr=rank_corr, fold_rank_corr=[r["rank_corr"] for r in fold_rows],
        n_paths=len(groups), weight_modes=modes, metric=req.metric, md=md, days=days, notes=notes,
        timings=timings, executor=executor.describe(), chunks=chunk_of,
    )
    # ---------------------------------------------------------------- issue 13: statistical verdict
    attach_verdict(result, base_returns, turnover=scores["turnover"], returns={
        int(i): res.returns[:, j] for res in results if res.returns is not None for j, i in enumerate(res.ids)})
    timings["total"] = time.perf_counter() - t0
    return result
