"""The article's full recommendation as one ``regime_rules`` configuration (kind ``rmp_playbook``).

On a strategic core (60/40 by default) the four trades are switched on by the regime
(rmp, and qe: the other liquidity-expansion regime), each with its own gate:

1. short volatility (SVXY, vol-targeted, contango gate, spike exit), funded from SPY;
2. real assets (GLD, DBC, TIP, VNQ), funded from nominal bonds (IEF) then cash;
3. small caps and tech (IWM, QQQ) against SPY, cut when inflation re-accelerates;
4. a DV01-neutral SHY/TLT steepener financed at the cash rate (an overlay, as a futures
   steepener would be; ``cash_floor`` bounds the borrowing), plus the idle-cash sweep.

Tilt sizes per scenario (fractions of NAV; steepener = long-leg notional). They follow the
article's scenario descriptions (``docs/strategies.md`` gives the reasoning per cell),
they are not fitted:

========  =========  ==========================  ================  =========
variant   short vol  GLD / DBC / TIP / VNQ       IWM / QQQ         steepener
========  =========  ==========================  ================  =========
A (40 %)  0.08       0.03 / 0    / 0.02 / 0.03   0.05 / 0.05       0.20
B (35 %)  0.05       0.08 / 0.08 / 0.06 / 0.02   0.08 / 0.08       0.15
C (25 %)  0          0.08 / 0    / 0.03 / 0      0    / 0          0.30
base      probability-weighted mix of A, B and C (0.40 A + 0.35 B + 0.25 C)
========  =========  ==========================  ================  =========

The short-vol size is the -1x-VIX-futures-equivalent exposure at ``short_vol_ref_vol``
(40 %) realised volatility; the sleeve shrinks above it (vol target = size x ref vol), and
the SVXY weight is that exposure over SVXY's leverage at the decision date (x2 from
2018-02-28; :class:`strategies.short_vol.ShortVolSizer`), within the short-vol group cap.
The steepener's short leg is recomputed at each decision from the curve
(:class:`strategies.steepener.HedgeSizer`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from strategies.base import Params, register
from strategies.real_assets import RealAssetsRule, real_assets_tilt
from strategies.regime_rules import Caps, CompiledToRules, GroupCap, RulesBacked
from strategies.rules_engine import CASH_KEYWORD
from strategies.short_vol import ShortVolRule, install_sizers, short_vol_sizer, short_vol_tilt
from strategies.size_tech_tilt import SizeTechRule, size_tech_tilt
from strategies.steepener import SteepenerRule, steepener_sizer, steepener_tilts


class PlaybookSizes(Params):
    """Tilt sizes of the four trades (fractions of NAV)."""

    short_vol: float = Field(0.0, ge=0, le=1, description="short-vol weight at the reference vol")
    real_assets: dict[str, float] = Field(default_factory=dict, description="asset -> weight added")
    size_tech: dict[str, float] = Field(default_factory=dict, description="asset -> weight added")
    steepener: float = Field(0.0, ge=0, le=3, description="long-leg notional of the steepener")


class SizeOverrides(Params):
    """Optional overrides of the variant's sizes (dicts are merged per asset)."""

    short_vol: float | None = Field(None, ge=0, le=1)
    real_assets: dict[str, float] = Field(default_factory=dict, description="asset -> weight added, each 0..1")
    size_tech: dict[str, float] = Field(default_factory=dict, description="asset -> weight added, each 0..1")
    steepener: float | None = Field(None, ge=0, le=3)

    @field_validator("real_assets", "size_tech")
    @classmethod
    def _sizes(cls, v: dict[str, float]) -> dict[str, float]:
        for asset, w in v.items():
            if not 0.0 <= w <= 1.0:
                raise ValueError(f"{asset}: size {w:g} is outside 0..1 (a fraction of NAV added by the tilt)")
        return v


SCENARIOS: dict[str, PlaybookSizes] = {
    # A. soft landing: vol falls, curve normalises (steepens), equities up moderately, USD flat
    "A": PlaybookSizes(short_vol=0.08, real_assets={"GLD": 0.03, "DBC": 0.0, "TIP": 0.02, "VNQ": 0.03},
                       size_tech={"IWM": 0.05, "QQQ": 0.05}, steepener=0.20),
    # B. liquidity flood / reflation: melt-up, commodities surge, inflation expectations de-anchor
    "B": PlaybookSizes(short_vol=0.05, real_assets={"GLD": 0.08, "DBC": 0.08, "TIP": 0.06, "VNQ": 0.02},
                       size_tech={"IWM": 0.08, "QQQ": 0.08}, steepener=0.15),
    # C. policy error / liquidity shock: repo stress, equity drawdown, emergency Fed rescue
    "C": PlaybookSizes(short_vol=0.0, real_assets={"GLD": 0.08, "DBC": 0.0, "TIP": 0.03, "VNQ": 0.0},
                       size_tech={"IWM": 0.0, "QQQ": 0.0}, steepener=0.30),
}
PROBABILITIES: dict[str, float] = {"A": 0.40, "B": 0.35, "C": 0.25}


def mix(probs: dict[str, float]) -> PlaybookSizes:
    """Probability-weighted sizes of the scenario variants (rounded to 1e-4)."""
    total = sum(probs.values())
    w = {k: v / total for k, v in probs.items()}

    def avg(key: str) -> dict[str, float]:
        assets = dict.fromkeys(a for s in SCENARIOS.values() for a in getattr(s, key))
        return {a: round(sum(w[k] * getattr(SCENARIOS[k], key).get(a, 0.0) for k in w), 4) for a in assets}

    return PlaybookSizes(
        short_vol=round(sum(w[k] * SCENARIOS[k].short_vol for k in w), 4),
        real_assets=avg("real_assets"),
        size_tech=avg("size_tech"),
        steepener=round(sum(w[k] * SCENARIOS[k].steepener for k in w), 4),
    )


