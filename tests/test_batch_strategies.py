"""Batch forms of strategies and rule conditions, on a small synthetic batch of paths.

* every rule condition evaluated on ``(K, P)`` arrays equals a plain scalar reference
  (Kleene logic, hysteresis, changes over a lookback, regimes known or not), path by path;
* :func:`strategies.rules_engine.hold_state` with a batch axis equals a scalar loop;
* the benchmark kinds' and ``regime_rules``' batch forms give hand-computed weights;
* the dispatcher asks the strategy: no batch form, an overridden ``weights``, an optimizer
  block or an unknown signal all raise :class:`strategies.base.Unsupported`.
"""

from __future__ import annotations

import operator
import statistics

import numpy as np
import pandas as pd
import pytest

from backtest.config import StrategyConfig
from strategies.base import Unsupported, batch_weights, build_strategy
from strategies.benchmarks import FixedWeights
from strategies.rules_engine import hold_state, parse_condition

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class FakeBatch:
    """A :class:`strategies.base.BatchSignals` over hand-made (L, P) daily arrays."""

    def __init__(self, rows, regime, signals=None, prices=None, known=None):
        self.rows = np.asarray(rows, dtype=np.int64)
        self.dates = pd.bdate_range("2021-01-04", periods=int(self.rows.max()) + 1)[self.rows]
        reg = np.asarray(regime, dtype=object)
        self.shape = reg.shape
        self.regime_known = np.ones(reg.shape, bool) if known is None else np.asarray(known, bool)
        self.regime = np.where(self.regime_known, reg, "").astype(str)
        self.sig = signals or {}
        self.px = prices or {}

    def values(self, name, lookback=0):
        if name not in self.sig:
            raise Unsupported(name)
        r = self.rows - lookback
        out = np.full(self.shape, np.nan)
        out[r >= 0] = self.sig[name][r[r >= 0]]
        return out

    def listed(self, assets):
        return np.array([[np.isfinite(self.px[a][r, 0]) if a in self.px else False for a in assets]
                         for r in self.rows])

    def prices(self, assets, lo, hi):
        out = np.full((hi - lo, self.shape[1], len(assets)), np.nan)
        for j, a in enumerate(assets):
            for i, r in enumerate(range(lo, hi)):
                if 0 <= r < len(self.px[a]):
                    out[i, :, j] = self.px[a][r]
        return out

    def member(self, b):
        return f"path {b}"


# ----------------------------------------------------------------- scalar reference


def ref_eval(spec, fb: FakeBatch, p: int) -> list[float]:
    """Truth values of ``spec`` on path ``p``, one python scalar per decision."""
    kind = spec[0]
    K = len(fb.rows)
    if kind == "regime":
        return [0.5 if not fb.regime_known[k, p] else float(fb.regime[k, p] in spec[1]) for k in range(K)]
    if kind == "not":
        return [1.0 - v for v in ref_eval(spec[1], fb, p)]
    if kind in ("all", "any"):
        parts = [ref_eval(c, fb, p) for c in spec[1]]
        f = min if kind == "all" else max
        return [f(vals) for vals in zip(*parts, strict=True)]
    _, name, op, value, exit_, change, lb = spec
    s = fb.sig[name][:, p]
    out, on = [], False
    for r in fb.rows:
        x = float(s[r])
        if change != "level":
            prev = float(s[r - lb]) if r - lb >= 0 else float("nan")
            x = x - prev if change == "diff" else (x / prev - 1.0 if prev != 0 else float("nan"))
        if not np.isfinite(x):
            on = False
            out.append(0.5)
            continue
        if exit_ is None:
            out.append(float(OPS[op](x, value)))
            continue
        on = OPS[op](x, exit_) if on else OPS[op](x, value)
        out.append(float(on))
    return out


def ref_hold(cond, off, day_pos, min_days, min_periods):
    out, on, since = [], False, -1
    for k in range(len(cond)):
        if off[k]:
            on = False
        elif on and not cond[k]:
            on = (day_pos[k] - day_pos[since]) < min_days or (k - since) < min_periods
        elif not on and cond[k]:
            on, since = True, k
        out.append(on)
    return out


