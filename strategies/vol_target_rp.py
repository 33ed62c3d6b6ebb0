"""Risk parity with a regime-conditional volatility target (kind ``vol_target_rp``).

The one-door example of a strategy kind (``docs/strategies.md``, "Adding a kind"): one
module, written once in array form, plus one row of :data:`strategies.KINDS`.

At each decision date, on data known at its close:

1. inverse-volatility weights ``w_i ∝ 1 / σ_i`` over the listed assets, ``σ_i`` the sample
   std of asset ``i``'s daily returns over the trailing ``window`` (as ``inverse_vol``;
   equal weight over the listed assets before any asset has a full window);
2. the portfolio's volatility ``σ_p``: the sample std, annualised (x √252), of the daily
   return those weights would have earned over the same trailing window;
3. the weights scaled by ``s = min(target(regime) / σ_p, max_gross / Σ|w|)``: the target
   is the annual volatility budget of the regime known at the decision (``targets``, e.g.
   run hotter in qe and rmp, cooler in qt), ``default_target`` for a regime without a
   target or an unknown one; ``s = min(1, max_gross / Σ|w|)`` while ``σ_p`` is unknown.
   The rest (``1 - s``) is cash; with ``max_gross`` above 1 the strategy may borrow.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, field_validator

from backtest.constants import REGIME_KINDS, TRADING_DAYS
from strategies.base import BatchSignals, register
from strategies.benchmarks import InverseVol, InverseVolParams
from strategies.history import daily_returns, window_start
from strategies.rules_engine import did_you_mean


class VolTargetRPParams(InverseVolParams):
    """Inverse-vol assets and window, and the annual volatility target per regime."""

    targets: dict[str, float] = Field(
        default_factory=lambda: {"qe": 0.10, "rmp": 0.10, "plateau": 0.08, "qt": 0.06},
        description="annual volatility target per regime kind (fraction, e.g. 0.10 = 10 %)")
    default_target: float = Field(0.08, gt=0, le=2, description="target for a regime without one, or unknown")
    max_gross: float = Field(1.0, gt=0, le=10, description="cap on the gross weight after scaling (1: no leverage)")

    @field_validator("targets")
    @classmethod
    def _targets(cls, v: dict[str, float]) -> dict[str, float]:
        for k, x in v.items():
            if k not in REGIME_KINDS:
                raise ValueError(f"unknown regime {k!r}{did_you_mean(k, REGIME_KINDS)} (known: {', '.join(REGIME_KINDS)})")
            if not 0 < x <= 2:
                raise ValueError(f"target of {k} is {x:g}: must be in (0, 2] (annual volatility, a fraction)")
        return v


@register("vol_target_rp", VolTargetRPParams)
class VolTargetRP(InverseVol):
    """Inverse-vol risk parity scaled to a regime-conditional volatility target."""

    def batch_weights(self, bs: BatchSignals) -> np.ndarray:
        """Inverse-vol weights scaled to the regime's volatility target on every path, (K, P, n)."""
        p = self.params
        w = super().batch_weights(bs)  # (K, P, n), rows sum to 1
        vol = portfolio_vol(bs, list(p.assets), w, int(p.window))  # (K, P), annualised
        target = np.full(bs.shape, float(p.default_target))
        for regime, x in p.targets.items():
            target[bs.regime_known & (bs.regime == regime)] = x
        cap = p.max_gross / np.maximum(np.abs(w).sum(axis=2), 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(np.isfinite(vol) & (vol > 0), target / vol, 1.0)
        return w * np.minimum(scale, cap)[..., None]


def portfolio_vol(bs: BatchSignals, assets: list[str], w: np.ndarray, window: int) -> np.ndarray:
    """Annualised sample std of ``Σ_i w_i r_i`` over the ``window`` daily returns ending at each decision, (K, P).

    ``w`` (K, P, n) are the weights set at each decision, applied to the trailing returns;
    an asset with no weight adds nothing (its missing returns included). NaN where a
    weighted asset lacks a return in the window.
    """
    rows = np.asarray(bs.rows)
    lo, hi = window_start(bs, window), int(rows.max()) + 1
    rets = np.stack([daily_returns(bs, a, lo, hi) for a in assets], axis=2)  # (L, P, n)
    out = np.full(bs.shape, np.nan)
    for k, r in enumerate(rows - lo):
        if r - window + 1 < 0:
            continue
        x = rets[r - window + 1:r + 1]  # (window, P, n)
        wk = w[k][None]  # (1, P, n)
        port = np.where(wk == 0, 0.0, x * wk).sum(axis=2)  # (window, P)
        # one contiguous row per path: the same summation whatever the number of paths
        out[k] = np.std(np.ascontiguousarray(port.T), axis=1, ddof=1) * np.sqrt(TRADING_DAYS)
    return out


__all__ = ["VolTargetRP", "VolTargetRPParams", "portfolio_vol"]
