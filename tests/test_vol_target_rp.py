"""The one-door example kind ``vol_target_rp``: hand-checked weights, its batch form, bad params.

* on a tiny frame the weights equal a plain-python computation (``statistics.stdev``):
  inverse-vol weights, the trailing portfolio vol, the regime's target, the gross cap;
* its batch form on several paths equals ``weights()`` on each path's own history, bit for bit;
* an unknown regime in ``targets`` is a one-line config error with a did-you-mean.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from backtest.config import StrategyConfig
from backtest.errors import ConfigError
from backtest.signals import SignalFrame
from strategies.base import batch_weights, build_strategy
from tests.test_batch_strategies import FakeBatch

WINDOW = 5


def frame(px: dict[str, np.ndarray], regime: list) -> SignalFrame:
    days = pd.bdate_range("2021-01-04", periods=len(regime))
    return SignalFrame(pd.DataFrame(px, index=days), pd.DataFrame(index=days), pd.Series(regime, index=days, dtype=object))


def make(**params) -> object:
    base = {"assets": ["A", "B"], "window": WINDOW, "targets": {"qe": 2.0, "qt": 0.02}, "default_target": 0.04}
    return build_strategy(StrategyConfig(name="vt", kind="vol_target_rp", params={**base, **params}), "t.yaml")


def test_weights_by_hand():
    n = 14
    rng = np.random.default_rng(1)
    ra = rng.normal(0, 0.01, n)
    rb = 2.5 * ra + rng.normal(0, 0.004, n)
    px = {"A": 100 * np.cumprod(1 + ra), "B": 50 * np.cumprod(1 + rb)}
    regime = ["qt"] * 6 + ["qe"] * 3 + [None] * 2 + ["plateau"] * 3
    sf = frame(px, regime)
    w = make().weights(sf, sf.days)
    rets = {a: [px[a][d] / px[a][d - 1] - 1 for d in range(1, n)] for a in "AB"}  # return of day d at d - 1
    for d in range(n):
        if d < WINDOW:  # no full window: equal weight, unscaled
            assert list(w.iloc[d]) == [0.5, 0.5], d
            continue
        win = {a: rets[a][d - WINDOW:d] for a in "AB"}
        inv = {a: 1 / statistics.stdev(win[a]) for a in "AB"}
        base = {a: inv[a] / (inv["A"] + inv["B"]) for a in "AB"}
        port = [base["A"] * x + base["B"] * y for x, y in zip(win["A"], win["B"], strict=True)]
        vol = statistics.stdev(port) * math.sqrt(252)
        target = {"qt": 0.02, "qe": 2.0}.get(regime[d], 0.04)  # plateau and unknown: the default
        scale = min(target / vol, 1.0 / (base["A"] + base["B"]))
        np.testing.assert_allclose(w.iloc[d].to_numpy(), [base["A"] * scale, base["B"] * scale], rtol=1e-12, err_msg=str(d))
    # the regimes do what they say: qe hits the gross cap (no leverage), qt is scaled down
    assert w.iloc[6:9].sum(axis=1).round(12).eq(1.0).all() and (w.iloc[5].sum() < 0.5)
    # max_gross lets a hot target lever up
    levered = make(max_gross=1.5).weights(sf, sf.days)
    np.testing.assert_allclose(levered.iloc[6:9].sum(axis=1), 1.5, rtol=1e-12)


def test_batch_form_equals_each_paths_own_history():
    n, p_n = 40, 3
    rng = np.random.default_rng(7)
    px = {a: 100 * np.cumprod(1 + rng.normal(0, 0.012, (n, p_n)), axis=0) for a in "AB"}
    px["B"][:8] = np.nan  # B lists late
    regime = rng.choice(["qe", "qt", "rmp", "plateau"], (n, p_n)).astype(object)
    rows = np.arange(2, n, 3)  # decisions from row 2: the batch reads its windows from row 0, as a history does
    fb = FakeBatch(rows, regime[rows], prices=px)
    s = make(targets={"qe": 0.3, "qt": 0.05, "rmp": 0.12})
    w = batch_weights(s, fb)
    for p in range(p_n):
        sf = frame({a: px[a][:, p] for a in "AB"}, list(regime[:, p]))
        own = s.weights(sf, sf.days[rows]).to_numpy()
        np.testing.assert_array_equal(w[:, p, :], own, err_msg=f"path {p}")
    assert (w[:3, :, 1] == 0).all() and (w[-1] > 0).all()  # B unlisted at first, held later


def test_unknown_regime_in_targets_is_one_config_line():
    with pytest.raises(ConfigError, match=r"strategies\.vt\.params\.targets.*unknown regime 'qee' \(did you mean 'qe'\?\)"):
        make(targets={"qee": 0.1})
    with pytest.raises(ConfigError, match=r"target of qt is 3: must be in \(0, 2\]"):
        make(targets={"qt": 3.0})
