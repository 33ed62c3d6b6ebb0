"""Curve steepener (article trade 4): "do not sit in cash or bills; use steepeners".

A DV01-neutral steepener is long the short end (``long_leg``, SHY) and short the long end
(``short_leg``, TLT or IEF) with

    short notional(t) = long notional x D_long_leg(t) / D_short_leg(t)

recomputed at every decision from the curve known at that close (``durations: curve``,
the default): each ETF's modified duration is that of a par bond at its representative
maturity (SHY 1.9 y, IEF 8.5 y, TLT 25 y) priced at the yield interpolated from
DGS3MO/DGS2/DGS10/DGS30 (:mod:`backtest.instruments`; without DGS30 the long end is flat at
DGS10; the ``durations`` param is the fallback where no yield is known, and the whole
story with ``duration_source: fixed``). A parallel move of the curve then leaves the
position flat and it earns when the curve steepens. The engine charges the borrow fee on
the short leg. Bill purchases anchor the front end, so the rmp/qe regimes are the gate.

The "do not sit in cash or bills" rule (``sweep_idle``) then moves whatever is left in
cash and bills (``idle``) into short-duration carry (``carry``, SHY), in the same regimes.
The sweep never borrows and is kept out of the hedge ratio: it is a carry position with
its own (small) duration, not part of the DV01-neutral pair.

As rules: tilt ``steepener`` adds the long leg, tilt ``steepener_hedge`` the short leg at
the fixed-duration hedge ratio, and :class:`HedgeSizer` rescales the hedge tilt at each
decision to the point-in-time ratio.

Default: a bills holder (core ``{BIL: 1.0}``) who, in rmp/qe, buys 100 % SHY against
about -10 % TLT (funded from the bills), then sweeps the remaining bills into SHY.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from backtest.instruments import CURVE_NODES, durations_at
from strategies.base import Params, Unsupported, register
from strategies.history import cached
from strategies.regime_rules import CompiledToRules, RulesBacked
from strategies.rules_engine import CASH_KEYWORD
from strategies.short_vol import install_sizers

DURATIONS = {"BIL": 0.1, "SHV": 0.3, "SHY": 1.9, "IEF": 7.5, "TLT": 16.5}


class SteepenerRule(Params):
    """Legs, durations, gate and idle-cash sweep (shared with ``rmp_playbook``)."""

    regimes: list[str] = Field(default_factory=lambda: ["rmp", "qe"])
    long_leg: str = Field("SHY", description="short-maturity ETF held long")
    short_leg: str = Field("TLT", description="long-maturity ETF held short (TLT or IEF)")
    durations: dict[str, float] = Field(default_factory=lambda: dict(DURATIONS),
                                        description="fixed modified duration per ETF, years (fallback)")
    duration_source: Literal["curve", "fixed"] = Field(
        "curve", description="curve: point-in-time durations from the yields; fixed: the durations param")
    fund_from: list[str] | None = Field(None, description="funding of the net long; default per kind")
    sweep_idle: bool = Field(True, description="move idle cash/bills into carry in the same regimes")
    idle: list[str] = Field(default_factory=lambda: [CASH_KEYWORD, "BIL"], description="what counts as idle")
    carry: str = Field("SHY", description="where idle cash goes")
    min_hold_days: int = Field(0, ge=0, le=2520)

    @model_validator(mode="after")
    def _legs(self) -> SteepenerRule:
        for leg in (self.long_leg, self.short_leg):
            if leg not in self.durations:
                raise ValueError(f"durations: no duration for {leg!r}")
        if self.long_leg == self.short_leg:
            raise ValueError("long_leg and short_leg must differ")
        if not 0 < self.durations[self.long_leg] < self.durations[self.short_leg]:
            raise ValueError("durations: the long leg must be shorter (and > 0) than the short leg")
        return self

    @property
    def hedge_ratio(self) -> float:
        """Short notional per unit of long notional at the fixed durations, ``D_long_leg / D_short_leg``."""
        return self.durations[self.long_leg] / self.durations[self.short_leg]


@dataclass(frozen=True)
class HedgeSizer:
    """Rescale the ``{name}_hedge`` tilt to the point-in-time DV01-neutral ratio.

    The tilt adds ``-notional * h0`` of the short leg (``h0`` the fixed-duration ratio); its
    scale becomes ``h(t) / h0``, so the short leg is ``-notional * h(t)``.
    """

    tilt: str
    rule: SteepenerRule

    def __call__(self, names: list[str], active: np.ndarray, scale: np.ndarray, bs: Any) -> np.ndarray:
        """Replace the scale column of the hedge tilt in ``scale`` (K, P, k) by ``h(t) / h0``."""
        if self.tilt not in names:
            return scale
        out = scale.copy()
        out[..., names.index(self.tilt)] = self.hedge_ratios(bs) / self.rule.hedge_ratio
        return out

    def hedge_ratios(self, bs: Any) -> np.ndarray:
        """Point-in-time hedge ratio ``D_long_leg(t) / D_short_leg(t)`` at each decision of each path, (K, P).

        Durations from the curve known at each date (``duration_source: curve``; the batch's
        ``yields(name)``, (K, P) per curve node), the fixed ``durations`` where no yield is
        known yet (or with ``duration_source: fixed``).

        Raises
        ------
        Unsupported
            The batch has no yields.
        """
        r = self.rule
        get = getattr(bs, "yields", None)
        if get is None and r.duration_source == "curve":
            raise Unsupported("steepener durations need the yields of each path")

        def compute() -> np.ndarray:
            k_n, p_n = bs.shape
            legs = [r.long_leg, r.short_leg]
            D = np.tile(np.array([r.durations[a] for a in legs]), (k_n * p_n, 1))
            if r.duration_source == "curve":
                nodes = {c: y.reshape(-1) for c in CURVE_NODES if (y := get(c)) is not None}
                if nodes:
                    yl = pd.DataFrame(nodes)
                    known = yl.notna().any(axis=1).to_numpy()
                    D[known] = durations_at(legs, yl).to_numpy()[known]
            return (D[:, 0] / D[:, 1]).reshape(k_n, p_n)

        key = ("steepener_hedge", r.long_leg, r.short_leg, tuple(sorted(r.durations.items())), r.duration_source)
        return cached(bs, key, compute)


def steepener_sizer(rule: SteepenerRule, name: str = "steepener") -> HedgeSizer:
    """The :class:`HedgeSizer` of the tilts :func:`steepener_tilts` builds under ``name``."""
    return HedgeSizer(f"{name}_hedge", rule)


def steepener_tilts(rule: SteepenerRule, notional: float, held: list[str], fund_from: list[str],
                    name: str = "steepener") -> list[dict[str, Any]]:
    """The DV01-neutral steepener tilts (long leg, then hedge) and the idle-cash sweep.

    Parameters
    ----------
    notional : float
        Long-leg notional, fraction of NAV (0: no steepener, only the sweep).
    held : list of str
        Assets of the base (bills not held are not swept).
    fund_from : list of str
        Funding of the long leg; the short leg's proceeds return to it.
    """
    when = {"regime": list(rule.regimes)}
    tilts: list[dict[str, Any]] = []
    if notional > 0:
        for tname, add in ((name, {rule.long_leg: notional}),
                           (f"{name}_hedge", {rule.short_leg: -notional * rule.hedge_ratio})):
            tilts.append({"name": tname, "when": when, "add": add, "fund_from": list(fund_from),
                          "min_hold_days": rule.min_hold_days})
    idle = [a for a in rule.idle if a.lower() == CASH_KEYWORD or a in held]
    if rule.sweep_idle and idle:
        tilts.append({"name": f"{name}_no_idle_cash", "when": when,
                      "sweep": {"from": idle, "to": {rule.carry: 1.0}}})
    return tilts


class SteepenerParams(SteepenerRule, CompiledToRules):
    """Params of ``steepener``."""

    core: dict[str, float] = Field(default_factory=lambda: {"BIL": 1.0}, description="holding when off")
    notional: float = Field(1.0, ge=0, le=3, description="long-leg notional, fraction of NAV")

    @model_validator(mode="after")
    def _build(self) -> SteepenerParams:
        fund = self.fund_from if self.fund_from is not None else [*[a for a in self.idle if a in self.core], CASH_KEYWORD]
        return self.keep_rules({
            "base": self.core,
            "tilts": steepener_tilts(self, self.notional, list(self.core), fund),
        })


@register("steepener", SteepenerParams)
class Steepener(RulesBacked):
    """DV01-neutral SHY/TLT steepener in rmp/qe, idle cash and bills swept into SHY."""

    def __init__(self, name: str, params: SteepenerParams) -> None:
        super().__init__(name, params)
        install_sizers(self.impl, [steepener_sizer(params)])
