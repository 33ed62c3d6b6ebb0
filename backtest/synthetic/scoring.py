"""Vectorised scoring of scenario paths: simulation, per-path metrics, distributions, regret.

* :func:`simulate_paths` — drift-and-rebalance with fees, slippage, borrow and cash yield
  for every path of a chunk in one numba call. Each path runs the transcription of the
  engine's vectorbt semantics in :mod:`backtest.kernel` (``_simulate_one``), so a path's
  value is what ``backtest.engine.simulate`` gives on its ``MarketData`` (tested); paths
  are spread over numba threads (or run serially inside a Dask/process worker).
* :func:`path_metrics` — the contract metrics of :mod:`backtest.metrics`, vectorised over
  paths (same formulas: 252-day annualisation, Sharpe of excess returns over the cash
  rate, drawdown from the initial value).
* :func:`summarise` / :func:`tail_mean` / :func:`weighted_quantiles` — distribution
  summaries. Percentiles use Hazen plotting positions ``(i - 1/2) / n``, weighted for the
  probability-weighted mix (path weight ``p_s / n_s``), so a scenario and the mix are
  summarised the same way. ``cvar_5`` is the mean of the worst 5 % of the probability
  mass of horizon returns (exactly 500 of 10,000 equally weighted paths).
* :func:`regret_table` — each strategy's shortfall against the best strategy of each
  scenario on one statistic, its maximum and expected regret over the mix's scenarios,
  and the minimax-regret (robust) choice.
"""

from __future__ import annotations

import inspect
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pandas as pd

from backtest import kernel as K

TRADING_DAYS = 252
QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)
STAT_COLUMNS = ("mean", "median", "p5", "p25", "p75", "p95")
# per-path statistics (one value per path) and scalar statistics (one per distribution)
PATH_STATS = ("horizon_return", "cagr", "ann_vol", "sharpe", "sortino", "max_drawdown", "calmar",
              "hit_rate", "worst_day", "best_day", "daily_cvar_5")
SCENARIO_STATS = ("horizon_return", "max_drawdown", "sharpe", "ann_vol", "prob_loss", "cvar_5")
CVAR_LEVEL = 0.05


# ------------------------------------------------------------------------ simulation
#
# Each path runs ``backtest.kernel._simulate_one`` (the engine's vectorbt semantics). That
# function is private to the kernel, so its signature is checked here: with a signature
# this module does not know, paths fall back to the public ``simulate_many`` one by one
# (correct, slower).

_ONE_ARGS = tuple(inspect.signature(getattr(K._simulate_one, "py_func", K._simulate_one)).parameters)
_DRIFT_ARGS = tuple(inspect.signature(getattr(K._drift_keep_nb, "py_func", K._drift_keep_nb)).parameters)
_WITH_CASH_ON = ("close", "targets", "fill_idx", "execute", "col_asset", "col_kind", "cash_on", "fee", "slip", "out")
_NO_CASH_ON = ("close", "targets", "fill_idx", "execute", "col_asset", "col_kind", "fee", "slip", "out")
_DRIFT = ("px", "targets", "live", "dec_idx", "fill_idx", "band", "out")
KERNEL_OK = _ONE_ARGS in (_WITH_CASH_ON, _NO_CASH_ON) and _DRIFT_ARGS == _DRIFT

if _ONE_ARGS == _NO_CASH_ON:  # pragma: no cover - older kernel

    @numba.njit(cache=False)
    def _call_one(close, tg, fill_idx, ex, col_asset, col_kind, cash_on, fee, slip, out):
        return K._simulate_one(close, tg, fill_idx, ex, col_asset, col_kind, fee, slip, out)

else:

    @numba.njit(cache=False)
    def _call_one(close, tg, fill_idx, ex, col_asset, col_kind, cash_on, fee, slip, out):  # pragma: no cover
        return K._simulate_one(close, tg, fill_idx, ex, col_asset, col_kind, cash_on, fee, slip, out)


@numba.njit(cache=False)
def _build_close(px0, rets, cash_g, borrow_g, col_asset, col_kind, close):  # pragma: no cover - numba
    t_n, c_n = close.shape
    for c in range(c_n):
        a = col_asset[c]
        kind = col_kind[c]
        v = 1.0 if kind == K.CASH_COL else px0[a]
        for t in range(t_n):
            if kind == K.CASH_COL:
                v *= cash_g[t]
                close[t, c] = v
            else:
                v *= 1.0 + rets[t, a]
                close[t, c] = v * borrow_g[c, t] if kind == K.SHORT else v