@pytest.fixture(scope="module")
def batch() -> FakeBatch:
    rng = np.random.default_rng(3)
    L, P = 80, 5
    vix = 20 + np.cumsum(rng.normal(0, 3, (L, P)), axis=0)
    vix[rng.random((L, P)) < 0.08] = np.nan
    curve = rng.normal(0.1, 0.5, (L, P))
    rows = np.arange(6, L, 3)
    reg = rng.choice(["qe", "plateau", "qt", "rmp"], size=(len(rows), P))
    known = rng.random(reg.shape) > 0.15
    return FakeBatch(rows, reg, {"vix": vix, "curve_2s10s": curve}, known=known)


CASES = [
    ({"regime": ["rmp", "qe"]}, ("regime", ("rmp", "qe"))),
    ("vix < 22", ("cmp", "vix", "<", 22.0, None, "level", 0)),
    ("vix < 20 exit 26", ("cmp", "vix", "<", 20.0, 26.0, "level", 0)),
    ({"signal": "vix", "op": ">", "value": 25, "exit": 18}, ("cmp", "vix", ">", 25.0, 18.0, "level", 0)),
    ({"signal": "vix", "change": "pct", "lookback": 4, "op": ">", "value": 0.05},
     ("cmp", "vix", ">", 0.05, None, "pct", 4)),
    ({"signal": "vix", "change": "diff", "lookback": 2, "op": "<=", "value": -1, "exit": 1},
     ("cmp", "vix", "<=", -1.0, 1.0, "diff", 2)),
    ({"all": [{"regime": "rmp"}, {"not": {"any": ["vix > 30", "curve_2s10s < 0"]}}]},
     ("all", [("regime", ("rmp",)), ("not", ("any", [("cmp", "vix", ">", 30.0, None, "level", 0),
                                                     ("cmp", "curve_2s10s", "<", 0.0, None, "level", 0)]))])),
    ({"not": {"regime": "qt"}}, ("not", ("regime", ("qt",)))),
]


@pytest.mark.parametrize("raw,spec", CASES, ids=[str(i) for i in range(len(CASES))])
def test_conditions_on_a_batch_equal_a_scalar_reference(batch, raw, spec):
    got = parse_condition(raw, "t").evaluate(batch)
    assert got.shape == batch.shape
    want = np.array([ref_eval(spec, batch, p) for p in range(batch.shape[1])]).T
    np.testing.assert_array_equal(got, want)
    assert (want == 0.5).any() or spec[0] == "cmp"  # unknowns are exercised where they can occur


