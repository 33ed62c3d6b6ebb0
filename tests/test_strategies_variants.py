"""Variants of a strategy on one history are one more batch axis (strategies.base.variant_batch_weights).

The reference is each variant's own ``weights()`` call: evaluated together on one
:class:`strategies.history.HistoryBatch`, which keeps their param-independent work, the
weights must be bit-for-bit the same.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from strategies.base import variant_batch_weights
from strategies.history import HistoryBatch, cached
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


def together(strats: list, sf, dates) -> list[pd.DataFrame]:
    """The variants' weights from one batch call on one history, as frames."""
    hb = HistoryBatch(sf, dates)
    return [pd.DataFrame(w[:, 0, :], index=hb.dates, columns=s.assets())
            for s, w in zip(strats, variant_batch_weights(strats, hb), strict=True)]


def test_playbook_variants_bitwise_equal_on_one_batch():
    sf = frame_with_yields()
    dates = sf.days[::21]
    alone = [strat(p, kind="rmp_playbook").weights(sf, dates) for p in VARIANTS]
    strats = [strat(p, kind="rmp_playbook") for p in VARIANTS]
    hb = HistoryBatch(sf, dates)
    arrays = variant_batch_weights(strats, hb)
    # the param-independent work is kept on the batch: the short-vol sleeve's trailing vol
    assert hb.cached(("short_vol_vol", "SVXY", 63), lambda: None) is not None
    for a, s, w in zip(alone, strats, arrays, strict=True):
        pd.testing.assert_frame_equal(a, pd.DataFrame(w[:, 0, :], index=hb.dates, columns=s.assets()),
                                      check_exact=True)
    # the variants do differ (the test would not notice a cache that ignored the sizes otherwise)
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
    for a, b in zip(alone, together([strat(p) for p in params], sf, sf.days), strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not alone[0].equals(alone[1])


def test_a_history_batch_keeps_what_it_computed_a_batch_without_cache_does_not():
    sf = random_frame(50, seed=1)
    calls = []

    def fn() -> int:
        calls.append(1)
        return len(calls)

    hb = HistoryBatch(sf, sf.days)
    assert cached(hb, "k", fn) == 1 and cached(hb, "k", fn) == 1  # kept on the batch
    assert cached(hb, "other", fn) == 2  # another key: computed
    assert cached(HistoryBatch(sf, sf.days), "k", fn) == 3  # another batch: computed

    class Plain:  # a batch of paths without a cache (a scenario batch)
        pass

    assert cached(Plain(), "k", fn) == 4 and cached(Plain(), "k", fn) == 5


def test_variant_batch_weights_one_call_equals_one_at_a_time():
    sf = frame_with_yields()
    dates = sf.days[::21]
    # sizes only (one rule structure), plus variants that drop a tilt (another structure)
    grid = [{"overrides": {"short_vol": sv, "real_assets": {"GLD": g}}}
            for sv in (0.0, 0.03, 0.08) for g in (0.0, 0.05)]
    strats = [strat(p, kind="rmp_playbook") for p in grid]
    alone = [s.weights(sf, dates) for s in strats]
    assert type(strats[0]).batch_variants(strats, HistoryBatch(sf, dates)) is not None  # the stacked form ran
    both = together(strats, sf, dates)
    assert len(both) == len(alone)
    for a, b in zip(alone, both, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert len({a.to_numpy().tobytes() for a in alone}) == len(alone)


def test_batch_variants_declines_what_it_cannot_stack():
    sf = random_frame(120, seed=2)
    opt = {"base": {"SPY": 0.6, "IEF": 0.4}, "tilts": [
        {"name": "gold", "when": {"regime": ["rmp"]}, "add": {"GLD": 0.1}, "fund_from": ["IEF"]}],
        "optimizer": {"objective": "tracking_error", "te_cap": 0.03}}
    s = strat(opt)
    assert type(s).batch_variants([s], HistoryBatch(sf, sf.days)) is None