@numba.njit(cache=False)
def _one_path(p, px0, rets, cash_g, has_rate, borrow_g, targets, fill_idx, execute, col_asset, col_kind,
              fee, slip, out, errors):  # pragma: no cover - numba
    t_n = rets.shape[1]
    c_n = col_asset.shape[0]
    close = np.empty((t_n, c_n))
    _build_close(px0, rets[p], cash_g[p], borrow_g, col_asset, col_kind, close)
    ex = execute[p]
    cash_on = has_rate
    if not cash_on:  # leveraged longs are financed through the cash leg (engine)
        for k in range(ex.shape[0]):
            if ex[k]:
                tot = 0.0
                for j in range(targets.shape[2]):
                    tot += targets[p, k, j]
                if tot > 1.0 + 1e-9:
                    cash_on = True
    errors[p] = _call_one(close, targets[p], fill_idx, ex, col_asset, col_kind, cash_on, fee, slip, out[p])


@numba.njit(cache=False)
def _band_keep(px0, rets, targets, execute, dec_idx, fill_idx, band, keep):  # pragma: no cover - numba
    """``engine._drift_skip`` per path (compiled only when a drift band is configured)."""
    p_n, t_n, n_a = rets.shape
    px = np.empty((t_n, n_a))
    tg = np.empty((1, targets.shape[1], n_a))
    live = np.empty((1, execute.shape[1]), dtype=np.bool_)
    out = np.zeros((1, execute.shape[1]), dtype=np.bool_)
    for p in range(p_n):
        for a in range(n_a):
            v = px0[a]
            for t in range(t_n):
                v *= 1.0 + rets[p, t, a]
                px[t, a] = v
        tg[0] = targets[p]
        live[0] = execute[p]
        K._drift_keep_nb(px, tg, live, dec_idx, fill_idx, band, out)
        keep[p] = out[0]


@numba.njit(cache=False, nogil=True)
def _paths_serial(px0, rets, cash_g, has_rate, borrow_g, targets, fill_idx, execute, col_asset, col_kind, fee, slip,
                  out, errors):  # pragma: no cover - numba
    for p in range(rets.shape[0]):
        _one_path(p, px0, rets, cash_g, has_rate, borrow_g, targets, fill_idx, execute, col_asset, col_kind,
                  fee, slip, out, errors)


def _threads() -> int:
    return max(1, min(os.cpu_count() or 1, numba.config.NUMBA_NUM_THREADS))


def _run_blocks(args: tuple, p_n: int, parallel: bool) -> None:
    """Run the serial kernel on contiguous blocks of paths, one thread each (the kernel
    releases the GIL; a ``prange`` version costs ~10 s to compile for the same speed)."""
    n = _threads() if parallel else 1
    if n <= 1 or p_n < 2:
        _paths_serial(*args)
        return
    bounds = np.linspace(0, p_n, min(n, p_n) + 1).astype(int)
    per_path = (1, 2, 5, 7, 12, 13)  # arguments with one row per path (rets, cash, targets, execute, out, errors)

    def block(lo: int, hi: int) -> None:
        a = list(args)
        for i in per_path:
            a[i] = args[i][lo:hi]
        _paths_serial(*a)

    with ThreadPoolExecutor(max_workers=len(bounds) - 1) as pool:
        list(pool.map(lambda b: block(*b), zip(bounds[:-1], bounds[1:], strict=True)))


