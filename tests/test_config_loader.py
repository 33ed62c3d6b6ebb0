"""One loader of a run config (``backtest.config.load_config``): a file, a mapping or a RunConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest.commands.loading import load_run_config
from backtest.config import load_config
from backtest.errors import ConfigError
from backtest.execution.spec import Costs

QUICK = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"


def test_file_mapping_and_config_load_to_the_same_config():
    cfg = load_config(QUICK)
    assert load_config(cfg) is cfg  # nothing to apply: returned as is
    assert load_config(cfg.resolved_dict()).config_hash() == cfg.config_hash()
    again = load_config(cfg, ["costs.fee_bps=7"])
    assert again.costs.fee_bps == 7.0 and cfg.costs.fee_bps != 7.0  # re-validated, original untouched
    assert load_config(cfg.resolved_dict(), ["costs.fee_bps=7"]).config_hash() == again.config_hash()


def test_mapping_errors_name_the_mapping_and_strategy_params_are_checked():
    raw = load_config(QUICK).resolved_dict()
    raw["costs"]["fee_bps"] = -1
    with pytest.raises(ConfigError, match=r"^<dict>: costs\.fee_bps"):
        load_config(raw)
    raw = load_config(QUICK).resolved_dict()
    raw["strategies"][0]["params"] = {"weights": {"SPY": 1.0}, "no_such_param": 1}
    load_config(raw)  # the structure is fine
    with pytest.raises(ConfigError, match="no_such_param"):
        load_run_config(raw)


def _with_optimizers(blocks: dict[str, dict]) -> dict:
    raw = load_config(QUICK).resolved_dict()
    raw["costs"].update(fee_bps=1.5, slippage_bps=2.5)
    raw["strategies"] = [{"name": n, "kind": "optimized", "params": {"assets": ["SPY", "IEF"], "optimizer": b}}
                         for n, b in blocks.items()] + [{"name": "plain", "kind": "equal_weight"}]
    raw["benchmark"] = None
    return raw


def test_unset_turnover_penalty_defaults_to_the_configured_costs():
    """Issue 24: an optimizer that does not set ``turnover_penalty`` pays fee + slippage per unit traded."""
    blocks = {"mv": {}, "te": {"objective": "tracking_error", "te_cap": 0.03}, "cvar": {"objective": "min_cvar"},
              "set": {"turnover_penalty": "10bps"}, "zero": {"turnover_penalty": 0},
              "minvar": {"objective": "min_variance"}, "rp": {"objective": "risk_parity"},
              "ms": {"objective": "max_sharpe"}}
    cfg = load_run_config(_with_optimizers(blocks))
    kappa = Costs.from_config(cfg).trade_cost(1.0)
    assert kappa == pytest.approx(4e-4)  # (1.5 + 2.5) bp, by hand
    got = {s.name: s.params.get("optimizer", {}).get("turnover_penalty") for s in cfg.strategies}
    assert got == {"mv": kappa, "te": kappa, "cvar": kappa, "set": "10bps", "zero": 0,
                   "minvar": None, "rp": None, "ms": None, "plain": None}
    assert load_config(cfg.resolved_dict()).config_hash() == cfg.config_hash()  # saved configs show it
    free = load_run_config(_with_optimizers(blocks), ["costs.fee_bps=0", "costs.slippage_bps=0"])
    assert {s.params.get("optimizer", {}).get("turnover_penalty") for s in free.strategies[:3]} == {0.0}
