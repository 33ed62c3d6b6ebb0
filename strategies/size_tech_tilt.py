"""Small caps and tech (article trade 3): tactical equity tilt, cut when inflation re-accelerates.

In the ``regimes`` (default rmp, qe) the strategy moves equity weight from SPY into small
caps (IWM: the most rate- and credit-sensitive equities, first to benefit from easier
funding) and tech (QQQ: long-duration growth), equity-neutral by default.

"Watch inflation data": the tilt is cut while inflation re-accelerates. It turns off (at
once, overriding any minimum holding time) when ``cpi_yoy_chg_3m`` (the 3-month change of
CPI year-on-year, in percentage points; it already carries CPI's mid-month publication lag)
exceeds ``inflation_cut`` (default 0.25 pp), and may return only once it has fallen back
to ``inflation_reenter`` (default 0: inflation no longer rising). A missing CPI reading
keeps the tilt off.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from strategies.base import Params, register
from strategies.regime_rules import CompiledToRules, RulesBacked


class SizeTechRule(Params):
    """Gate, inflation cut and funding of the size/tech tilt (shared with ``rmp_playbook``)."""

    regimes: list[str] = Field(default_factory=lambda: ["rmp", "qe"])
    inflation_signal: str = Field("cpi_yoy_chg_3m", description="signal measuring re-acceleration")
    inflation_cut: float = Field(0.25, description="cut the tilt when the signal is above this")
    inflation_reenter: float = Field(0.0, description="allow it back when the signal is at or below this")
    fund_from: list[str] = Field(default_factory=lambda: ["SPY"])
    min_hold_days: int = Field(0, ge=0, le=2520)


def size_tech_tilt(rule: SizeTechRule, add: dict[str, float], name: str = "size_tech") -> dict[str, Any] | None:
    """The ``regime_rules`` tilt (None when every size is 0)."""
    add = {a: w for a, w in add.items() if w != 0}
    if not add:
        return None
    reaccelerating = {"signal": rule.inflation_signal, "op": ">", "value": rule.inflation_cut,
                      "exit": rule.inflation_reenter}
    return {
        "name": name,
        "when": {"all": [{"regime": list(rule.regimes)}, {"not": reaccelerating}]},
        "exit_when": {"signal": rule.inflation_signal, "op": ">", "value": rule.inflation_cut},
        "add": add,
        "fund_from": list(rule.fund_from),
        "min_hold_days": rule.min_hold_days,
    }


class SizeTechParams(SizeTechRule, CompiledToRules):
    """Params of ``size_tech_tilt``."""

    core: dict[str, float] = Field(default_factory=lambda: {"SPY": 0.6, "IEF": 0.4})
    tilt: dict[str, float] = Field(default_factory=lambda: {"IWM": 0.10, "QQQ": 0.10},
                                   description="weights added in the regimes")

    @model_validator(mode="after")
    def _build(self) -> SizeTechParams:
        tilt = size_tech_tilt(self, self.tilt)
        return self.keep_rules({"base": self.core, "tilts": [tilt] if tilt else []})


@register("size_tech_tilt", SizeTechParams)
class SizeTechTilt(RulesBacked):
    """Overweight IWM and QQQ against SPY in rmp/qe, cut when inflation re-accelerates."""