def simulate_paths(start_prices: np.ndarray, returns: np.ndarray, targets: np.ndarray, dec_rows: np.ndarray,
                   lag_days: int, *, fee: float = 0.0, slippage: float = 0.0, borrow_bps: np.ndarray | float = 0.0,
                   cash_growth: np.ndarray | None = None, drift_band: float | None = None,
                   parallel: bool = True) -> np.ndarray:
    """Portfolio values of one strategy on every path (the engine's semantics, per path).

    Parameters
    ----------
    start_prices : np.ndarray, shape (N,)
        Closes on the first run day (``t0``).
    returns : np.ndarray, shape (P, T1, N)
        Daily simple returns on the run days; row 0 (``t0``) is ignored (0).
    targets : np.ndarray, shape (P, K, N)
        Target weights decided at ``dec_rows`` (NaN rows: hold; NaN entries: 0).
    dec_rows : np.ndarray of int, shape (K,)
        Run-day rows of the decisions (strictly increasing).
    lag_days : int
        Decision-to-fill lag; decisions whose fill falls after the last day are dropped.
    fee, slippage : float
        Fractions of traded value / of the price.
    borrow_bps : float or np.ndarray, shape (N,)
        Annual borrow fee of short positions, basis points.
    cash_growth : np.ndarray, shape (P, T1), optional
        Daily growth factors of the cash asset (``g_0 = 1``); None: cash earns nothing
        (leveraged longs are then financed at 0 %, as in the engine).
    drift_band : float, optional
        Skip a rebalance when no weight drifted more than this (``engine._drift_skip``).
    parallel : bool
        Spread paths over numba threads (results are identical either way).

    Returns
    -------
    np.ndarray, shape (P, T1)
        Value at each close (1 before the first day); NaN from a day vectorbt would
        reject (negative cash).
    """
    rets = np.ascontiguousarray(returns, dtype=np.float64).copy()
    p_n, t_n, n_a = rets.shape
    rets[:, 0] = 0.0
    fill = np.asarray(dec_rows, dtype=np.int64) + int(lag_days)
    keep = fill < t_n
    fill_idx = fill[keep]
    dec_idx = np.asarray(dec_rows, dtype=np.int64)[keep]
    tg = np.asarray(targets, dtype=np.float64)[:, keep]
    execute = np.isfinite(tg).any(axis=2)
    tg = np.ascontiguousarray(np.nan_to_num(tg, nan=0.0))
    bps = np.broadcast_to(np.asarray(borrow_bps, dtype=float), (n_a,))
    has_rate = cash_growth is not None
    if not KERNEL_OK:  # pragma: no cover - kernel API changed: public entry point, path by path
        out = np.empty((p_n, t_n))
        for p in range(p_n):
            px = np.asarray(start_prices, dtype=float)[None, :] * np.cumprod(1.0 + rets[p], axis=0)
            out[p] = K.simulate_many(px, tg[p][None], fill_idx, fee=fee, slippage=slippage, borrow_bps=bps,
                                     cash_growth=None if cash_growth is None else cash_growth[p],
                                     execute=execute[p][None], parallel=False)[:, 0]
        return out
    levered = (tg.sum(axis=2) > 1.0 + 1e-9) & execute
    col_asset, col_kind = K.column_layout(tg, has_rate or bool(levered.any()))
    borrow_g = np.ones((len(col_asset), t_n))
    steps = np.arange(t_n, dtype=float)
    for c, (a, k) in enumerate(zip(col_asset, col_kind, strict=True)):
        if k == K.SHORT:
            borrow_g[c] = (1.0 + bps[a] / 1e4 / TRADING_DAYS) ** steps
    cg = np.ones((p_n, t_n)) if cash_growth is None else np.ascontiguousarray(cash_growth, dtype=np.float64)
    out = np.empty((p_n, t_n))
    errors = np.zeros(p_n, dtype=np.int64)
    px0 = np.asarray(start_prices, dtype=np.float64)
    if drift_band is not None and len(fill_idx):
        keep = np.zeros_like(execute)
        _band_keep(px0, rets, tg, execute, dec_idx, fill_idx, float(drift_band), keep)
        execute = keep
    args = (px0, rets, cg, has_rate, borrow_g, tg, fill_idx, np.ascontiguousarray(execute), col_asset, col_kind,
            float(fee), float(slippage), out, errors)
    _run_blocks(args, p_n, parallel)
    return out


def cash_growth_factors(rate_pct: np.ndarray) -> np.ndarray:
    """``g_0 = 1``, ``g_t = 1 + r_{t-1} / 100 / 252`` per path (``engine.cash_price`` ratios).

    Parameters
    ----------
    rate_pct : np.ndarray, shape (T1, P)
        Annual rate (percent) known at each run day; NaN counts as 0.
    """
    r = np.nan_to_num(np.asarray(rate_pct, dtype=float), nan=0.0) / 100.0 / TRADING_DAYS
    g = np.ones((r.shape[1], r.shape[0]))
    g[:, 1:] = 1.0 + r[:-1].T
    return g


