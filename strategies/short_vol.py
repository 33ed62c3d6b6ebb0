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

The real history is not hidden: SVXY lost 83 % on 2018-02-06 (and switched from -1x to
-0.5x afterwards). Rules are checked at decision dates only, so with monthly rebalancing
and a one-day lag no gate can step aside from a one-day crash it did not foresee at the
previous month-end. With the default gate the sleeve was off in February 2018 because the
regime was QT; the ``short_vol_ungated`` run in ``configs/historical.yaml`` shows the hit.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from strategies.base import Params, register
from strategies.regime_rules import RegimeRulesParams, RulesBacked, rules_params
from strategies.rules_engine import CASH_KEYWORD


class ShortVolRule(Params):
    """Instrument, gate and de-risking of the short-vol sleeve (shared with ``rmp_playbook``)."""

    instrument: Literal["svxy", "short_vixy"] = Field("svxy", description="long SVXY or short VIXY")
    regimes: list[str] = Field(default_factory=lambda: ["rmp", "qe"], description="regimes where the sleeve may be on")
    term_enter: float = Field(0.95, gt=0, description="switch on when VIX/VIX3M is below this (contango)")
    term_exit: float = Field(1.0, gt=0, description="switch off when VIX/VIX3M reaches this (backwardation)")
    spike_level: float = Field(30.0, gt=0, description="VIX level that forces the sleeve off")
    spike_change: float = Field(0.30, gt=0, description="VIX rise over spike_days that forces it off (0.30 = +30 %)")
    spike_days: int = Field(5, ge=1, le=63, description="trading days of the VIX rise")
    vol_window: int = Field(63, ge=5, le=756, description="trailing days of realised volatility")
    min_hold_days: int = Field(0, ge=0, description="minimum holding time, trading days")
    fund_from: list[str] | None = Field(None, description="default: core assets (svxy) or cash (short_vixy)")


def short_vol_tilt(rule: ShortVolRule, max_weight: float, vol_target: float | None,
                   core: dict[str, float], name: str = "short_vol") -> dict[str, Any]:
    """The ``regime_rules`` tilt of the short-vol sleeve.

    Parameters
    ----------
    rule : ShortVolRule
    max_weight : float
        Largest |weight| of the instrument (fraction of NAV).
    vol_target : float or None
        Annualised volatility budget of the sleeve; None = always ``max_weight``.
    core : dict
        Core weights (the default funding of a long SVXY sleeve).
    """
    asset, sign = ("SVXY", 1.0) if rule.instrument == "svxy" else ("VIXY", -1.0)
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
    if vol_target is not None:
        tilt["vol_target"] = {"target": vol_target, "window": rule.vol_window}
    return tilt


class ShortVolParams(ShortVolRule):
    """Params of ``short_vol``."""

    core: dict[str, float] = Field(default_factory=lambda: {"SPY": 0.6, "IEF": 0.4},
                                   description="where the rest sits ({} = cash)")
    max_weight: float = Field(0.10, gt=0, le=1, description="largest |weight| of the instrument")
    vol_target: float | None = Field(0.04, gt=0, description="annualised vol budget (0.04 = 0.10 at 40 % vol)")

    _rules: RegimeRulesParams | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _build(self) -> ShortVolParams:
        self._rules = rules_params({
            "base": self.core,
            "tilts": [short_vol_tilt(self, self.max_weight, self.vol_target, self.core)],
        })
        return self

    @property
    def rules_params(self) -> RegimeRulesParams:
        """The equivalent ``regime_rules`` params."""
        assert self._rules is not None
        return self._rules


@register("short_vol", ShortVolParams)
class ShortVol(RulesBacked):
    """Short VIX futures (SVXY or short VIXY), vol-targeted, gated by regime, contango and spikes."""
