"""Per-path work of ``rmpbt tune``: the picklable context of a path, chunks of variants, their
weights (one more batch axis of the kind's batch form), simulation and scoring (runs in workers:
imports neither vectorbt nor dask)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from backtest.config import StrategyConfig
from backtest.constants import TRADING_DAYS
from backtest.errors import ConfigError, RmpbtError, StrategyError, SweepError
from backtest.execution.drift import fill_plan
from backtest.execution.spec import ExecutionSpec
from backtest.execution.weights import finalise_weights
from backtest.kernel import simulate_batch
from backtest.metrics_batch import WINDOW_METRICS, window_metrics
from backtest.tune.folds import Fold
from backtest.tune.selection import score_column
from strategies.base import Unsupported, variant_batch_weights
from strategies.deferred import deferred_checks
from strategies.history import HistoryBatch


@dataclass
class PathContext:
    """Everything a chunk of one path needs (picklable; no vectorbt objects).

    The execution rules (fills, costs, cash growth, drift band, leverage cap) are those of
    ``spec``; the properties below only read them.
    """

    group: int
    overrides: dict[str, Any]
    strategy: StrategyConfig
    sf: Any
    spec: ExecutionSpec
    prices: pd.DataFrame
    cash_g: np.ndarray | None
    rf: np.ndarray
    regime: np.ndarray
    folds: list[Fold]
    metric: str
    metric_regime: str | None
    avail: pd.DataFrame
    first: pd.Series
    reference: np.ndarray | None = None  # issue 13: untuned strategy's daily returns (--metric information_ratio)
    fill_k: np.ndarray = field(init=False)
    fill_idx: np.ndarray = field(init=False)
    dec_idx: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.fill_k = self.spec.fill_k
        self.fill_idx = self.spec.fill_idx
        self.dec_idx = self.spec.dec_idx

    @property
    def days(self) -> pd.DatetimeIndex:
        """Trading days of the path."""
        return self.spec.days

    @property
    def dates(self) -> pd.DatetimeIndex:
        """Decision days of the path."""
        return self.spec.decisions


@dataclass
class Chunk:
    """A batch of variants of one path (one kernel call)."""

    ctx: PathContext
    ids: np.ndarray
    params: list[dict[str, Any]]
    parallel: bool = True
    want_returns: bool = False
    labels: list[str] = field(default_factory=list)


@dataclass
class ChunkResult:
    """Scores of a chunk (and its daily returns when asked).

    ``mode`` says how its variants' weights were computed: ``batch`` (the kind's batch form,
    the variants one more batch axis) or ``per-variant`` (``weights()`` per variant: a kind
    without a batch form).
    """

    ids: np.ndarray
    scores: dict[str, np.ndarray]
    returns: np.ndarray | None = None
    failed: np.ndarray | None = None
    mode: str = "batch"


def build_variant(ctx: PathContext, params: dict[str, Any]) -> Any:
    """The path's strategy built with ``params`` (ConfigError if they are invalid)."""
    from strategies.base import build_strategy

    return build_strategy(StrategyConfig(name=ctx.strategy.name, kind=ctx.strategy.kind, params=params), "tune")


