"""The metrics registry: one row per metric drives metrics.csv, the tables and the tuner's choices.

* every row loads, is well formed, and its series form (one series) and batch form (many
  paths at once) agree on random series;
* the registry's order is metrics.csv's column order (contract, relative, drags, then added);
* the consumers read it: metrics.csv, the tearsheet specs, the terminal views, compare's
  deltas and ``--metric`` with its "did you mean";
* the registry stays light (no numpy/pandas), so command modules can read it at import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest import run_metrics
from backtest.cost_drag import COST_DRAG_COLUMNS
from backtest.errors import SweepError
from backtest.metrics import METRIC_COLUMNS
from backtest.metrics_batch import WINDOW_METRICS
from backtest.metrics_registry import (
    INPUTS,
    METRICS,
    PCT,
    RATIO,
    VIEWS,
    batch_form,
    check_metric,
    metric_names,
    series_form,
)
from backtest.metrics_relative import RELATIVE_COLUMNS
from backtest.run_metrics import RUN_METRIC_COLUMNS, run_metrics_table
from backtest.tune.selection import METRICS as TUNE_METRICS
from backtest.tune.selection import parse_metric

ROOT = Path(__file__).resolve().parents[1]
P, T = 4, 260


@pytest.fixture(scope="module")
def paths():
    """Four random paths of daily returns, cash, a benchmark, turnover and costs (no NaN)."""
    rng = np.random.default_rng(7)
    b = rng.standard_t(4, size=T) * 0.01 + 0.0003
    r = 0.6 * b[None, :] + rng.standard_t(5, size=(P, T)) * 0.008 + rng.uniform(-2e-4, 4e-4, size=(P, 1))
    rf = rng.uniform(0.0, 2e-4, size=T)
    to = np.where(rng.uniform(size=(P, T)) < 0.05, rng.uniform(0.0, 0.6, size=(P, T)), 0.0)
    cost = to * rng.uniform(1e-4, 1e-3, size=(P, 1))
    return {"r": r, "b": b, "rf": rf, "to": to, "cost": cost, "idx": pd.bdate_range("2019-09-02", periods=T)}


def _series_value(name: str, p: dict, i: int) -> float:
    info, f, idx = METRICS[name], series_form(name), p["idx"]
    r = pd.Series(p["r"][i], index=idx)
    if info.inputs == "returns":
        return f(r, pd.Series(p["rf"], index=idx)) if info.excess else f(r)
    if info.inputs == "turnover":
        return f(pd.Series(p["to"][i], index=idx))
    if info.inputs == "relative":
        return f(r, pd.Series(p["b"], index=idx))
    return f(pd.Series(p["cost"][i], index=idx), r)


def _batch_value(name: str, p: dict) -> np.ndarray:
    info, f = METRICS[name], batch_form(name)
    if info.inputs == "returns":
        return f(p["r"], p["rf"]) if info.excess else f(p["r"])
    if info.inputs == "turnover":
        return f(p["to"])
    if info.inputs == "relative":
        return f(p["r"], p["b"])
    return f(p["cost"], p["r"])


@pytest.mark.parametrize("name", list(METRICS))
def test_series_and_batch_forms_agree(name, paths):
    batch = _batch_value(name, paths)
    series = np.array([_series_value(name, paths, i) for i in range(P)])
    assert batch.shape == (P,)
    assert np.all(np.isfinite(series)), series  # the random paths define every metric
    np.testing.assert_allclose(batch, series, rtol=1e-10, atol=1e-14)


def test_rows_are_well_formed():
    for name, m in METRICS.items():
        assert m.unit in (PCT, RATIO) and m.direction in (-1, 0, 1) and m.inputs in INPUTS, name
        assert set(m.views) <= set(VIEWS) and m.label and m.short and m.doc, name
        assert not m.excess or m.inputs == "returns", name
        assert callable(series_form(name)) and callable(batch_form(name)), name
    # the tuner ranks by its window kernel's columns (higher is better) or the IR over the untuned strategy
    for name in metric_names("tune"):
        assert name in WINDOW_METRICS or name == "information_ratio", name
        assert METRICS[name].direction == 1, name


def test_registry_order_is_metrics_csv_order():
    fixed = [*METRIC_COLUMNS, *RELATIVE_COLUMNS, *COST_DRAG_COLUMNS]
    assert list(METRICS)[:len(fixed)] == fixed  # added metrics only ever go after these
    assert RUN_METRIC_COLUMNS == list(METRICS)
    assert run_metrics.ADDED_COLUMNS == list(METRICS)[len(fixed):]


def test_added_metrics_are_computed_from_their_series_form(paths, monkeypatch):
    """A row no module table computes gets its column from its series form, for each kind of input."""
    idx = paths["idx"]
    returns = pd.DataFrame({"a": paths["r"][0], "b": paths["r"][1]}, index=idx)
    returns.iloc[:5, 0] = np.nan  # "a" starts later: its turnover counts on its own days
    rf = pd.Series(paths["rf"], index=idx)
    turnover = pd.DataFrame({"a": paths["to"][0], "b": paths["to"][1]}, index=idx)
    full = run_metrics_table(returns, rf, turnover, benchmark="b")
    probe = ["sharpe", "turnover", "beta"]  # excess returns, turnover, relative
    monkeypatch.setattr(run_metrics, "ADDED_COLUMNS", probe)
    added = run_metrics.added_metrics_table(returns, rf, turnover, benchmark="b")
    pd.testing.assert_frame_equal(added, full[probe], rtol=1e-12)
    assert np.isnan(added.loc["b", "beta"]) and np.isfinite(added.loc["a", "beta"])


def test_views_drive_the_consumers():
    from backtest.commands.common import summary_table
    from backtest.commands.relative_view import COST_VIEW, RELATIVE_VIEW
    from backtest.report.compare import DELTA_COLUMNS
    from backtest.report.html import METRIC_SPEC, RELATIVE_SPEC, RISK_ADJUSTED

    assert [c for c, *_ in METRIC_SPEC] == list(metric_names(inputs=("returns", "turnover")))
    assert [c for c, *_ in RELATIVE_SPEC] == [c for c, *_ in RELATIVE_VIEW] == RELATIVE_COLUMNS
    assert [c for c, *_ in COST_VIEW] == COST_DRAG_COLUMNS
    assert set(RISK_ADJUSTED) == {"sharpe", "sortino", "calmar", "information_ratio"}
    assert set(DELTA_COLUMNS) == {"cagr", "total_return", "ann_vol", "sharpe", "max_drawdown", "turnover"}
    assert set(TUNE_METRICS) == {"sharpe", "sortino", "calmar", "cagr", "max_drawdown", "information_ratio"}
    row = pd.DataFrame([{c: 0.1 for c in METRICS}], index=["s"])
    heads = [c.header for c in summary_table(row).columns]
    assert heads == ["strategy", *[METRICS[c].short for c in metric_names("terminal")]]
    assert [c.header for c in summary_table(row, n_days=100).columns][1] == "total"


def test_unknown_metric_says_did_you_mean():
    with pytest.raises(KeyError, match="did you mean 'sharpe'"):
        check_metric("sharp")
    with pytest.raises(SweepError, match=r"did you mean 'sortino'.*one of cagr, sharpe"):
        parse_metric("sortin@rmp")
    with pytest.raises(SweepError, match="unknown metric 'hit_rate'"):  # registered, but not a tune choice
        parse_metric("hit_rate")
    assert parse_metric("calmar@qt") == ("calmar", "qt")


def test_registry_is_light():
    code = ("import sys, json; import backtest.metrics_registry as r; "
            "print(json.dumps([m for m in ('numpy', 'pandas', 'numba') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
