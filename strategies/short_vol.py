"""Short volatility (article trade 1): short VIX futures exposure when liquidity is expanding.

The sleeve is long SVXY (``instrument: svxy``) or short VIXY (``short_vixy``, pays the
engine's borrow fee), sized by volatility targeting on the instrument's trailing realised
volatility, and only held when

* the regime is one of ``regimes`` (default rmp, qe: the article's claim is that
  liquidity-driven volatility falls once QT is over),
* the VIX futures curve is in contango: on when ``vix_term < term_enter`` and held while
  ``vix_term < term_exit`` (off in backwardation, ``vix_term >= 1``),
* there is no VIX spike: VIX above ``spike_level`` or up more than ``spike_change`` over
  ``spike_days`` trading days forces the sleeve to 0 at once (overriding ``min_hold_days``).

The rest stays in ``core`` (default 60/40, so the strategy reads as "60/40 + short vol").

Sizing in risk units. The sleeve is measured in -1x-VIX-futures-equivalent exposure, not in
notional: SVXY was -1x the short-term VIX futures index until 2018-02-27 and -0.5x from
2018-02-28 (``backtest/data/instruments.yaml``), so a 10 % sleeve is 10 % SVXY before and
20 % after, the same exposure (point in time: the leverage in force at the decision date).
The vol target is applied to the trailing volatility of the -1x-equivalent return (each
day's instrument return divided by that day's leverage), and ``max_notional`` still caps the
instrument's weight. Survivorship: XIV, the largest short-vol ETN, and other inverse-VIX
products terminated in February 2018 are not in the data.

The real history is not hidden: SVXY lost 83 % on 2018-02-06 (and switched from -1x to
-0.5x afterwards). Rules are checked at decision dates only, so with monthly rebalancing
and a one-day lag no gate can step aside from a one-day crash it did not foresee at the
previous month-end. With the default gate the sleeve was off in February 2018 because the
regime was QT; the ``short_vol_ungated`` run in ``configs/historical.yaml`` shows the hit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from backtest.instruments import leverage_at
from strategies.base import BatchSignals, Params, register
from strategies.history import cached, daily_returns, window_start
from strategies.regime_rules import CompiledToRules, RulesBacked
from strategies.rules_engine import CASH_KEYWORD
from strategies.rules_kernels import trailing_vol


class ShortVolRule(Params):
    """Instrument, gate and de-risking of the short-vol sleeve (shared with ``rmp_playbook``)."""

    instrument: Literal["svxy", "short_vixy"] = Field("svxy", description="long SVXY or short VIXY")
    regimes: list[str] = Field(default_factory=lambda: ["rmp", "qe"], description="regimes where the sleeve may be on")
    term_enter: float = Field(0.95, gt=0, le=10, description="switch on when VIX/VIX3M is below this (contango)")
    term_exit: float = Field(1.0, gt=0, le=10, description="switch off when VIX/VIX3M reaches this (backwardation)")
    spike_level: float = Field(30.0, gt=0, le=200, description="VIX level that forces the sleeve off")
    spike_change: float = Field(0.30, gt=0, le=100, description="VIX rise over spike_days that forces it off (0.30 = +30 %)")
    spike_days: int = Field(5, ge=1, le=63, description="trading days of the VIX rise")
    vol_window: int = Field(63, ge=5, le=756, description="trailing days of realised volatility")
    min_hold_days: int = Field(0, ge=0, le=2520, description="minimum holding time, trading days")
    fund_from: list[str] | None = Field(None, description="default: core assets (svxy) or cash (short_vixy)")


def instrument_of(rule: ShortVolRule) -> tuple[str, float]:
    """Ticker of the sleeve and the sign of its weight (+1 long SVXY, -1 short VIXY)."""
    return ("SVXY", 1.0) if rule.instrument == "svxy" else ("VIXY", -1.0)


@dataclass(frozen=True)
class ShortVolSizer:
    """Point-in-time size of the short-vol tilt in -1x-VIX-futures-equivalent units.

    At each decision date ``t`` with leverage ``L_t`` of the instrument (known at ``t``),
    the sleeve's exposure is ``e_t = min(max_weight, vol_target / vol_t)`` (``max_weight``
    without a vol target), ``vol_t`` the trailing annualised volatility of the
    -1x-equivalent daily return ``r_d / |L_d|``; the instrument's weight is
    ``sign * e_t / |L_t|``, i.e. the tilt's scale is ``e_t / (max_weight * |L_t|)`` (0
    before ``vol_window / 2`` returns).
    """

    tilt: str
    asset: str
    max_weight: float
    vol_target: float | None
    vol_window: int

    def __call__(self, names: list[str], active: np.ndarray, scale: np.ndarray, bs: BatchSignals) -> np.ndarray:
        """Replace the scale column of the tilt in ``scale`` (K, P, k) (``tilt_names`` give the columns)."""
        if self.tilt not in names:
            return scale
        lev = np.abs(leverage_at(self.asset, bs.dates))[:, None]
        if self.vol_target is None:
            s = np.broadcast_to(1.0 / lev, bs.shape)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                e = np.minimum(self.max_weight, self.vol_target / self.vol(bs))
            s = np.where(np.isfinite(e), e, 0.0) / (self.max_weight * lev)
        out = scale.copy()
        out[..., names.index(self.tilt)] = s
        return out

    def vol(self, bs: BatchSignals) -> np.ndarray:
        """Trailing annualised volatility of the -1x-equivalent daily return at each decision, (K, P).

        The leverage of each return day comes from ``bs.calendar`` when the batch has one
        (else the decision date's leverage is used for its whole window).
        """
        def compute() -> np.ndarray:
            lo, hi = window_start(bs, self.vol_window), int(np.max(bs.rows)) + 1
            r = daily_returns(bs, self.asset, lo, hi)
            cal = getattr(bs, "calendar", None)
            if cal is not None:
                r = r / np.abs(leverage_at(self.asset, pd.DatetimeIndex(cal[lo:hi])))[:, None]
                return trailing_vol(r, bs.rows - lo, self.vol_window)
            lev = np.abs(leverage_at(self.asset, bs.dates))[:, None]
            return trailing_vol(r, bs.rows - lo, self.vol_window) / lev

        return cached(bs, ("short_vol_vol", self.asset, self.vol_window), compute)


def short_vol_tilt(rule: ShortVolRule, max_weight: float, vol_target: float | None,
                   core: dict[str, float], name: str = "short_vol") -> dict[str, Any]:
    """The ``regime_rules`` tilt of the short-vol sleeve.

    The tilt's ``add`` is the sleeve at -1x leverage; :class:`ShortVolSizer` rescales it at
    each decision (vol target and leverage), so the tilt carries no ``vol_target`` here.

    Parameters
    ----------
    rule : ShortVolRule
    max_weight : float
        Largest sleeve exposure, -1x-VIX-futures-equivalent fraction of NAV.
    vol_target : float or None
        Annualised volatility budget of the sleeve (applied by :class:`ShortVolSizer`).
    core : dict
        Core weights (the default funding of a long SVXY sleeve).
    """
    asset, sign = instrument_of(rule)
    if rule.fund_from is not None:
        fund = list(rule.fund_from)
    elif sign > 0 and core:
        fund = list(core)
    else:
        fund = [CASH_KEYWORD]  # short proceeds (or, without a core, cash) fund the sleeve
    tilt: dict[str, Any] = {
        "name": name,
        "when": {"all": [
            {"regime": list(rule.regimes)},
            {"signal": "vix_term", "op": "<", "value": rule.term_enter, "exit": rule.term_exit},
        ]},
        "exit_when": {"any": [
            {"signal": "vix", "op": ">", "value": rule.spike_level},
            {"signal": "vix", "change": "pct", "lookback": rule.spike_days, "op": ">", "value": rule.spike_change},
            {"signal": "vix_term", "op": ">=", "value": rule.term_exit},
        ]},
        "add": {asset: sign * max_weight},
        "fund_from": fund,
        "min_hold_days": rule.min_hold_days,
    }
    return tilt


def short_vol_sizer(rule: ShortVolRule, max_weight: float, vol_target: float | None,
                    name: str = "short_vol") -> ShortVolSizer:
    """The :class:`ShortVolSizer` matching :func:`short_vol_tilt` (same ``name``)."""
    return ShortVolSizer(name, instrument_of(rule)[0], max_weight, vol_target, rule.vol_window)


class ShortVolParams(ShortVolRule, CompiledToRules):
    """Params of ``short_vol``."""

    core: dict[str, float] = Field(default_factory=lambda: {"SPY": 0.6, "IEF": 0.4},
                                   description="where the rest sits ({} = cash)")
    max_weight: float = Field(0.10, gt=0, le=1, description="largest sleeve, -1x-VIX-futures-equivalent")
    vol_target: float | None = Field(0.04, gt=0, le=10, description="annualised vol budget (0.04 = 0.10 at 40 % vol)")
    max_notional: float | None = Field(0.20, gt=0, le=1, description="cap on |instrument weight| (None: none)")

    @model_validator(mode="after")
    def _build(self) -> ShortVolParams:
        return self.keep_rules({
            "base": self.core,
            "tilts": [short_vol_tilt(self, self.max_weight, self.vol_target, self.core)],
            "caps": {} if self.max_notional is None else
                    {"max_weight_by_asset": {instrument_of(self)[0]: self.max_notional}},
        })


@register("short_vol", ShortVolParams)
class ShortVol(RulesBacked):
    """Short VIX futures (SVXY or short VIXY), vol-targeted, gated by regime, contango and spikes."""

    def __init__(self, name: str, params: ShortVolParams) -> None:
        super().__init__(name, params)
        install_sizers(self.impl, [short_vol_sizer(params, params.max_weight, params.vol_target)])


def install_sizers(impl: Any, sizers: list[Any]) -> None:
    """Set ``impl.size_hook`` (a :class:`~strategies.regime_rules.RegimeRules`) to apply ``sizers`` in order.

    Each sizer is called as ``sizer(tilt_names, active, scale, bs) -> scale`` on (K, P, k) arrays.
    """
    names = [t.name for t in impl.rules.tilts]
    if not sizers:
        return

    def hook(active: np.ndarray, scale: np.ndarray, bs: BatchSignals) -> np.ndarray:
        for sz in sizers:
            scale = sz(names, active, scale, bs)
        return scale

    impl.size_hook = hook