def variants_weights(ctx: PathContext, params: list[dict[str, Any]], ids: np.ndarray,
                     labels: list[str]) -> tuple[list[tuple[np.ndarray, list[str]]], str]:
    """Raw weights of many variants on the path's history and their columns, in order, and the mode.

    Each variant is built (an invalid one raises its own error; the batchable checks run
    once over all of them, :mod:`strategies.deferred`). The variants are one more batch axis
    of the kind's batch form on the path's history as a batch of one
    (:func:`strategies.base.variant_batch_weights` on a :class:`~strategies.history.HistoryBatch`,
    which keeps their param-independent work); a kind without a batch form is called
    through ``weights()`` per variant. If the batch fails, the variants are evaluated one
    by one so that the error names the first failing variant.

    Returns
    -------
    (list of (np.ndarray, list of str), str)
        Per variant its ``D x N_i`` weights and columns; ``"batch"`` or ``"per-variant"``.
    """
    def one_by_one(strats: list[Any]) -> list[tuple[np.ndarray, list[str]]]:
        out = []
        for j, s in enumerate(strats):
            try:
                out.append(checked_weights(ctx, s, s.weights(ctx.sf, ctx.dates)))
            except RmpbtError as exc:
                raise variant_error(int(ids[j]), labels[j] if labels else "", exc) from None
        return out

    def fail_at(j: int, exc: RmpbtError | None) -> NoReturn:
        one_by_one(strats[:j])  # an earlier variant's weights error comes first, as one at a time
        if exc is None:  # a deferred check failed: the variant built alone raises its own error
            try:
                build_variant(ctx, params[j])
            except RmpbtError as own:
                exc = own
        assert exc is not None, "a deferred check failed but the variant builds alone"
        raise variant_error(int(ids[j]), labels[j] if labels else "", exc) from None

    strats: list[Any] = []
    ends: list[int] = []  # deferred checks registered up to each variant
    error: tuple[int, RmpbtError] | None = None
    # the batchable checks (the funding of every tilt combination) run once over all variants
    with deferred_checks() as deferred:
        for j, p in enumerate(params):
            try:
                strats.append(build_variant(ctx, p))
            except RmpbtError as exc:
                error = (j, exc)
                break
            ends.append(len(deferred))
    bad = deferred.first_failure()  # outside the block: a failing variant built alone raises its own error
    if error is not None:
        j, exc = error
        fail_at(j if bad is None else min(j, bisect_right(ends, bad)), exc if bad is None else None)
    if bad is not None:
        fail_at(bisect_right(ends, bad), None)
    try:
        arrays = variant_batch_weights(strats, HistoryBatch(ctx.sf, ctx.dates))
    except Unsupported:
        return one_by_one(strats), "per-variant"
    except RmpbtError:
        return one_by_one(strats), "batch"  # raises the error of the first failing variant
    unknown: dict[tuple[Any, ...], Any] = {}
    return [checked_columns(ctx, s, w[:, 0, :], s.assets(), unknown)
            for s, w in zip(strats, arrays, strict=True)], "batch"


def checked_weights(ctx: PathContext, strat: Any, w: Any) -> tuple[np.ndarray, list[str]]:
    """A strategy's ``weights()`` frame as float weights and columns after the framework's checks.

    Raises
    ------
    StrategyError
        Not a DataFrame indexed by the decision dates, or an unknown ticker.
    """
    if not isinstance(w, pd.DataFrame) or not w.index.equals(ctx.dates):
        raise StrategyError(f"strategy {strat.name}: weights must be a DataFrame indexed by the decision dates")
    return checked_columns(ctx, strat, w.to_numpy(dtype=float), list(w.columns))


def checked_columns(ctx: PathContext, strat: Any, w: np.ndarray, cols: list[str],
                    unknown: dict[tuple[Any, ...], Any] | None = None) -> tuple[np.ndarray, list[str]]:
    """``(w, cols)`` after the check that every column is a ticker of the path (StrategyError otherwise).

    ``unknown`` memoises, across the variants of a chunk, the first unknown ticker (or None)
    of each column list.
    """
    key = tuple(cols)
    if unknown is not None and key in unknown:
        bad = unknown[key]
    else:
        miss = ctx.prices.columns.get_indexer(cols) < 0
        bad = cols[int(np.argmax(miss))] if miss.any() else None
        if unknown is not None:
            unknown[key] = bad
    if bad is not None:
        raise StrategyError(f"strategy {strat.name}: unknown ticker {bad}")
    return w, cols


def stack_weights(frames: list[tuple[np.ndarray, list[str]]]) -> tuple[np.ndarray, list[str]]:
    """Stack variants' weights ``(D x N_i, columns)`` into a ``V x D x N`` array over the union of their columns.

    A column a variant lacks is 0 on its rows that hold weights (NaN rows mean "hold").
    Returns the array and the columns.
    """
    names = [list(fc) for _, fc in frames]
    cols: list[str] = []
    seen: set[str] = set()
    for fc in names:
        for c in fc:
            if c not in seen:
                seen.add(c)
                cols.append(c)
    d_n = frames[0][0].shape[0] if frames else 0
    arr = np.full((len(frames), d_n, len(cols)), np.nan)
    pos = {c: j for j, c in enumerate(cols)}
    for i, (w, fc) in enumerate(frames):
        if fc == cols:  # the usual case: variants of one strategy over the same columns
            arr[i] = w
            continue
        held = ~np.isnan(w).all(axis=1) if w.shape[1] else np.zeros(d_n, dtype=bool)
        arr[i, held, :] = 0.0  # a column the variant lacks is 0 on its rows that hold weights
        arr[i][:, [pos[c] for c in fc]] = w
    return arr, cols


