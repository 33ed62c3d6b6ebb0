"""Strategy weights for all scenario paths at once (decision dates x paths).

Calling ``Strategy.weights()`` on each of 10,000 paths costs minutes; this module
evaluates the strategies of the project on ``(decision dates x paths)`` arrays instead:

* benchmarks (``fixed_weights``, ``buy_and_hold``, ``equal_weight``, ``inverse_vol``):
  closed forms of their ``weights()``;
* ``regime_rules`` and every kind backed by it (``short_vol``, ``real_assets``,
  ``size_tech_tilt``, ``steepener``, ``rmp_playbook``): the strategy's own *parsed* rule
  objects (:class:`~strategies.regime_rules.CompiledRules`, the condition trees of
  :mod:`strategies.rules_engine`) are evaluated on 2-D signal arrays — regime tests,
  comparisons, hysteresis, ``all``/``any``/``not`` in three-valued logic, minimum holding
  times, vol targeting — and the funding/caps kernels of ``regime_rules``
  (:func:`~strategies.regime_rules.apply_tilts`, :func:`~strategies.regime_rules.apply_caps`,
  row-wise already) run on all (date, path) rows in one call.

A strategy with anything else (an optimizer block, an unknown condition node, a signal
:class:`~backtest.synthetic.path_signals.PathSignals` cannot compute, a subclass that
overrides ``weights``) has no vectorised form: :func:`per_path_weights` then calls its
``weights()`` on each path's ``MarketData`` (slow; the command says so). Both routes
apply the pipeline's renormalisation over listed assets and leverage cap, and
``tests/test_scenarios_vector.py`` checks they agree on individual paths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.synthetic.generator import PathPanel
from backtest.synthetic.path_signals import PathSignals
from strategies import rules_engine as RE
from strategies.regime_rules import (
    EPS,
    RegimeRules,
    RulesBacked,
    apply_caps,
    apply_tilts,
    trailing_vol,
)


class Unsupported(Exception):
    """The strategy (or one of its rules) has no vectorised form."""


@dataclass(frozen=True)
class DecisionGrid:
    """Decision dates of a scenario run as rows of the paths' calendar.

    Attributes
    ----------
    dates : pd.DatetimeIndex, shape (K,)
    rows : np.ndarray of int, shape (K,)
        Row of each date in ``history days + simulated days``.
    """

    dates: pd.DatetimeIndex
    rows: np.ndarray


class VectorEvaluator:
    """Evaluates strategies on every path of a panel.

    Parameters
    ----------
    panel : PathPanel
    signals : PathSignals
    history_regime : str
        Regime label at ``t0`` (the last history day; the first decision may be there).
    grid : DecisionGrid
    """

    def __init__(self, panel: PathPanel, signals: PathSignals, history_regime: str, grid: DecisionGrid) -> None:
        self.panel, self.ps, self.grid = panel, signals, grid
        self.P = panel.paths
        self.H = signals.H
        kinds = np.asarray(panel.ctx.kinds, dtype=object)
        reg = np.empty((len(grid.rows), self.P), dtype=object)
        for k, r in enumerate(grid.rows):
            reg[k] = history_regime if r < self.H else kinds[panel.states[:, r - self.H]]
        self.regime = reg.astype(str)

    # --------------------------------------------------------------- entry point

    def weights(self, strategy: object) -> tuple[np.ndarray, list[str]]:
        """Target weights ``(P, K, n)`` and their asset columns (NaN rows = hold).

        Raises
        ------
        Unsupported
            No vectorised form for this strategy.
        """
        from strategies.benchmarks import BuyAndHold, EqualWeight, FixedWeights, InverseVol

        cls = type(strategy)
        k_n = len(self.grid.rows)
        if cls is FixedWeights or cls is BuyAndHold:
            wd = strategy.params.weights  # type: ignore[attr-defined]
            cols = list(wd)
            w = np.broadcast_to(np.array([wd[c] for c in cols], dtype=float), (self.P, k_n, len(cols))).copy()
            if cls is BuyAndHold:
                w[:, 1:] = np.nan
            return w, cols
        if cls is EqualWeight:
            cols = list(strategy.params.assets)  # type: ignore[attr-defined]
            avail = self._available(cols)  # (K, n)
            n = avail.sum(axis=1, keepdims=True)
            w = np.where(n > 0, avail / np.where(n > 0, n, 1.0), 0.0)
            return np.broadcast_to(w, (self.P, k_n, len(cols))).copy(), cols
        if cls is InverseVol:
            return self._inverse_vol(strategy), list(strategy.params.assets)  # type: ignore[attr-defined]
        if isinstance(strategy, RulesBacked) and cls.weights is RulesBacked.weights:
            strategy = strategy.impl
            cls = type(strategy)
        if cls is RegimeRules:
            return self._rules(strategy), list(strategy.rules.assets)  # type: ignore[attr-defined]
        raise Unsupported(f"kind {getattr(strategy, 'kind', cls.__name__)} has no vectorised form")

    # --------------------------------------------------------------- helpers

    def _available(self, cols: list[str]) -> np.ndarray:
        """(K, n) listed flags (history rows from history prices; simulated rows: all listed)."""
        hp = self.panel.ctx.history.prices
        out = np.ones((len(self.grid.rows), len(cols)), dtype=float)
        for k, r in enumerate(self.grid.rows):
            if r < self.H:
                out[k] = [float(c in hp.columns and np.isfinite(hp[c].iloc[r])) for c in cols]
        return out

    def _inverse_vol(self, strategy: object) -> np.ndarray:
        cols = list(strategy.params.assets)  # type: ignore[attr-defined]
        win = int(strategy.params.window)  # type: ignore[attr-defined]
        rows = self.grid.rows
        lo, hi = int(rows.min()) - win, int(rows.max()) + 1
        px = self.ps.price_block(cols, lo, hi)  # (L, P, n)
        rets = np.full_like(px, np.nan)
        rets[1:] = px[1:] / px[:-1] - 1.0
        k_n = len(rows)
        vol = np.full((self.P, k_n, len(cols)), np.nan)
        for k, r in enumerate(rows):
            x = rets[r - lo - win + 1 : r - lo + 1]  # (win, P, n): the trailing window ending at r
            good = np.isfinite(x).all(axis=0)
            sd = np.std(x, axis=0, ddof=1) if win > 1 else np.full(x.shape[1:], np.nan)
            vol[:, k] = np.where(good, sd, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(vol == 0, np.nan, 1.0 / vol)
            tot = np.nansum(inv, axis=2, keepdims=True)
            w = inv / tot
        none = np.isnan(w).all(axis=2)  # (P, K)
        if none.any():
            avail = self._available(cols)
            n = avail.sum(axis=1, keepdims=True)
            eq = np.where(n > 0, avail / np.where(n > 0, n, 1.0), 0.0)  # (K, n)
            w = np.where(none[..., None], eq[None], w)
        return np.nan_to_num(w, nan=0.0)

    # --------------------------------------------------------------- rules

    def _values(self, name: str, lookback: int = 0) -> np.ndarray:
        if not self.ps.supports(name):
            raise Unsupported(f"signal {name!r} has no vectorised form")
        return self.ps.at(name, self.grid.rows - lookback)

    def evaluate(self, cond: object) -> np.ndarray:
        """Truth values (1 / 0 / 0.5 unknown) of a parsed condition, shape (K, P)."""
        if isinstance(cond, RE.RegimeIn):
            return np.isin(self.regime, cond.labels).astype(float)
        if isinstance(cond, RE.Compare):
            x = self._values(cond.signal)
            if cond.change != "level":
                prev = self._values(cond.signal, cond.lookback)
                if cond.change == "diff":
                    x = x - prev
                else:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        x = np.where(prev != 0, x / prev - 1.0, np.nan)
            known = np.isfinite(x)
            with np.errstate(invalid="ignore"):
                enter = RE.OPS[cond.op](x, cond.value)
            if cond.exit is None:
                return np.where(known, enter.astype(float), RE.UNKNOWN)
            with np.errstate(invalid="ignore"):
                stay = RE.OPS[cond.op](x, cond.exit)
            out = np.empty(x.shape)
            on = np.zeros(self.P, dtype=bool)
            for k in range(x.shape[0]):  # causal: the state at k uses values at or before k
                on = np.where(on, stay[k], enter[k]) & known[k]
                out[k] = np.where(known[k], np.where(on, RE.TRUE, RE.FALSE), RE.UNKNOWN)
            return out
        if isinstance(cond, RE.AllOf):
            return np.minimum.reduce([self.evaluate(c) for c in cond.children])
        if isinstance(cond, RE.AnyOf):
            return np.maximum.reduce([self.evaluate(c) for c in cond.children])
        if isinstance(cond, RE.Not):
            return 1.0 - self.evaluate(cond.child)
        raise Unsupported(f"condition {type(cond).__name__} has no vectorised form")

    def _hold(self, cond: np.ndarray, off: np.ndarray, min_days: int, min_periods: int) -> np.ndarray:
        """:func:`strategies.rules_engine.hold_state` for every path, (K, P) bool."""
        if min_days <= 0 and min_periods <= 0:
            return cond & ~off
        day_pos = self.grid.rows
        out = np.zeros(cond.shape, dtype=bool)
        on = np.zeros(self.P, dtype=bool)
        since = np.zeros(self.P, dtype=np.int64)
        for k in range(cond.shape[0]):
            fo = off[k]
            held = day_pos[k] - day_pos[since]
            keep = (held < min_days) | ((k - since) < min_periods)
            start = ~fo & ~on & cond[k]
            new_on = np.where(fo, False, np.where(on & ~cond[k], keep, on | start))
            since = np.where(start, k, since)
            on = new_on
            out[k] = on
        return out

    def _trailing_vol(self, idx: np.ndarray, w: np.ndarray, window: int) -> np.ndarray:
        """:func:`strategies.regime_rules.trailing_vol` of the direction ``rets[:, idx] @ w``, (K, P)."""
        last = int(self.grid.rows.max())
        assets = self._rule_assets
        px = self.ps.price_block([assets[a] for a in idx], 0, last + 1)  # (L, P, m)
        rets = np.full_like(px, np.nan)
        rets[1:] = px[1:] / px[:-1] - 1.0
        x = np.zeros(rets.shape[:2])
        for j, wj in enumerate(w):  # fixed summation order: a path's value never depends on the chunk
            x = x + rets[:, :, j] * wj
        return trailing_vol(x, self.grid.rows, window)

    def _rules(self, strategy: RegimeRules) -> np.ndarray:
        rules = strategy.rules
        if rules.optimizer is not None:
            raise Unsupported("regime_rules with an optimizer block")
        self._rule_assets = list(rules.assets)
        k_n, p_n, t_n = len(self.grid.rows), self.P, len(rules.tilts)
        n = len(rules.assets)
        listed = self._available(list(rules.assets)).astype(bool)  # (K, n)
        active = np.zeros((k_n, p_n, t_n), dtype=bool)
        scale = np.ones((k_n, p_n, t_n))
        for j, t in enumerate(rules.tilts):
            cond = self.evaluate(t.when) == 1.0
            off = (np.zeros((k_n, p_n), dtype=bool) if t.exit_when is None
                   else self.evaluate(t.exit_when) == 1.0)
            on = self._hold(cond, off, t.min_hold_days, t.min_hold_periods)
            active[:, :, j] = on & listed[:, t.listed].all(axis=1)[:, None]
            if t.vol_target is not None and active[:, :, j].any():
                gross = np.abs(t.w).sum()
                risky = t.idx < n
                vol = self._trailing_vol(t.idx[risky], t.w[risky] / gross, t.vol_window)
                with np.errstate(divide="ignore", invalid="ignore"):
                    s = np.minimum(1.0, t.vol_target / (gross * vol))
                scale[:, :, j] = np.where(np.isfinite(s), s, 0.0)
        W, short, _ = apply_tilts(rules, active.reshape(k_n * p_n, t_n), scale.reshape(k_n * p_n, t_n))
        if (short > EPS).any():
            from backtest.errors import StrategyError

            r, j = np.argwhere(short > EPS)[0]
            raise StrategyError(f"strategy {strategy.name}: tilt {rules.tilts[j].name!r} cannot be funded on "
                                f"{self.grid.dates[r // p_n].date()} of path {self.panel.p0 + r % p_n}")
        A = apply_caps(W[:, :n], rules)
        return A.reshape(k_n, p_n, n).transpose(1, 0, 2).copy()


# ------------------------------------------------------------------------ post-processing


def finalise(w: np.ndarray, cols: list[str], avail: np.ndarray, max_gross: float) -> np.ndarray:
    """The pipeline's renormalisation over listed assets and leverage cap, for all paths.

    Parameters
    ----------
    w : np.ndarray, shape (P, K, n)
        Target weights (NaN rows: hold).
    avail : np.ndarray of bool, shape (K, n)
        Listed flags at the decision dates.
    max_gross : float
        ``execution.max_gross_leverage``.
    """
    out = w.copy()
    held = np.isfinite(out).any(axis=2)  # (P, K)
    filled = np.nan_to_num(out, nan=0.0)
    missing = (np.abs(filled) > 0) & ~avail[None]
    rows = missing.any(axis=2) & held
    if rows.any():
        keep = np.where(avail[None], filled, 0.0)
        total, kept = filled.sum(axis=2, keepdims=True), keep.sum(axis=2, keepdims=True)
        fix = (kept != 0) & (np.sign(kept) == np.sign(total))
        keep = np.where(fix, keep * (total / np.where(kept != 0, kept, 1.0)), keep)
        out = np.where(rows[..., None], keep, out)
    gross = np.nansum(np.abs(out), axis=2)
    over = gross > max_gross + 1e-12
    if over.any():
        out = np.where(over[..., None], out * (max_gross / np.where(over, gross, 1.0))[..., None], out)
    return out


def path_frame(panel: PathPanel, i: int, history_labels: pd.DataFrame):
    """``SignalFrame`` of path ``i`` as the pipeline builds it (regime labels: history, then state kinds)."""
    from backtest.signals import build_signal_frame

    md = panel.market_data(i)
    ctx = panel.ctx
    sim = pd.DataFrame({"regime": np.asarray(ctx.kinds, dtype=object)[panel.states[i]],
                        "regime_id": np.asarray(ctx.states, dtype=object)[panel.states[i]]}, index=ctx.days)
    labels = pd.concat([history_labels.loc[: ctx.t0, ["regime", "regime_id"]], sim])
    labels.index.name = "date"
    return md, build_signal_frame(md, labels["regime"], extra={"regime_labels": labels})


def per_path_weights(strategy: object, panel: PathPanel, grid: DecisionGrid, history_labels: pd.DataFrame,
                     paths: range | None = None) -> tuple[np.ndarray, list[str]]:
    """Weights by calling ``strategy.weights()`` on each path's own ``SignalFrame`` (slow route).

    Returns
    -------
    (np.ndarray, list[str])
        ``(P, K, n)`` raw weights (before :func:`finalise`) and their columns.
    """
    paths = range(panel.paths) if paths is None else paths
    out: np.ndarray | None = None
    cols: list[str] = []
    for k, i in enumerate(paths):
        _, sf = path_frame(panel, i, history_labels)
        w = strategy.weights(sf, grid.dates)  # type: ignore[attr-defined]
        if out is None:
            cols = list(w.columns)
            out = np.full((len(paths), len(grid.dates), len(cols)), np.nan)
        out[k] = w.reindex(columns=cols).to_numpy(dtype=float)
    assert out is not None
    return out, cols


__all__ = ["DecisionGrid", "Unsupported", "VectorEvaluator", "finalise", "path_frame", "per_path_weights"]
