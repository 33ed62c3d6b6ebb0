"""Real assets (article trade 2): the fiscal-dominance hedge in liquidity-expansion regimes.

"Treasury issues bills, Fed buys bills" reads as quasi debt monetisation: the article's
hedge is gold and real assets. In the ``regimes`` (default rmp, qe) the strategy
overweights gold (GLD), broad commodities (DBC), TIPS (TIP) and REITs (VNQ), funded from
nominal bonds and cash (``fund_from``, pro rata to their core weight; cash is used only
when the bonds are exhausted and never borrowed with the default floors).

Default tilt: GLD +8 %, DBC +4 %, TIP +4 %, VNQ +4 % (20 % of NAV, gold the largest as the
article's main hedge), on a 60/40 core; not fitted to any backtest.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from strategies.base import Params, register
from strategies.regime_rules import CompiledToRules, RulesBacked
from strategies.rules_engine import CASH_KEYWORD


class RealAssetsRule(Params):
    """Gate and funding of the real-assets tilt (shared with ``rmp_playbook``)."""

    regimes: list[str] = Field(default_factory=lambda: ["rmp", "qe"])
    fund_from: list[str] = Field(default_factory=lambda: ["IEF", CASH_KEYWORD], description="nominal bonds and cash")
    min_hold_days: int = Field(0, ge=0, le=2520)


def real_assets_tilt(rule: RealAssetsRule, add: dict[str, float], name: str = "real_assets") -> dict[str, Any] | None:
    """The ``regime_rules`` tilt (None when every size is 0)."""
    add = {a: w for a, w in add.items() if w != 0}
    if not add:
        return None
    return {"name": name, "when": {"regime": list(rule.regimes)}, "add": add,
            "fund_from": list(rule.fund_from), "min_hold_days": rule.min_hold_days}


class RealAssetsParams(RealAssetsRule, CompiledToRules):
    """Params of ``real_assets``."""

    core: dict[str, float] = Field(default_factory=lambda: {"SPY": 0.6, "IEF": 0.4})
    tilt: dict[str, float] = Field(
        default_factory=lambda: {"GLD": 0.08, "DBC": 0.04, "TIP": 0.04, "VNQ": 0.04},
        description="weights added in the regimes")

    @model_validator(mode="after")
    def _build(self) -> RealAssetsParams:
        tilt = real_assets_tilt(self, self.tilt)
        return self.keep_rules({"base": self.core, "tilts": [tilt] if tilt else []})


@register("real_assets", RealAssetsParams)
class RealAssets(RulesBacked):
    """Overweight gold, commodities, TIPS and REITs in rmp/qe, funded from nominal bonds and cash."""