@pytest.mark.parametrize("min_days,min_periods", [(0, 0), (7, 0), (0, 2), (1, 0), (0, 1), (25, 0), (0, 9)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hold_state_on_a_batch_equals_a_scalar_loop(min_days, min_periods, seed):
    rng = np.random.default_rng(seed + 100 * min_days + 1000 * min_periods)
    T, P = 60, 8
    cond = rng.random((T, P)) < rng.uniform(0.2, 0.8)
    off = rng.random((T, P)) < rng.uniform(0.0, 0.2)
    day_pos = np.cumsum(rng.integers(0, 5, T)) - 1  # repeated positions and -1 (before any data) too
    got = hold_state(cond, off, day_pos, min_days, min_periods)
    want = np.array([ref_hold(cond[:, p], off[:, p], day_pos, min_days, min_periods) for p in range(P)]).T
    np.testing.assert_array_equal(got, want)
    # one history (no batch axis) is the same code with the batch axis dropped
    np.testing.assert_array_equal(hold_state(cond[:, 2], off[:, 2], day_pos, min_days, min_periods), want[:, 2])


# ----------------------------------------------------------------- strategies' batch forms


def make(kind: str, params: dict | None = None, name: str = "s"):
    return build_strategy(StrategyConfig.model_validate({"name": name, "kind": kind, "params": params or {}}))


def price_batch() -> FakeBatch:
    """3 assets x 2 paths on 12 days; C is listed from day 5; decisions on days 2, 6, 11."""
    rng = np.random.default_rng(7)
    L = 12
    px = {a: 100 * np.cumprod(1 + rng.normal(0, s, (L, 2)), axis=0) for a, s in (("A", 0.01), ("B", 0.03), ("C", 0.02))}
    px["C"][:5] = np.nan
    return FakeBatch([2, 6, 11], [["qe", "qe"]] * 3, prices=px)


def test_fixed_weights_and_buy_and_hold_batch_forms():
    fb = price_batch()
    w = batch_weights(make("fixed_weights", {"weights": {"A": 0.25, "B": 0.75}}), fb)
    assert w.shape == (3, 2, 2)
    np.testing.assert_array_equal(w, np.broadcast_to([0.25, 0.75], (3, 2, 2)))
    w = batch_weights(make("buy_and_hold", {"weights": {"B": 1.0}}), fb)
    np.testing.assert_array_equal(w[0], [[1.0], [1.0]])
    assert np.isnan(w[1:]).all()


def test_equal_weight_and_inverse_vol_batch_forms():
    fb = price_batch()
    w = batch_weights(make("equal_weight", {"assets": ["A", "B", "C"]}), fb)
    np.testing.assert_allclose(w[0], [[0.5, 0.5, 0.0]] * 2)  # C not listed on day 2
    np.testing.assert_allclose(w[1:], np.full((2, 2, 3), 1 / 3))
    w = batch_weights(make("inverse_vol", {"assets": ["A", "B", "C"], "window": 5}), fb)
    np.testing.assert_allclose(w[0], [[0.5, 0.5, 0.0]] * 2)  # day 2: no 5-day window yet -> equal over listed
    for k, r in ((1, 6), (2, 11)):
        for p in range(2):
            inv = {}
            for a in "ABC":
                rets = [fb.px[a][d, p] / fb.px[a][d - 1, p] - 1 for d in range(r - 4, r + 1)]
                if all(np.isfinite(rets)):
                    inv[a] = 1 / statistics.stdev(rets)
            want = [inv.get(a, 0.0) / sum(inv.values()) for a in "ABC"]
            np.testing.assert_allclose(w[k, p], want, rtol=1e-12)
    assert w[1, 0, 2] == 0.0  # day 6: C has only one return since listing


def test_regime_rules_batch_form_by_hand():
    # GLD +0.1 funded from IEF where the regime is not qt; an unknown regime never switches it on
    fb = FakeBatch([1, 2, 3], [["rmp", "qt"], ["qt", "rmp"], ["qe", "qe"]], known=[[1, 1], [1, 0], [0, 1]],
                   prices={a: np.full((4, 2), 100.0) for a in ("SPY", "IEF", "GLD")})
    s = make("regime_rules", {"base": {"SPY": 0.6, "IEF": 0.4}, "tilts": [
        {"name": "g", "when": {"not": {"regime": "qt"}}, "add": {"GLD": 0.1}, "fund_from": ["IEF"]}]})
    w = batch_weights(s, fb)
    on = np.array([[1, 0], [0, 0], [0, 1]], dtype=float)
    np.testing.assert_allclose(w[..., 0], 0.6)
    np.testing.assert_allclose(w[..., 1], 0.4 - 0.1 * on)
    np.testing.assert_allclose(w[..., 2], 0.1 * on)


def test_rules_backed_kinds_have_a_batch_form():
    s = make("short_vol")
    fb = FakeBatch([0], [["qe"]], signals={}, prices={})
    with pytest.raises(Unsupported, match="signal|vix"):  # its rules read a signal this batch lacks
        batch_weights(s, fb)


def test_the_dispatcher_asks_the_strategy():
    fb = price_batch()

    class NoBatch:
        name = "x"

        def assets(self):
            return ["A"]

    with pytest.raises(Unsupported, match="no batch form"):
        batch_weights(NoBatch(), fb)

    class Shifted(FixedWeights):
        def weights(self, sf, dates):  # a subclass with its own weights loses the closed form
            return super().weights(sf, dates) * 0.5

    base = make("fixed_weights", {"weights": {"A": 1.0}})
    with pytest.raises(Unsupported, match="overrides"):
        batch_weights(Shifted("y", base.params), fb)
    rules = {"base": {"A": 0.5, "B": 0.5}, "tilts": [{"name": "t", "when": "vix < 20", "add": {"C": 0.1},
                                                       "fund_from": ["B"]}]}
    with pytest.raises(Unsupported, match="vix"):
        batch_weights(make("regime_rules", rules), fb)
    with pytest.raises(Unsupported, match="optimizer"):
        batch_weights(make("regime_rules", {**rules, "optimizer": {"objective": "min_variance"}}), fb)
