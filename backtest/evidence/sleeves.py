"""Named sleeves of a rules-based strategy (the playbook's four trades on its core).

A strategy built on :mod:`strategies.regime_rules` (``rmp_playbook`` and the single-trade
kinds) has a base allocation and named tilts. Each held asset is given to one sleeve:

* the base assets (``SPY``, ``IEF`` for the playbook) to ``core``, even where a tilt is
  funded from them (the funding shows as a smaller core);
* every other asset to the first tilt that adds it (its ``add`` or ``sweep`` target);
  tilts whose name extends an earlier one (``steepener_hedge``, ``steepener_no_idle_cash``)
  belong to that sleeve (``steepener``);
* assets no rule names (an optimizer's moves) to ``other``; ``CASH`` to ``cash``.
"""

from __future__ import annotations

from typing import Any

from backtest.constants import CASH
from strategies.regime_rules import RegimeRulesParams
from strategies.rules_engine import CASH_KEYWORD

CORE, OTHER, CASH_SLEEVE = "core", "other", "cash"


def rules_of(strategy: Any) -> RegimeRulesParams | None:
    """The ``regime_rules`` params behind a built strategy, or None."""
    params = getattr(strategy, "params", None)
    if isinstance(params, RegimeRulesParams):
        return params
    rp = getattr(params, "rules_params", None)
    return rp if isinstance(rp, RegimeRulesParams) else None


def sleeve_map(strategy: Any) -> dict[str, str] | None:
    """Asset -> sleeve of a rules-based strategy with tilts (see the module docstring); None otherwise."""
    rp = rules_of(strategy)
    if rp is None or not rp.tilts:
        return None
    out: dict[str, str] = {a: CORE for a in rp.base if a.lower() != CASH_KEYWORD}
    sleeves: list[str] = []
    for t in rp.tilts:
        name = next((s for s in sleeves if t.name.startswith(s + "_")), t.name)
        if name not in sleeves:
            sleeves.append(name)
        assets = list((t.add or {}).keys()) + (list(t.sweep.to) if t.sweep is not None else [])
        for a in assets:
            if a.lower() != CASH_KEYWORD:
                out.setdefault(a, name)
    return out


def sleeve_of(asset: str, mapping: dict[str, str]) -> str:
    """Sleeve of one held asset (``cash`` for the cash asset, ``other`` when unnamed)."""
    if asset == CASH:
        return CASH_SLEEVE
    return mapping.get(asset, OTHER)
