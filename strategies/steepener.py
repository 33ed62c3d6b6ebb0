"""Curve steepener (article trade 4): "do not sit in cash or bills; use steepeners".

A DV01-neutral steepener is long the short end (``long_leg``, SHY) and short the long end
(``short_leg``, TLT or IEF) with

    short notional = long notional x D_long_leg / D_short_leg

(durations as params: SHY 1.9, IEF 7.5, TLT 16.5 years), so a parallel move of the curve
leaves it flat and it earns when the curve steepens. The engine charges the borrow fee on
the short leg. Bill purchases anchor the front end, so the rmp/qe regimes are the gate.

The "do not sit in cash or bills" rule (``sweep_idle``) then moves whatever is left in
cash and bills (``idle``) into short-duration carry (``carry``, SHY), in the same regimes.
The sweep never borrows.

Default: a bills holder (core ``{BIL: 1.0}``) who, in rmp/qe, buys 100 % SHY against
-11.5 % TLT (funded from the bills), then sweeps the remaining bills into SHY.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from strategies.base import Params, register
from strategies.regime_rules import RegimeRulesParams, RulesBacked, rules_params
from strategies.rules_engine import CASH_KEYWORD

DURATIONS = {"BIL": 0.1, "SHV": 0.3, "SHY": 1.9, "IEF": 7.5, "TLT": 16.5}


class SteepenerRule(Params):
    """Legs, durations, gate and idle-cash sweep (shared with ``rmp_playbook``)."""

    regimes: list[str] = Field(default_factory=lambda: ["rmp", "qe"])
    long_leg: str = Field("SHY", description="short-maturity ETF held long")
    short_leg: str = Field("TLT", description="long-maturity ETF held short (TLT or IEF)")
    durations: dict[str, float] = Field(default_factory=lambda: dict(DURATIONS),
                                        description="modified duration per ETF, years")
    fund_from: list[str] | None = Field(None, description="funding of the net long; default per kind")
    sweep_idle: bool = Field(True, description="move idle cash/bills into carry in the same regimes")
    idle: list[str] = Field(default_factory=lambda: [CASH_KEYWORD, "BIL"], description="what counts as idle")
    carry: str = Field("SHY", description="where idle cash goes")
    min_hold_days: int = Field(0, ge=0)

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
        """Short notional per unit of long notional, ``D_long_leg / D_short_leg``."""
        return self.durations[self.long_leg] / self.durations[self.short_leg]


def steepener_tilts(rule: SteepenerRule, notional: float, held: list[str], fund_from: list[str],
                    name: str = "steepener") -> list[dict[str, Any]]:
    """The DV01-neutral steepener tilt and the idle-cash sweep.

    Parameters
    ----------
    notional : float
        Long-leg notional, fraction of NAV (0: no steepener, only the sweep).
    held : list of str
        Assets of the base (bills not held are not swept).
    fund_from : list of str
        Funding of the net cost ``notional * (1 - hedge_ratio)``.
    """
    when = {"regime": list(rule.regimes)}
    tilts: list[dict[str, Any]] = []
    if notional > 0:
        tilts.append({
            "name": name,
            "when": when,
            "add": {rule.long_leg: notional, rule.short_leg: -notional * rule.hedge_ratio},
            "fund_from": list(fund_from),
            "min_hold_days": rule.min_hold_days,
        })
    idle = [a for a in rule.idle if a.lower() == CASH_KEYWORD or a in held]
    if rule.sweep_idle and idle:
        tilts.append({"name": f"{name}_no_idle_cash", "when": when,
                      "sweep": {"from": idle, "to": {rule.carry: 1.0}}})
    return tilts


class SteepenerParams(SteepenerRule):
    """Params of ``steepener``."""

    core: dict[str, float] = Field(default_factory=lambda: {"BIL": 1.0}, description="holding when off")
    notional: float = Field(1.0, ge=0, le=3, description="long-leg notional, fraction of NAV")

    _rules: RegimeRulesParams | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _build(self) -> SteepenerParams:
        fund = self.fund_from if self.fund_from is not None else [*[a for a in self.idle if a in self.core], CASH_KEYWORD]
        self._rules = rules_params({
            "base": self.core,
            "tilts": steepener_tilts(self, self.notional, list(self.core), fund),
        })
        return self

    @property
    def rules_params(self) -> RegimeRulesParams:
        """The equivalent ``regime_rules`` params."""
        assert self._rules is not None
        return self._rules


@register("steepener", SteepenerParams)
class Steepener(RulesBacked):
    """DV01-neutral SHY/TLT steepener in rmp/qe, idle cash and bills swept into SHY."""