_MIXES: dict[tuple[tuple[str, float], ...], PlaybookSizes] = {}


def _base_sizes() -> PlaybookSizes:
    """``mix(PROBABILITIES)``, computed once per content of :data:`PROBABILITIES` (shared, read-only)."""
    key = tuple(PROBABILITIES.items())
    if key not in _MIXES:
        _MIXES[key] = mix(dict(key))
    return _MIXES[key]


def variant_sizes(variant: str, overrides: SizeOverrides | None = None) -> PlaybookSizes:
    """Sizes of ``variant`` (``base`` = the probability mix) with ``overrides`` applied."""
    sizes = _base_sizes() if variant == "base" else SCENARIOS[variant]
    if overrides is None:
        return sizes
    return PlaybookSizes(
        short_vol=sizes.short_vol if overrides.short_vol is None else overrides.short_vol,
        real_assets={**sizes.real_assets, **overrides.real_assets},
        size_tech={**sizes.size_tech, **overrides.size_tech},
        steepener=sizes.steepener if overrides.steepener is None else overrides.steepener,
    )


def _default_caps() -> Caps:
    return Caps(groups={"short_vol": GroupCap(assets=["SVXY"], max=0.10)}, max_gross=1.6)


class PlaybookParams(CompiledToRules):
    """Params of ``rmp_playbook``."""

    variant: Literal["base", "A", "B", "C"] = Field("base", description="scenario sizes (base = mix)")
    core: dict[str, float] = Field(default_factory=lambda: {"SPY": 0.6, "IEF": 0.4})
    overrides: SizeOverrides = Field(default_factory=SizeOverrides)
    short_vol: ShortVolRule = Field(default_factory=ShortVolRule)
    short_vol_ref_vol: float | None = Field(0.40, gt=0, le=10, description="vol target = size x this (None: fixed)")
    real_assets: RealAssetsRule = Field(default_factory=RealAssetsRule)
    size_tech: SizeTechRule = Field(default_factory=SizeTechRule)
    steepener: SteepenerRule = Field(default_factory=SteepenerRule)
    cash_floor: float = Field(-0.30, le=0, description="most cash may go negative (steepener financing)")
    caps: Caps | None = Field(None, description="default: short-vol group <= 0.10, gross <= 1.6")
    optimizer: dict[str, Any] | None = Field(None, description="optional optimizer around the rule weights")

    @model_validator(mode="after")
    def _build(self) -> PlaybookParams:
        return self.keep_rules(self.rules_spec())

    def rules_spec(self) -> dict[str, Any]:
        """The equivalent ``regime_rules`` params mapping (printable, reusable as YAML)."""
        s = variant_sizes(self.variant, self.overrides)
        tilts: list[dict[str, Any]] = []
        if s.short_vol > 0:
            rule = self.short_vol
            if rule.fund_from is None and rule.instrument == "svxy" and "SPY" in self.core:
                rule = rule.model_copy(update={"fund_from": ["SPY"]})  # equity risk for short-vol risk
            vt = None if self.short_vol_ref_vol is None else s.short_vol * self.short_vol_ref_vol
            tilts.append(short_vol_tilt(rule, s.short_vol, vt, self.core))
        for t in (real_assets_tilt(self.real_assets, s.real_assets), size_tech_tilt(self.size_tech, s.size_tech)):
            if t is not None:
                tilts.append(t)
        fund = self.steepener.fund_from if self.steepener.fund_from is not None else [CASH_KEYWORD]
        tilts.extend(steepener_tilts(self.steepener, s.steepener, list(self.core), fund))
        caps = self.caps if self.caps is not None else _default_caps()
        if self.short_vol.instrument == "short_vixy" and self.caps is None:
            caps = Caps(groups={"short_vol": GroupCap(assets=["VIXY"], max=0.10)}, max_gross=1.6)
        if s.short_vol == 0:
            caps = caps.model_copy(update={"groups": {g: c for g, c in caps.groups.items()
                                                      if not set(c.assets) & {"SVXY", "VIXY"}}})
        spec: dict[str, Any] = {
            "base": self.core,
            "floors": {CASH_KEYWORD: self.cash_floor},
            "tilts": tilts,
            "caps": caps.model_dump(),
        }
        if self.optimizer is not None:
            spec["optimizer"] = self.optimizer
        return spec

    def sizers(self) -> list[Any]:
        """Point-in-time sizers of the short-vol and steepener tilts (see the module docstring)."""
        s = variant_sizes(self.variant, self.overrides)
        out: list[Any] = []
        if s.short_vol > 0:
            vt = None if self.short_vol_ref_vol is None else s.short_vol * self.short_vol_ref_vol
            out.append(short_vol_sizer(self.short_vol, s.short_vol, vt))
        if s.steepener > 0:
            out.append(steepener_sizer(self.steepener))
        return out


@register("rmp_playbook", PlaybookParams)
class RmpPlaybook(RulesBacked):
    """The article's four trades on a 60/40 core, switched on in rmp/qe; variants per scenario."""

    def __init__(self, name: str, params: PlaybookParams) -> None:
        super().__init__(name, params)
        install_sizers(self.impl, params.sizers())
