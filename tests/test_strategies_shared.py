"""Variants of a strategy on one history share their param-independent work (strategies.shared).

The reference is each variant's own ``weights()`` call outside any shared block: inside
:func:`shared_history` the weights must be bit-for-bit the same, while the memo is hit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from strategies.shared import memo, shared_history
from tests.test_rules_engine import random_frame, strat


def frame_with_yields(n: int = 400) -> object:
    sf = random_frame(n, seed=3)
    rng = np.random.default_rng(5)
    y2 = 2.0 + np.cumsum(rng.normal(0, 0.03, n))
    yields = pd.DataFrame({"DGS2": y2, "DGS10": y2 + 0.8 + np.cumsum(rng.normal(0, 0.02, n))},
                          index=sf.prices.index)
    yields.iloc[:30] = np.nan  # curve not yet known: the fixed durations
    return dataclasses.replace(sf, yields=yields)


VARIANTS = [
    {},
    {"overrides": {"short_vol": 0.04}},
    {"overrides": {"short_vol": 0.0, "real_assets": {"GLD": 0.07}}},
    {"overrides": {"size_tech": {"QQQ": 0.02}, "steepener": 0.25}},
    {"variant": "B", "overrides": {"short_vol": 0.09}},
]


def test_playbook_variants_bitwise_equal_inside_a_shared_block():
    sf = frame_with_yields()
    dates = sf.days[::21]
    alone = [strat(p, kind="rmp_playbook").weights(sf, dates) for p in VARIANTS]
    with shared_history(sf, dates) as m:
        shared = [strat(p, kind="rmp_playbook").weights(sf, dates) for p in VARIANTS]
    assert m.hits > 0 and len(m.cache) > 0
    for a, b in zip(alone, shared, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    # the variants do differ (the test would not notice a memo that ignored the sizes otherwise)
    assert not alone[0].equals(alone[1]) and not alone[0].equals(alone[4])


def test_regime_rules_with_vol_target_bitwise_equal():
    rules = {"base": {"SPY": 0.6, "IEF": 0.4}, "tilts": [
        {"name": "gold", "when": {"regime": ["rmp", "qe"]}, "add": {"GLD": 0.10}, "fund_from": ["IEF"],
         "vol_target": {"target": 0.02, "window": 21}},
        {"name": "vol", "when": ["vix < 22 exit 26"], "add": {"SVXY": 0.05}, "fund_from": ["SPY"],
         "min_hold_days": 10}]}
    sizes = [0.10, 0.05, 0.15]
    sf = random_frame(300, seed=7)
    params = []
    for s in sizes:
        p = {**rules, "tilts": [dict(rules["tilts"][0], add={"GLD": s}), rules["tilts"][1]]}
        params.append(p)
    alone = [strat(p).weights(sf, sf.days) for p in params]
    with shared_history(sf, sf.days) as m:
        shared = [strat(p).weights(sf, sf.days) for p in params]
    assert m.hits > 0
    for a, b in zip(alone, shared, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not alone[0].equals(alone[1])


def test_memo_only_inside_its_block_and_for_its_history():
    sf, other = random_frame(50, seed=1), random_frame(50, seed=2)
    calls = []

    def fn() -> int:
        calls.append(1)
        return len(calls)

    assert memo(sf, sf.days, "k", fn) == 1 and memo(sf, sf.days, "k", fn) == 2  # no block: no memo
    with shared_history(sf, sf.days):
        assert memo(sf, sf.days, "k", fn) == 3
        assert memo(sf, sf.days.copy(), "k", fn) == 3  # equal dates: shared
        assert memo(sf, sf.days[:-1], "k", fn) == 4  # other dates: computed
        assert memo(other, other.days, "k", fn) == 5  # other frame: computed
        assert memo(sf, sf.days, ["unhashable"], fn) == 6  # an unhashable key is never shared
    assert memo(sf, sf.days, "k", fn) == 7


def test_variant_weights_one_call_equals_one_at_a_time():
    from strategies.shared import variant_weights

    sf = frame_with_yields()
    dates = sf.days[::21]
    # sizes only (one rule structure), plus variants that drop a tilt (another structure)
    grid = [{"overrides": {"short_vol": sv, "real_assets": {"GLD": g}}}
            for sv in (0.0, 0.03, 0.08) for g in (0.0, 0.05)]
    strats = [strat(p, kind="rmp_playbook") for p in grid]
    alone = [s.weights(sf, dates) for s in strats]
    with shared_history(sf, dates):
        assert type(strats[0]).variant_weights(strats, sf, dates) is not None  # the vectorised form ran
        together = variant_weights(strats, sf, dates)
    assert len(together) == len(alone)
    for a, b in zip(alone, together, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert len({a.to_numpy().tobytes() for a in alone}) == len(alone)


def test_variant_weights_declines_what_it_cannot_batch():
    sf = random_frame(120, seed=2)
    opt = {"base": {"SPY": 0.6, "IEF": 0.4}, "tilts": [
        {"name": "gold", "when": {"regime": ["rmp"]}, "add": {"GLD": 0.1}, "fund_from": ["IEF"]}],
        "optimizer": {"objective": "tracking_error", "te_cap": 0.03}}
    s = strat(opt)
    assert type(s).variant_weights([s], sf, sf.days) is None
