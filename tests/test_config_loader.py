"""One loader of a run config (``backtest.config.load_config``): a file, a mapping or a RunConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest.commands.loading import load_run_config
from backtest.config import load_config
from backtest.errors import ConfigError

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
