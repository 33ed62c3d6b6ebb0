"""60/40 SPY/IEF monthly 2012-2025 on the real data, checked against a plain pandas loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config import config_from_dict
from backtest.execution.spec import decision_dates
from backtest.pipeline import run_backtest

pytestmark = pytest.mark.realdata


def loop_backtest(prices: pd.DataFrame, fills: pd.DatetimeIndex, w: dict[str, float], fee: float, slip: float):
    """Independent drift-and-rebalance loop: sells first, then buys (partial if short of cash)."""
    units = {a: 0.0 for a in w}
    cash = 1.0
    values, charged = [], 0.0
    fills = set(fills)
    for d, row in prices.iterrows():
        v = cash + sum(units[a] * row[a] for a in w)
        if d in fills:
            delta = {a: w[a] * v / row[a] - units[a] for a in w}
            for a in sorted(w, key=lambda a: delta[a] * row[a]):  # most negative value first
                dq = delta[a]
                if dq < 0:
                    cash += -dq * row[a] * (1 - slip) * (1 - fee)
                    charged += -dq * row[a] * (1 - slip) * fee + -dq * row[a] * slip
                    units[a] += dq
                elif dq > 0:
                    cost = dq * row[a] * (1 + slip) * (1 + fee)
                    if cost > cash:
                        dq = cash / (row[a] * (1 + slip) * (1 + fee))
                        cost = cash
                    cash -= cost
                    charged += dq * row[a] * (1 + slip) * fee + dq * row[a] * slip
                    units[a] += dq
            v = cash + sum(units[a] * row[a] for a in w)
        values.append(v)
    return pd.Series(values, index=prices.index), charged


def _cfg(shared, fee=0.0, slip=0.0):
    return config_from_dict({
        "name": "6040",
        "data": {"source": "csv", "dir": str(shared), "start": "2012-01-01", "end": "2025-12-31",
                 "universe": ["SPY", "IEF"], "macro": ["DTB3", "DGS3MO"]},
        "rebalance": {"every": "monthly"},
        "execution": {"lag_days": 1},
        "costs": {"fee_bps": fee, "slippage_bps": slip},
        "strategies": [{"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}}],
    })


def test_sixty_forty_matches_pandas_loop_without_costs(shared_data):
    out = run_backtest(_cfg(shared_data))
    prices = out.md.prices.loc[out.days, ["SPY", "IEF"]]
    fills = out.sims["sixty_forty"].fills
    dec = decision_dates(out.days, "monthly")
    # fills are the next trading day after each month end (and after the first day)
    assert list(fills) == [out.days[out.days.get_loc(d) + 1] for d in dec if out.days.get_loc(d) + 1 < len(out.days)]
    ref, charged = loop_backtest(prices, fills, {"SPY": 0.6, "IEF": 0.4}, 0.0, 0.0)
    got = out.sims["sixty_forty"].value
    ref_ret = ref.pct_change().fillna(ref.iloc[0] - 1)
    got_ret = out.returns["sixty_forty"]
    assert np.max(np.abs(got_ret.to_numpy() - ref_ret.to_numpy())) < 1e-10
    assert np.max(np.abs(got.to_numpy() - ref.to_numpy())) < 1e-10
    assert charged == 0.0


def test_costs_equal_fees_and_slippage_charged(shared_data):
    free = run_backtest(_cfg(shared_data)).sims["sixty_forty"]
    out = run_backtest(_cfg(shared_data, fee=5.0, slip=3.0))
    sim = out.sims["sixty_forty"]
    prices = out.md.prices.loc[out.days, ["SPY", "IEF"]]
    ref, charged = loop_backtest(prices, sim.fills, {"SPY": 0.6, "IEF": 0.4}, 5e-4, 3e-4)
    # the engine matches an independent loop that charges the same costs, day by day
    assert np.max(np.abs(sim.value.to_numpy() - ref.to_numpy())) < 1e-10
    # and the costs it reports are exactly what the loop charged
    assert sim.fees.sum() == pytest.approx(charged, abs=1e-10)
    # costs explain the gap to the cost-free run: each day's charge, grown at the
    # portfolio's return to the end, adds up to the final shortfall (first order)
    gap = free.value.iloc[-1] - sim.value.iloc[-1]
    grown = (sim.fees * (sim.value.iloc[-1] / sim.value)).sum()
    assert gap > 0
    assert gap == pytest.approx(grown, rel=0.02)


def test_batch_kernel_equals_vectorbt_for_every_historical_strategy(shared_data):
    """Every strategy of configs/historical.yaml: the batch kernel = vectorbt to 1e-10 per day.

    One ``run_backtest`` (vectorbt, one engine run per strategy) gives the finalised targets;
    each strategy's targets then go through one :func:`simulate_batch` call with the same
    :class:`ExecutionSpec`.
    """
    from pathlib import Path

    from backtest.config import load_config
    from backtest.execution.drift import fill_plan
    from backtest.execution.spec import build_spec
    from backtest.kernel import simulate_batch

    repo = Path(__file__).resolve().parents[1]
    cfg = load_config(repo / "configs" / "historical.yaml", [], data_dir=str(shared_data))
    out = run_backtest(cfg, "historical.yaml")
    spec = build_spec(cfg, out.md, out.days, out.sf.signal("cash_rate"), "historical.yaml")
    assert spec.cash_rate is not None and len(out.targets) == len(cfg.strategies)
    worst = 0.0
    for name, w in out.targets.items():
        cols = list(w.columns)
        px = out.md.prices.loc[out.days, cols].to_numpy(dtype=float)
        px_b = pd.DataFrame(px).bfill().to_numpy()
        tg, _, execute = fill_plan(w.to_numpy(dtype=float)[None], spec.fill_k, spec.dec_idx, spec.fill_idx, px_b,
                                   spec.drift_band)
        got = simulate_batch(px, tg, spec.kernel_view(cols), execute=execute)[0]
        ref = out.sims[name].value.to_numpy()
        diff = float(np.max(np.abs(got - ref)))
        worst = max(worst, diff)
        assert diff < 1e-10, (name, diff)
    print(f"\nbatch kernel vs vectorbt, {len(out.targets)} historical strategies: max |diff| = {worst:.2e}")
