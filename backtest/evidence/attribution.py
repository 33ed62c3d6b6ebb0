"""Regime attribution: which asset (and which sleeve) earned each strategy's return in each regime.

**Daily components.** From the engine's own outputs (``SimResult``: end-of-day weights
netted per asset, value, fees, borrow and financing; nothing is simulated again), a
strategy's daily return ``r_t`` splits into

* one term per asset: ``w_{a,t-1} * r_{a,t}`` (weight at the previous close, net of long
  and short legs, times the asset's return);
* ``CASH``: interest on idle cash, ``(w_cash,t-1 - w_borrowed,t-1) * c_t``;
* ``fees`` (fees and slippage), ``borrow`` (borrow fee of shorts) and ``financing``
  (interest paid on borrowed cash, at the cash rate plus the spread), each the day's cost
  over the previous close's value, negative;
* ``residual``: what is left (``r_t`` minus the rest; idle cash before the first fill,
  which earns nothing, is the only known source: below 1e-6 on real data).

**Linking over a regime (Carino 1999).** A regime's days need not be contiguous; its
return is ``R = prod(1 + r_t) - 1`` over them (``total_return`` of ``regime_metrics.csv``).
Each component's contribution is ``C_k = sum_t (k_t / K) c_{t,k}`` with
``k_t = ln(1 + r_t) / r_t`` and ``K = ln(1 + R) / R`` (1 where the return is 0), so that
``sum_k C_k = R`` exactly (up to rounding).

**Intervals.** Stationary block bootstrap of the regime's days (in date order; the same
draws for every strategy with the same days), the Carino link recomputed on each draw
from block sums (:mod:`backtest.evidence.bootstrap`); 5 % and 95 % percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtest.constants import CASH, REGIME_KINDS
from backtest.evidence.bootstrap import (
    BLOCK,
    DRAWS,
    LEVEL,
    block_layout,
    block_sums,
    interval,
    seeded_rng,
)
from backtest.evidence.sleeves import sleeve_map, sleeve_of
from backtest.execution.spec import build_spec
from strategies.base import build_strategy

ATTRIBUTION_COLUMNS = ["strategy", "regime", "component", "contribution", "ci_lo", "ci_hi"]
COSTS = ("fees", "borrow", "financing")
RESIDUAL, TOTAL = "residual", "total"


@dataclass
class DailyComponents:
    """A strategy's daily return and its additive daily components.

    Attributes
    ----------
    returns : np.ndarray
        ``(T,)`` daily returns (the engine's).
    names : list of str
        Component names (assets, ``CASH``, costs, ``residual``).
    values : np.ndarray
        ``(T, K)`` daily components; each row sums to ``returns``.
    """

    returns: np.ndarray
    names: list[str]
    values: np.ndarray


def asset_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Daily returns of the engine's valuation prices (back- then forward-filled; 0 on day 0)."""
    px = prices.bfill().ffill()
    out = px / px.shift(1) - 1.0
    return out.fillna(0.0)


def daily_components(sim: Any, rets: pd.DataFrame, cash_g: np.ndarray | None, fin_g: np.ndarray) -> DailyComponents:
    """Split a simulated strategy's daily returns into components (see the module docstring).

    Parameters
    ----------
    sim : backtest.engine.SimResult
        The engine's result for one strategy.
    rets : pd.DataFrame
        Daily asset returns on the run's days (:func:`asset_returns`).
    cash_g : np.ndarray or None
        Daily growth factors of idle cash (None: cash earns nothing).
    fin_g : np.ndarray
        Daily growth factors of borrowed cash (cash rate plus spread).

    Returns
    -------
    DailyComponents
    """
    days = sim.value.index
    n = len(days)
    value = sim.value.to_numpy(dtype=float)
    prev_v = np.concatenate([[1.0], value[:-1]])
    w = sim.weights.reindex(days).fillna(0.0)
    wp = np.vstack([np.zeros((1, w.shape[1])), w.to_numpy(dtype=float)[:-1]])
    cols = list(w.columns)
    names: list[str] = []
    parts: list[np.ndarray] = []
    for j, a in enumerate(cols):
        if a == CASH or not np.any(wp[:, j]):
            continue
        names.append(a)
        parts.append(wp[:, j] * rets[a].reindex(days).fillna(0.0).to_numpy(dtype=float))
    fin = (sim.financing if sim.financing is not None else pd.Series(0.0, index=days)).to_numpy(dtype=float)
    f1 = np.asarray(fin_g, dtype=float) - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        w_borrowed = np.where(f1 > 0, -fin / (prev_v * np.where(f1 > 0, f1, 1.0)), 0.0)
    c = np.zeros(n) if cash_g is None else np.asarray(cash_g, dtype=float) - 1.0
    w_cash = wp[:, cols.index(CASH)] if CASH in cols else np.zeros(n)
    names.append(CASH)
    parts.append((w_cash - w_borrowed) * c)
    for key, series in (("fees", sim.fees), ("borrow", sim.borrow), ("financing", sim.financing)):
        v = np.zeros(n) if series is None else series.to_numpy(dtype=float)
        names.append(key)
        parts.append(-v / prev_v)
    r = sim.returns.to_numpy(dtype=float)
    vals = np.column_stack(parts)
    names.append(RESIDUAL)
    vals = np.column_stack([vals, np.nan_to_num(r) - vals.sum(axis=1)])
    return DailyComponents(r, names, vals)


def carino(r: np.ndarray, c: np.ndarray, layout: tuple[np.ndarray, np.ndarray] | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Carino-linked contributions of daily components over a set of days.

    Parameters
    ----------
    r : np.ndarray
        ``(n,)`` daily returns (each > -1).
    c : np.ndarray
        ``(n, K)`` daily components, rows summing to ``r``.
    layout : tuple of np.ndarray, optional
        ``(starts, lengths)`` of B bootstrap draws (:func:`~backtest.evidence.bootstrap.block_layout`);
        None: the days as they are.

    Returns
    -------
    tuple of np.ndarray
        ``(total, contributions)``: ``()`` and ``(K,)`` without draws (the total is
        ``prod(1 + r) - 1``), ``(B,)`` and ``(B, K)`` with draws (the total is ``expm1`` of
        the draw's sum of ``log1p(r)``).
    """
    lr = np.log1p(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(r != 0.0, lr / np.where(r != 0.0, r, 1.0), 1.0)
    y = c * k[:, None]
    if layout is None:
        total = np.prod(1.0 + r) - 1.0
        big_l = lr.sum()
        factor = total / big_l if big_l != 0.0 else 1.0
        return np.asarray(total), factor * y.sum(axis=0)
    sums = block_sums(np.column_stack([lr, y]), *layout)
    big_l = sums[:, 0]
    total = np.expm1(big_l)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(big_l != 0.0, total / np.where(big_l != 0.0, big_l, 1.0), 1.0)
    return total, factor[:, None] * sums[:, 1:]


def regime_order(kind: str) -> tuple[int, str]:
    """Sort key: the regime kinds in code order, then any other label."""
    return (REGIME_KINDS.index(kind) if kind in REGIME_KINDS else len(REGIME_KINDS), kind)


def group_matrix(names: list[str], groups: dict[str, str]) -> tuple[list[str], np.ndarray]:
    """Group names (first-seen order) and the 0/1 matrix summing components into them."""
    order = list(dict.fromkeys(groups.get(nm, nm) for nm in names))
    m = np.zeros((len(names), len(order)))
    for i, nm in enumerate(names):
        m[i, order.index(groups.get(nm, nm))] = 1.0
    return order, m


def link_tables(name: str, comp: DailyComponents, regimes: np.ndarray, live: np.ndarray,
                groups: dict[str, str] | None, seed: int, draws: int, block: float, level: float,
                cache: dict) -> tuple[list[dict], list[dict]]:
    """Rows of one strategy: per regime, each component then ``total``; and the same by group.

    ``groups`` maps component names to group names (sleeves; None: no grouped rows). The
    grouped contributions are sums of the components' (linking is linear in them), on the
    same bootstrap draws.
    """
    names, vals = comp.names, comp.values
    gnames, gmat = group_matrix(names, groups) if groups is not None else ([], None)
    rows: list[dict] = []
    grows: list[dict] = []
    for g in sorted({str(x) for x in regimes[live] if x == x and x is not None}, key=regime_order):
        pos = np.flatnonzero(live & (regimes == g))
        r = np.nan_to_num(comp.returns[pos])
        key = (g, int(pos[0]), len(pos))
        if key not in cache:
            cache[key] = block_layout(len(pos), draws, block, seeded_rng(seed, "attribution", g, len(pos)))
        total, contrib = carino(r, vals[pos])
        b_total, b_contrib = carino(r, vals[pos], cache[key])
        t_lo, t_hi = interval(b_total[:, None], level)
        tot = {"strategy": name, "regime": g, "component": TOTAL, "contribution": float(total),
               "ci_lo": float(t_lo[0]), "ci_hi": float(t_hi[0])}
        for out, nms, c, bc in ((rows, names, contrib, b_contrib),
                                (grows, gnames, contrib @ gmat if gmat is not None else None,
                                 b_contrib @ gmat if gmat is not None else None)):
            if c is None:
                continue
            lo, hi = interval(bc, level)
            out.extend({"strategy": name, "regime": g, "component": nm, "contribution": float(c[j]),
                        "ci_lo": float(lo[j]), "ci_hi": float(hi[j])} for j, nm in enumerate(nms))
            out.append(dict(tot))
    return rows, grows


def attribution_tables(out: Any, seed: int | None = None, draws: int = DRAWS, block: float = BLOCK,
                       level: float = LEVEL) -> dict[str, pd.DataFrame]:
    """``attribution.csv`` (by asset) and ``attribution_sleeves.csv`` (by sleeve) of a run.

    Parameters
    ----------
    out : backtest.pipeline.RunOutput
        A run's in-memory output (simulations, prices, labels, config).
    seed : int, optional
        Root seed of the bootstrap (default: the config's ``seed``).
    draws, block, level
        Bootstrap settings.

    Returns
    -------
    dict of pd.DataFrame
        ``{"attribution": ..., "attribution_sleeves": ...}``, both with
        :data:`ATTRIBUTION_COLUMNS`; the sleeve table holds the strategies with named
        sleeves only (:func:`backtest.evidence.sleeves.sleeve_map`).
    """
    cfg = out.cfg
    seed = cfg.seed if seed is None else seed
    spec = build_spec(cfg, out.md, out.days, out.sf.signal("cash_rate"), out.origin)
    cash_g, fin_g = spec.cash_growth(), spec.financing_growth()
    rets = asset_returns(out.md.prices.loc[out.days])
    regimes = out.labels["regime"].reindex(out.days).astype(object).to_numpy()
    sleeves = {s.name: sleeve_map(build_strategy(s, out.origin)) for s in cfg.strategies}
    cache: dict = {}
    by_asset: list[dict] = []
    by_sleeve: list[dict] = []
    for name, sim in out.sims.items():
        comp = daily_components(sim, rets, cash_g, fin_g)
        r = out.returns[name]
        first = r.first_valid_index()
        live = np.zeros(len(out.days), dtype=bool) if first is None else np.asarray(out.days >= first)
        mapping = sleeves.get(name)
        groups = None if mapping is None else {a: sleeve_of(a, mapping) for a in comp.names
                                               if a not in (*COSTS, RESIDUAL)}
        rows, grows = link_tables(name, comp, regimes, live, groups, seed, draws, block, level, cache)
        by_asset += rows
        by_sleeve += grows
    return {"attribution": pd.DataFrame(by_asset, columns=ATTRIBUTION_COLUMNS),
            "attribution_sleeves": pd.DataFrame(by_sleeve, columns=ATTRIBUTION_COLUMNS)}
