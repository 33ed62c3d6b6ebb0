"""A run's target weights (backtest.run_targets): computed here, strategy by strategy, in order.

``rmpbt run`` used to compute them in a forked child while it imported vectorbt; side by
side it saved nothing (see the module's docstring), so they are computed in this process
and an error of a strategy is this process's, one line on the command line.
"""

from __future__ import annotations

import os

import pytest

import backtest.pipeline as pipeline
from backtest.config import load_config
from backtest.errors import StrategyError
from strategies.benchmarks import FixedWeights
from tests.helpers import assert_clean_error, make_data_dir, run_cli, write_config

STRATEGIES = [
    {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
    {"name": "ew", "kind": "equal_weight", "params": {"assets": ["SPY", "IEF", "GLD"]}},
    {"name": "gold", "kind": "fixed_weights", "params": {"weights": {"GLD": 0.5, "IEF": 0.5}}},
]


@pytest.fixture
def cfg_path(tmp_path):
    data = make_data_dir(tmp_path / "data", tickers=("SPY", "IEF", "GLD"), n=300, seed=3)
    return write_config(tmp_path / "c.yaml", data, strategies=STRATEGIES,
                        costs={"fee_bps": 1, "slippage_bps": 2},  # GLD held: in the universe (issue 25)
                        data={"source": "csv", "dir": str(data), "universe": ["SPY", "IEF", "GLD"], "macro": []})


def test_targets_are_computed_here_in_strategy_order(cfg_path, monkeypatch):
    seen: list[tuple[int, str]] = []
    real = pipeline.strategy_targets

    def logged(strat, *args, **kwargs):
        seen.append((os.getpid(), strat.name))
        return real(strat, *args, **kwargs)

    monkeypatch.setattr(pipeline, "strategy_targets", logged)
    out = pipeline.run_backtest(load_config(cfg_path))
    assert seen == [(os.getpid(), s["name"]) for s in STRATEGIES]
    assert list(out.targets) == list(out.sims) == [s["name"] for s in STRATEGIES]


def test_an_error_of_a_strategy_is_one_line_and_writes_nothing(cfg_path, tmp_path, monkeypatch):
    real = FixedWeights.weights

    def broken(self, sf, dates):
        if self.name == "gold":
            raise StrategyError(f"strategy {self.name}: no gold today")
        return real(self, sf, dates)

    monkeypatch.setattr(FixedWeights, "weights", broken)
    with pytest.raises(StrategyError, match="strategy gold: no gold today"):
        pipeline.run_backtest(load_config(cfg_path))
    out = tmp_path / "res"
    assert_clean_error(run_cli("run", str(cfg_path), "--out", str(out), "--no-report"), out, "strategy gold: no gold today")
