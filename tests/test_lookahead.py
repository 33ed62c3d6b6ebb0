"""Framework look-ahead test: for every registered strategy, changing all data after a
date t leaves every weight decided at or before t unchanged.

"Data after t" means prices after t and every macro observation *released* after t (an
observation dated before t but published after it is future information too). The test
runs the whole pipeline (regime labels, signals, strategy, renormalisation, leverage cap)
on the original and on the perturbed market and compares target weights up to t.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.config import DEFAULT_MACRO, DEFAULT_UNIVERSE, config_from_dict, read_yaml
from backtest.data.base import MacroSeries, MarketData
from backtest.pipeline import run_backtest
from strategies.base import load_all

REPO = Path(__file__).resolve().parents[1]


def perturb_after(md: MarketData, t: pd.Timestamp, rng: np.random.Generator) -> MarketData:
    """Replace every price after ``t`` and every macro value released after ``t``."""
    p = md.prices.copy()
    after = p.index > t
    noise = np.exp(np.cumsum(rng.normal(0, 0.05, size=(after.sum(), p.shape[1])), axis=0))
    p.loc[after] = p.loc[after].to_numpy() * noise * rng.uniform(0.3, 3.0, size=p.shape[1])
    macro = {}
    for name, ms in md.macro.items():
        v = ms.values.copy()
        fut = (ms.released > t).to_numpy()
        v[fut] = v[fut] * rng.uniform(-3, 3, size=fut.sum()) + rng.normal(0, 5, size=fut.sum())
        macro[name] = MacroSeries(name, v, ms.released)
    return MarketData(p, macro, md.source, md.synthetic, md.notes)


def example_strategies() -> list[dict]:
    """Every strategy block in configs/*.yaml, deduplicated by kind+params."""
    seen, out = set(), []
    for path in sorted((REPO / "configs").glob("*.yaml")):
        raw = read_yaml(path)
        for s in raw.get("strategies", []) or []:
            key = (s["kind"], repr(s.get("params")))
            if key not in seen:
                seen.add(key)
                out.append(s)
    return out


@pytest.fixture(scope="module")
def market() -> MarketData:
    from backtest.data.sample import SampleSource

    return SampleSource(seed=11).load(list(DEFAULT_UNIVERSE), list(DEFAULT_MACRO), None, pd.Timestamp("2020-12-31"))


def test_every_registered_kind_has_an_example():
    kinds = {s["kind"] for s in example_strategies()}
    missing = sorted(set(load_all()) - kinds)
    assert not missing, f"strategy kinds without an example in configs/: {missing}"


@pytest.mark.parametrize("regime_model", ["calendar"])
def test_no_lookahead_any_strategy(market, regime_model):
    strategies = example_strategies()
    names = [f"s{i}_{s['kind']}" for i, s in enumerate(strategies)]
    cfg = config_from_dict({
        "name": "lookahead",
        "data": {"source": "sample", "start": "2016-01-01"},
        "rebalance": {"every": "weekly"},
        "cash": {"rate": "DTB3"},
        "regimes": {"model": regime_model},
        "strategies": [{**s, "name": n} for s, n in zip(strategies, names, strict=True)],
    })
    base = run_backtest(cfg, md=market)
    rng = np.random.default_rng(0)
    for t in (pd.Timestamp("2018-01-31"), pd.Timestamp("2019-10-16"), pd.Timestamp("2020-03-12")):
        pert = run_backtest(cfg, md=perturb_after(market, t, rng))
        for n in names:
            a = base.targets[n].loc[:t]
            b = pert.targets[n].loc[:t]
            pd.testing.assert_frame_equal(a, b, check_exact=True, obj=f"{n} weights up to {t.date()}")
            # and the perturbation did reach the future (the test can fail)
        assert not base.returns.loc[base.returns.index > t].equals(pert.returns.loc[pert.returns.index > t])


def test_the_check_catches_a_leaky_strategy(market):
    """Negative control: a strategy peeking one day ahead must be caught."""
    from strategies.base import REGISTRY, Params, register

    class LeakyParams(Params):
        asset: str = "SPY"

    @register("leaky_test_only", LeakyParams)
    class Leaky:
        def __init__(self, name, params):
            self.name, self.params = name, params

        def assets(self):
            return ["SPY", "IEF"]

        def weights(self, sf, dates):
            fwd = sf.prices["SPY"].pct_change().shift(-5)  # the future: must be caught
            w = (0.5 + 10 * fwd.reindex(dates).fillna(0.0)).clip(0.0, 1.0)
            return pd.DataFrame({"SPY": w, "IEF": 1.0 - w}, index=dates)

    try:
        cfg = config_from_dict({
            "name": "leak", "data": {"source": "sample", "start": "2017-01-01"},
            "rebalance": {"every": "weekly"},
            "strategies": [{"name": "leaky", "kind": "leaky_test_only"}],
        })
        t = pd.Timestamp("2019-06-28")
        a = run_backtest(cfg, md=market).targets["leaky"].loc[:t]
        b = run_backtest(cfg, md=perturb_after(market, t, np.random.default_rng(1))).targets["leaky"].loc[:t]
        assert not a.equals(b)
    finally:
        REGISTRY.pop("leaky_test_only", None)