# ------------------------------------------------------------------------ per-path metrics


def path_metrics(values: np.ndarray, rf: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Contract metrics of every path (see :mod:`backtest.metrics`), each of shape (P,).

    Parameters
    ----------
    values : np.ndarray, shape (P, T1)
        Portfolio values at each close (initial value 1 before the first day).
    rf : np.ndarray, shape (P, T1), optional
        Daily cash return (Sharpe and Sortino are of returns in excess of it).
    """
    v = np.asarray(values, dtype=float)
    prev = np.concatenate([np.ones((v.shape[0], 1)), v[:, :-1]], axis=1)
    r = v / prev - 1.0
    n = r.shape[1]
    ex = r if rf is None else r - rf
    growth = v[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        cagr = np.where(growth > 0, np.abs(growth) ** (TRADING_DAYS / n) - 1.0, -1.0)
        sd = np.std(r, axis=1, ddof=1)
        sdx = np.std(ex, axis=1, ddof=1)
        sharpe = np.where(sdx > 0, ex.mean(axis=1) / sdx * np.sqrt(TRADING_DAYS), np.nan)
        down = np.sqrt(np.mean(np.minimum(ex, 0.0) ** 2, axis=1))
        sortino = np.where(down > 0, ex.mean(axis=1) * TRADING_DAYS / (down * np.sqrt(TRADING_DAYS)), np.nan)
        peak = np.maximum.accumulate(np.concatenate([np.ones((v.shape[0], 1)), v], axis=1), axis=1)[:, 1:]
        mdd = (v / peak - 1.0).min(axis=1)
        calmar = np.where(mdd != 0, cagr / np.abs(mdd), np.nan)
    q = np.quantile(r, CVAR_LEVEL, axis=1)
    tail = r <= q[:, None]
    dcvar = np.where(tail, r, 0.0).sum(axis=1) / tail.sum(axis=1)
    return {
        "horizon_return": growth - 1.0,
        "cagr": cagr,
        "ann_vol": sd * np.sqrt(TRADING_DAYS),
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": mdd,
        "calmar": calmar,
        "hit_rate": (r > 0).mean(axis=1),
        "worst_day": r.min(axis=1),
        "best_day": r.max(axis=1),
        "daily_cvar_5": dcvar,
    }


# ------------------------------------------------------------------------ distributions


def weighted_quantiles(x: np.ndarray, q: np.ndarray | tuple[float, ...], w: np.ndarray | None = None,
                       axis: int = 0) -> np.ndarray:
    """Quantiles with Hazen plotting positions, optionally weighted.

    Sorted values ``x_(i)`` with normalised weights ``w_(i)`` sit at ``c_i = W_i - w_i / 2``
    (``W`` the cumulative weight); a quantile interpolates linearly between them (ends
    clamp). Equal weights give ``c_i = (i - 1/2) / n``. NaN values are dropped.

    Parameters
    ----------
    x : np.ndarray
        Values; quantiles are taken along ``axis``.
    q : sequence of float
        Probabilities in [0, 1].
    w : np.ndarray, optional
        Weights along ``axis`` (same length as that axis).

    Returns
    -------
    np.ndarray
        ``len(q)`` first, then the remaining axes of ``x``.
    """
    x = np.moveaxis(np.asarray(x, dtype=float), axis, 0)
    qq = np.asarray(q, dtype=float)
    n = x.shape[0]
    rest = x.shape[1:]
    xt = np.ascontiguousarray(x.reshape(n, -1).T)  # (m, n): sort along the contiguous axis
    m = xt.shape[0]
    rows = np.arange(m)
    out = np.full((len(qq), m), np.nan)
    if w is None:
        xs = np.sort(xt, axis=1)  # NaN last
        nv = np.isfinite(xs).sum(axis=1)
        top = np.maximum(nv - 1, 0)
        for k, qk in enumerate(qq):
            h = qk * nv - 0.5  # Hazen: x_(i) sits at (i + 1/2) / n, i from 0
            lo = np.clip(np.floor(h), 0, top).astype(np.int64)
            hi = np.clip(lo + 1, 0, top)
            t = np.clip(h - lo, 0.0, 1.0)
            xlo, xhi = xs[rows, lo], xs[rows, hi]
            out[k] = np.where(nv > 0, xlo + t * (xhi - xlo), np.nan)
        return out.reshape((len(qq), *rest))
    ww = np.asarray(w, dtype=float)
    order = np.argsort(xt, axis=1, kind="stable")  # NaN last
    xs = np.take_along_axis(xt, order, axis=1)
    valid = np.isfinite(xs)
    wj = np.where(valid, ww[order], 0.0)
    cw = np.cumsum(wj, axis=1)
    tot = cw[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(valid, (cw - wj / 2.0) / tot, np.inf)
    nv = valid.sum(axis=1)
    top = np.maximum(nv - 1, 0)
    for k, qk in enumerate(qq):
        j = (c < qk).sum(axis=1)
        lo = np.clip(j - 1, 0, top)
        hi = np.clip(j, 0, top)
        clo, chi = c[rows, lo], c[rows, hi]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(chi > clo, (qk - clo) / (chi - clo), 0.0)
        t = np.clip(np.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
        xlo, xhi = xs[rows, lo], xs[rows, hi]
        out[k] = np.where(nv > 0, xlo + t * (xhi - xlo), np.nan)
    return out.reshape((len(qq), *rest))


@numba.njit(cache=True)
def _merge_quantiles(xs, counts, wts, q, out):  # pragma: no cover - numba
    s_n, m, _ = xs.shape
    ptr = np.zeros(s_n, dtype=np.int64)
    for j in range(m):
        tot = 0.0
        for s in range(s_n):
            ptr[s] = 0
            tot += counts[s, j] * wts[s]
        if tot <= 0.0:
            for k in range(q.shape[0]):
                out[k, j] = np.nan
            continue
        k = 0
        cw = 0.0
        c_prev = -1.0
        x_prev = np.nan
        while k < q.shape[0]:
            best = -1
            for s in range(s_n):  # smallest head; ties go to the first group (stable order)
                if ptr[s] < counts[s, j] and (best < 0 or xs[s, j, ptr[s]] < xs[best, j, ptr[best]]):
                    best = s
            if best < 0:
                break
            x = xs[best, j, ptr[best]]
            ptr[best] += 1
            w = wts[best]
            c = (cw + w / 2.0) / tot
            cw += w
            while k < q.shape[0] and c >= q[k]:
                if c_prev < 0.0:
                    out[k, j] = x
                elif c > c_prev:
                    t = (q[k] - c_prev) / (c - c_prev)
                    t = min(max(t, 0.0), 1.0)
                    out[k, j] = x_prev + t * (x - x_prev)
                else:
                    out[k, j] = x_prev
                k += 1
            c_prev = c
            x_prev = x
        while k < q.shape[0]:
            out[k, j] = x_prev
            k += 1


def mixture_quantiles(groups: list[np.ndarray], weights: list[float], q: tuple[float, ...]) -> np.ndarray:
    """Hazen quantiles of a mixture of groups of paths, column by column (fan charts).

    The same definition as :func:`weighted_quantiles` with every path of group ``g``
    weighted ``weights[g]``, computed by merging the groups sorted separately (fast for
    the (paths x days) wealth matrices of several scenarios).

    Parameters
    ----------
    groups : list of np.ndarray, each shape (n_g, m)
        Paths (rows) of each group; columns are days.
    weights : list of float
        Weight of one path of each group.
    q : sequence of float
        Increasing probabilities.

    Returns
    -------
    np.ndarray, shape (len(q), m)
    """
    m = groups[0].shape[1]
    nmax = max(g.shape[0] for g in groups)
    xs = np.full((len(groups), m, nmax), np.nan)
    counts = np.zeros((len(groups), m), dtype=np.int64)
    for i, g in enumerate(groups):
        srt = np.sort(np.ascontiguousarray(np.asarray(g, dtype=float).T), axis=1)  # NaN last
        xs[i, :, : g.shape[0]] = srt
        counts[i] = np.isfinite(srt).sum(axis=1)
    out = np.empty((len(q), m))
    _merge_quantiles(xs, counts, np.asarray(weights, dtype=float), np.asarray(q, dtype=float), out)
    return out


def tail_mean(x: np.ndarray, level: float = CVAR_LEVEL, w: np.ndarray | None = None) -> float:
    """Mean of the lowest ``level`` share of the probability mass of ``x`` (CVaR, exact).

    Sorted values are taken in order, each with its weight, the last one partially, until
    the mass ``level`` is reached.
    """
    x = np.asarray(x, dtype=float)
    ww = np.ones(len(x)) if w is None else np.asarray(w, dtype=float)
    ok = np.isfinite(x)
    x, ww = x[ok], ww[ok]
    if not len(x):
        return float("nan")
    o = np.argsort(x, kind="stable")
    xs, ws = x[o], ww[o] / ww.sum()
    before = np.concatenate([[0.0], np.cumsum(ws)[:-1]])
    take = np.clip(level - before, 0.0, ws)
    return float((xs * take).sum() / take.sum())


def weighted_mean(x: np.ndarray, w: np.ndarray | None = None) -> float:
    """Mean of the finite values (weighted)."""
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    if not ok.any():
        return float("nan")
    if w is None:
        return float(x[ok].mean())
    ww = np.asarray(w, dtype=float)[ok]
    return float((x[ok] * ww).sum() / ww.sum())


def summarise(stats: dict[str, np.ndarray], w: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """Rows of ``scenario_metrics.csv`` for one strategy in one scenario (or the mix).

    ``prob_loss`` (share of paths losing money over the horizon) and ``cvar_5`` (mean
    horizon return of the worst 5 %) are single numbers: they fill ``mean`` and
    ``median``, the percentiles are left empty.
    """
    out: dict[str, dict[str, float]] = {}
    hr = stats["horizon_return"]
    for st in SCENARIO_STATS:
        if st == "prob_loss":
            v = weighted_mean((hr < 0).astype(float), w)
            out[st] = {"mean": v, "median": v, **{f"p{int(q * 100)}": np.nan for q in QUANTILES if q != 0.5}}
        elif st == "cvar_5":
            v = tail_mean(hr, CVAR_LEVEL, w)
            out[st] = {"mean": v, "median": v, **{f"p{int(q * 100)}": np.nan for q in QUANTILES if q != 0.5}}
        else:
            x = stats[st]
            qs = weighted_quantiles(x, QUANTILES, w)
            out[st] = {"mean": weighted_mean(x, w), "median": float(qs[2]), "p5": float(qs[0]),
                       "p25": float(qs[1]), "p75": float(qs[3]), "p95": float(qs[4])}
    return out


def regret_table(values: pd.DataFrame, mix: dict[str, float], statistic: str) -> pd.DataFrame:
    """Regret of each strategy against the best one per scenario, and the minimax choice.

    Parameters
    ----------
    values : pd.DataFrame
        Index strategies, columns scenarios (``mix`` may be one), the statistic's summary
        value (higher is better for every statistic used: returns, Sharpe, drawdown and
        CVaR are all "less negative is better").
    mix : dict
        Scenario probabilities (empty: no mix; maximum over every scenario then).
    statistic : str
        Name written in the table.

    Returns
    -------
    pd.DataFrame
        ``strategy, statistic, <regret per scenario>..., max_regret, expected_regret,
        robust`` — ``robust`` is True for the strategy (or tied strategies) with the
        smallest maximum regret over the mix's scenarios.
    """
    reg = values.max(axis=0) - values
    basis = [s for s in mix if s in reg.columns] or [c for c in reg.columns if c != "mix"]
    out = pd.DataFrame({"strategy": values.index.astype(str), "statistic": statistic})
    for c in reg.columns:
        out[f"regret_{c}"] = reg[c].to_numpy()
    mx = reg[basis].max(axis=1).to_numpy()
    out["max_regret"] = mx
    out["expected_regret"] = (reg[list(mix)] * pd.Series(mix)).sum(axis=1).to_numpy() if mix else np.nan
    out["robust"] = np.isclose(mx, np.nanmin(mx), rtol=0, atol=1e-12)
    return out


__all__ = [
    "PATH_STATS",
    "QUANTILES",
    "SCENARIO_STATS",
    "STAT_COLUMNS",
    "cash_growth_factors",
    "mixture_quantiles",
    "path_metrics",
    "regret_table",
    "simulate_paths",
    "summarise",
    "tail_mean",
    "weighted_quantiles",
]
