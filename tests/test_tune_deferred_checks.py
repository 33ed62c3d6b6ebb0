"""The tuner's batched funding check: the same verdicts and errors as one variant at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config import config_from_dict
from backtest.data.base import MacroSeries, MarketData
from backtest.errors import SweepError
from backtest.tune.orchestrate import TuneRequest, run_tune
from strategies.deferred import defer_check, deferred_checks
from strategies.regime_rules import RegimeRulesParams
from strategies.rules_kernels import check_funding, first_unfunded

TICKERS = ("SPY", "IEF", "GLD", "TIP", "TLT")
TILTS = "strategies.rules.params.tilts"


def rules_params(gold: float, tips: float, floor: float = 0.0) -> dict:
    """Two add-tilts funded from IEF (0.4 held, ``floor`` kept): feasible iff gold + tips <= 0.4 - floor."""
    return {
        "base": {"SPY": 0.6, "IEF": 0.4},
        "floors": {"IEF": floor},
        "tilts": [
            {"name": "tips", "when": {"regime": ["qe"]}, "add": {"TIP": tips}, "fund_from": ["IEF"]},
            {"name": "gold", "when": {"regime": ["rmp", "qe"]}, "add": {"GLD": gold}, "fund_from": ["IEF"]},
        ],
    }


def test_checks_run_at_once_outside_a_deferral_block():
    assert defer_check(object(), lambda items: 0) is False
    with pytest.raises(ValueError, match="impossible funding"):
        RegimeRulesParams.model_validate(rules_params(0.3, 0.2))


def test_first_unfunded_agrees_with_one_rule_set_at_a_time():
    rng = np.random.default_rng(4)
    sizes = rng.choice(np.arange(0.05, 0.45, 0.05), size=(60, 2)).round(2)
    floors = rng.choice([0.0, 0.1], size=60)
    with deferred_checks() as deferred:
        built = [RegimeRulesParams.model_validate(rules_params(g, t, f)).rules
                 for (g, t), f in zip(sizes, floors, strict=True)]
    assert len(deferred) == 60 and deferred.items == built  # nothing was checked while building

    def alone(r) -> bool:
        try:
            check_funding(r)
        except ValueError:
            return False
        return True

    ok = [alone(r) for r in built]
    by_hand = [g + t <= 0.4 - f + 1e-12 for (g, t), f in zip(sizes, floors, strict=True)]
    assert ok == by_hand and not all(ok) and any(ok)
    assert first_unfunded(built) == ok.index(False) == deferred.first_failure()
    feasible = [r for r, good in zip(built, ok, strict=True) if good]
    assert first_unfunded(feasible) is None
    assert first_unfunded([*feasible, built[ok.index(False)]]) == len(feasible)


def market(seed: int = 3, n: int = 900) -> MarketData:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2019-01-02", periods=n)
    px = pd.DataFrame(100 * np.cumprod(1 + rng.normal(0.0003, 0.01, (n, len(TICKERS))), axis=0),
                      index=days, columns=list(TICKERS))
    px.index.name = "date"
    rate = MacroSeries.from_observations("DTB3", pd.Series(rng.uniform(0.1, 4.0, n).round(2), index=days))
    return MarketData(px, {"DTB3": rate}, "test market", synthetic=True)


def tune(grid: list[str]) -> None:
    raw = {
        "name": "t",
        "data": {"source": "csv", "dir": "unused", "universe": list(TICKERS), "macro": []},
        "cash": {"rate": "DTB3"},
        "strategies": [
            {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
            {"name": "rules", "kind": "regime_rules", "params": rules_params(0.1, 0.1)},
        ],
    }
    req = TuneRequest(grid=grid, split="2020-01-02", strategy="rules", vectorise=False)
    run_tune(config_from_dict(raw), req, md=market(), benchmarks=False)


def test_the_first_unfundable_variant_is_named_with_its_own_error():
    # variants (gold, tips): 0 (.1, .1), 1 (.1, .2), 2 (.2, .1), 3 (.2, .2), 4 (.3, .1) need
    # <= 0.4 from IEF's 0.4; 5 (.3, .2) needs 0.5 when both are on: the first infeasible
    grid = [f"{TILTS}.1.add.GLD=0.1,0.2,0.3", f"{TILTS}.0.add.TIP=0.1,0.2"]
    with pytest.raises(SweepError) as exc:
        tune(grid)
    msg = str(exc.value)
    assert "variant 5" in msg and "tilt 'gold': impossible funding" in msg, msg
    assert "when tilts ['tips', 'gold'] are active" in msg


def test_an_earlier_other_error_comes_before_a_later_unfundable_variant():
    # variant 0 has a non-finite tilt weight; variant 1 cannot be funded: variant 0 is named
    grid = [f"{TILTS}.1.add.GLD=nan,0.35"]
    with pytest.raises(SweepError) as exc:
        tune(grid)
    msg = str(exc.value)
    # issue 25: 'nan' is YAML text, not a number: refused as such (strict scalar types)
    assert "variant 0" in msg and "expected a number, got the text 'nan'" in msg, msg
    # and the other way round: the unfundable variant 0 is named before variant 1's error
    with pytest.raises(SweepError) as exc:
        tune([f"{TILTS}.1.add.GLD=0.35,nan"])
    msg = str(exc.value)
    assert "variant 0" in msg and "impossible funding" in msg, msg