def fill_targets(ctx: PathContext, w: np.ndarray, cols: list[str], ids: np.ndarray | None,
                 name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Framework post-processing of raw weights (as ``run_backtest`` + ``engine.simulate``):
    :func:`~backtest.execution.weights.finalise_weights`, fills, the early-weight check and
    the drift band.

    ``ids`` name the variants in error messages (None: a strategy as configured, ``name``).
    Returns targets at the fills (V x K x N) and the execute mask (V x K).
    """
    name = ctx.strategy.name if name is None else name

    def who(v: int) -> str:
        return "" if ids is None else f"variant {int(ids[v])}: "

    if np.isinf(w).any():
        v = int(np.isinf(w).any(axis=(1, 2)).argmax())
        raise StrategyError(f"{who(v)}strategy {name}: infinite weight")
    avail = ctx.avail.reindex(columns=cols).fillna(False).to_numpy(dtype=bool)
    w, _, _ = finalise_weights(w, avail, ctx.spec.max_gross)
    px = ctx.prices[cols].to_numpy(dtype=float)
    band = ctx.spec.drift_band
    px_b = pd.DataFrame(px).bfill().to_numpy() if band is not None else None
    tg, live, execute = fill_plan(w, ctx.fill_k, ctx.dec_idx, ctx.fill_idx, px_b, band)
    first = ctx.first.reindex(cols).to_numpy(dtype=np.int64)
    early = (ctx.fill_idx[:, None] < first[None, :])[None] & (np.abs(tg) > 0) & live[:, :, None]
    if early.any():
        v, k, j = (int(x[0]) for x in np.nonzero(early))
        raise StrategyError(f"{who(v)}weight on {cols[j]} filled on "
                            f"{ctx.days[ctx.fill_idx[k]].date()}, before its first price")
    return tg, execute


def simulate_targets(ctx: PathContext, tg: np.ndarray, execute: np.ndarray, cols: list[str],
                     parallel: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Daily returns (V x T) of targets at the fills, through the batch kernel (the engine's semantics).

    Also returns which variants ran out of cash (vectorbt would raise; their values are not finite).
    """
    px = ctx.prices[cols].to_numpy(dtype=float)
    view = ctx.spec.costs.kernel_view(cols, ctx.fill_idx, ctx.cash_g)
    vt = simulate_batch(px, tg, view, execute=execute, parallel=parallel)  # V x T
    r = np.empty_like(vt)
    r[:, 0] = vt[:, 0] - 1.0
    r[:, 1:] = vt[:, 1:] / vt[:, :-1] - 1.0
    return r, ~np.isfinite(vt[:, -1])


def _score(r_vt: np.ndarray, ctx: PathContext) -> dict[str, np.ndarray]:
    """Fold-wise and pooled scores of daily returns ``r_vt`` (V x T)."""
    reg = ctx.metric_regime
    in_reg = (ctx.regime == reg) if reg is not None else np.ones(len(ctx.days), dtype=bool)
    m, ir = score_column(ctx.metric)  # information_ratio: Sharpe of the return over the untuned strategy
    is_rows = np.unique(np.concatenate([f.train for f in ctx.folds]))
    oos_rows = np.unique(np.concatenate([f.test for f in ctx.folds]))
    windows = [f.train[in_reg[f.train]] for f in ctx.folds] + [f.test[in_reg[f.test]] for f in ctx.folds]
    windows += [oos_rows[in_reg[oos_rows]], is_rows, oos_rows]
    res = window_metrics(r_vt, ctx.rf, windows)
    rm = window_metrics(r_vt, ctx.reference, windows) if ir else res  # issue 13
    n_f = len(ctx.folds)
    out: dict[str, np.ndarray] = {}
    train = rm[:n_f, :, m]
    for i in range(n_f):
        out[f"train_{i + 1}"] = train[i]
        out[f"test_{i + 1}"] = rm[n_f + i, :, m]
    finite = np.isfinite(train)
    cnt = finite.sum(axis=0)
    out["is"] = np.where(cnt > 0, np.where(finite, train, 0.0).sum(axis=0) / np.maximum(cnt, 1), np.nan)
    out["oos"] = rm[2 * n_f, :, m]
    for name in ("sharpe", "cagr", "max_drawdown"):
        j = WINDOW_METRICS.index(name)
        out[f"is_{name}"] = res[2 * n_f + 1, :, j]
        out[f"oos_{name}"] = res[2 * n_f + 2, :, j]
    return out


def variant_error(i: int, label: str, exc: RmpbtError) -> RmpbtError:
    """The error of variant ``i``: invalid params become a SweepError with a ``--where`` hint."""
    where = f"variant {i} ({label})" if label else f"variant {i}"
    if isinstance(exc, ConfigError):
        return SweepError(f"{where}: {exc} (exclude such variants with --where)")
    return type(exc)(f"{where}: {exc}")


def run_chunk(chunk: Chunk) -> ChunkResult:
    """Weights, simulation and scores of one chunk (runs in a worker)."""
    ctx = chunk.ctx
    frames, mode = variants_weights(ctx, chunk.params, chunk.ids, chunk.labels)
    w, cols = stack_weights(frames)
    tg, execute = fill_targets(ctx, w, cols, chunk.ids)
    r, failed = simulate_targets(ctx, tg, execute, cols, chunk.parallel)
    scores = _score(r, ctx)
    px = ctx.prices[cols].to_numpy(dtype=float)
    scores["turnover"] = target_turnover(tg, execute, len(ctx.days), px[ctx.fill_idx])  # issue 13
    return ChunkResult(chunk.ids, scores, r.T if chunk.want_returns else None, failed, mode)


def target_turnover(tg: np.ndarray, execute: np.ndarray, n_days: int,
                    px_fills: np.ndarray | None = None) -> np.ndarray:
    """Annual one-way turnover of each variant from its targets at the fills.

    ``Σ_fills Σ_assets |w_k - w_k⁻| / 2 / years``: at each executed fill ``k`` the trade
    from the weights held just before it, ``w_k⁻`` (the previous executed targets drifted
    with the assets' prices since that fill, cash flat), to the targets ``w_k``. Cash is
    not counted as traded; a full switch from one asset to another counts 1, as
    :func:`backtest.metrics.annual_turnover`. An approximation of the simulated trades
    (fees, partial fills and cash interest ignored).

    Parameters
    ----------
    tg : np.ndarray
        ``V x K x N`` targets at the fills.
    execute : np.ndarray
        ``V x K`` executed fills.
    n_days : int
        Days of the run (for the years).
    px_fills : np.ndarray, optional
        ``K x N`` prices at the fills; without them drift is ignored.
    """
    v, k_n, n = tg.shape
    growth = np.ones((k_n, n))
    if px_fills is not None and k_n > 1:
        px = pd.DataFrame(np.asarray(px_fills, dtype=float)).ffill().bfill().to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            g = px[1:] / px[:-1]
        growth[1:] = np.where(np.isfinite(g), g, 1.0)
    cur = np.zeros((v, n))
    traded = np.zeros(v)
    for k in range(k_n):
        if k:
            grown = cur * growth[k]
            total = grown.sum(axis=1) + (1.0 - cur.sum(axis=1))
            cur = np.where(total[:, None] > 0, grown / np.where(total > 0, total, 1.0)[:, None], cur)
        ex = execute[:, k]
        traded[ex] += np.abs(tg[ex, k] - cur[ex]).sum(axis=1)
        cur[ex] = tg[ex, k]
    return traded / 2.0 / (max(n_days, 1) / TRADING_DAYS)


def returns_of(ids: list[int], chunk_of: dict[int, Chunk]) -> dict[int, np.ndarray]:
    """Daily returns of a few variants, recomputed in-process exactly as in their chunks."""
    out: dict[int, np.ndarray] = {}
    by_chunk: dict[int, list[int]] = {}
    for i in ids:
        by_chunk.setdefault(id(chunk_of[i]), []).append(i)
    for members in by_chunk.values():
        c = chunk_of[members[0]]
        pos = [int(np.flatnonzero(c.ids == i)[0]) for i in members]
        sub = Chunk(c.ctx, c.ids[pos], [c.params[p] for p in pos], parallel=False, want_returns=True)
        res = run_chunk(sub)
        assert res.returns is not None
        for j, i in enumerate(members):
            out[i] = res.returns[:, j]
    return out


def chunk_targets(chunk: Chunk) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Target weights at the fills (V x K x N), execute mask (V x K) and columns of a chunk's variants."""
    w, cols = stack_weights(variants_weights(chunk.ctx, chunk.params, chunk.ids, chunk.labels)[0])
    tg, execute = fill_targets(chunk.ctx, w, cols, chunk.ids)
    return tg, execute, cols
