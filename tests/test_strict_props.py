"""Property-based layer of the strict inputs (issue 25), with hypothesis.

Generated hostile inputs, each asserting the contract:

* configs with a boolean, text, null, non-finite, huge or list value in a numeric key
  (YAML through the real entry point): one stderr line naming the key, exit 2, nothing
  written;
* price files with a random spike, unadjusted split, weekend or holiday row, or absurd
  magnitude at a random place (the csv data layer): one ``DataError`` line naming the file,
  the series and the date; the clean file passes;
* ``data.allow`` entries that match no event: the run is identical to the clean run.

Bounded (fixed example counts, derandomised, no example database) so that the module adds
about 10-15 s to the suite; the counts are in the settings below.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.data.csv_source import CsvSource
from backtest.data.sanity import SPLIT_RATIOS
from backtest.errors import DataError
from tests.faults_harness import assert_fault, base_raw, dset, make_world, run_main

CONFIG_EXAMPLES, PRICE_EXAMPLES, IDENTICAL_EXAMPLES = 60, 60, 4
BOUNDED = {"deadline": None, "database": None, "derandomize": True,
           "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    return make_world(tmp_path_factory.mktemp("props"))


# ---------------------------------------------------------------- configs

#: numeric keys of the tiny config, and the text the refusal must name
NUMERIC_KEYS = [
    ("costs.fee_bps", "costs.fee_bps"), ("costs.slippage_bps", "costs.slippage_bps"),
    ("costs.borrow_bps", "costs.borrow_bps"), ("cash.borrow_spread_bps", "cash.borrow_spread_bps"),
    ("cash.short_rebate_haircut_bps", "cash.short_rebate_haircut_bps"), ("execution.lag_days", "execution.lag_days"),
    ("execution.max_gross_leverage", "execution.max_gross_leverage"), ("rebalance.drift_band", "rebalance.drift_band"),
    ("seed", "seed"), ("data.seed", "data.seed"),
    ("strategies.sixty_forty.params.weights.SPY", "strategies.sixty_forty.params"),
    ("strategies.spy.params.weights.SPY", "strategies.spy.params"),
]
NULLABLE = {"rebalance.drift_band"}  # null is a valid value there (no band)

hostile = st.one_of(
    st.booleans(),
    st.text(min_size=0, max_size=8),
    st.none(),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 1e30, -1e30]),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=1),
)


@settings(max_examples=CONFIG_EXAMPLES, **BOUNDED)
@given(key=st.sampled_from(NUMERIC_KEYS), value=hostile)
def test_hostile_value_in_a_numeric_key_is_one_line_exit_2(world, tmp_path_factory, key, value):
    dotted, needle = key
    if value is None and dotted in NULLABLE:
        value = "null"
    tmp = tmp_path_factory.mktemp("c")
    raw = dset(base_raw(world["data"]), dotted, value)
    cfg = tmp / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    root = tmp / "res"
    r = run_main("run", str(cfg), "--out", str(root), "--no-report")
    assert_fault(r, root, 2, (needle,))


# ---------------------------------------------------------------- price files

def _clean(world) -> pd.DataFrame:
    return pd.read_csv(world["data"] / "prices" / "SPY.csv")


faults = st.one_of(
    st.tuples(st.just("spike"), st.integers(20, 240), st.floats(2.5, 1e6)),
    st.tuples(st.just("split"), st.integers(20, 240), st.sampled_from(SPLIT_RATIOS).map(float)),
    st.tuples(st.just("reverse split"), st.integers(20, 240), st.sampled_from(SPLIT_RATIOS).map(float)),
    st.tuples(st.just("price"), st.integers(0, 259), st.sampled_from([1e9, 1e308, 1e-5, 1e-300])),
    st.tuples(st.just("weekend"), st.integers(0, 50), st.just(0.0)),
    st.tuples(st.just("holiday"), st.sampled_from(["2020-01-01", "2020-04-10", "2020-07-03", "2020-11-26"]),
              st.just(0.0)),
)


def _inject(df: pd.DataFrame, fault: tuple[str, Any, float]) -> tuple[pd.DataFrame, str]:
    kind, at, size = fault
    df = df.copy()
    if kind == "spike":
        df.loc[at, "adj_close"] *= size
        return df, str(df["date"].iloc[at])
    if kind in ("split", "reverse split"):
        df.loc[at:, "adj_close"] = df.loc[at:, "adj_close"] * (1 / size if kind == "split" else size)
        return df, str(df["date"].iloc[at])
    if kind == "price":
        df.loc[at, "adj_close"] = size
        return df, str(df["date"].iloc[at])
    if kind == "weekend":
        day = pd.Timestamp(df["date"].iloc[at])
        day = day + pd.Timedelta(days=(5 - day.weekday()) % 7)  # the Saturday after
    else:
        day = pd.Timestamp(at)
    row = pd.DataFrame({"date": [str(day.date())], "adj_close": [float(df["adj_close"].iloc[0])]})
    df = pd.concat([df[df["date"] != str(day.date())], row]).sort_values("date").reset_index(drop=True)
    return df, str(day.date())


@settings(max_examples=PRICE_EXAMPLES, **BOUNDED)
@given(fault=faults)
def test_corrupted_price_file_is_one_data_error_naming_the_date(world, tmp_path_factory, fault):
    data = tmp_path_factory.mktemp("d")
    shutil.copytree(world["data"], data, dirs_exist_ok=True)
    df, day = _inject(_clean(world), fault)
    df.to_csv(data / "prices" / "SPY.csv", index=False)
    with pytest.raises(DataError) as exc:
        CsvSource(data).load(["SPY", "IEF"], [], None, None)
    msg = str(exc.value)
    assert len(msg.splitlines()) == 1 and "SPY.csv" in msg and "SPY" in msg, msg
    if fault[0] != "spike" or fault[2] >= 2.5:
        assert day in msg or fault[0] == "price", (day, msg)


@settings(max_examples=20, **BOUNDED)
@given(scale=st.floats(0.01, 1e4), vol=st.floats(0.0, 0.05), seed=st.integers(0, 2**16))
def test_clean_price_files_pass(world, tmp_path_factory, scale, vol, seed):
    data = tmp_path_factory.mktemp("ok")
    shutil.copytree(world["data"], data, dirs_exist_ok=True)
    df = _clean(world)
    rng = np.random.default_rng(seed)
    df["adj_close"] = (scale * np.cumprod(1 + rng.normal(0, vol, len(df)))).round(8)
    df.to_csv(data / "prices" / "SPY.csv", index=False)
    md = CsvSource(data).load(["SPY", "IEF"], [], None, None)
    assert np.allclose(md.prices["SPY"].to_numpy(), df["adj_close"].to_numpy())


# ---------------------------------------------------------------- identical to the clean run

@pytest.fixture(scope="module")
def clean_metrics(world) -> pd.DataFrame:
    cfg = world["root"] / "clean.yaml"
    cfg.write_text(yaml.safe_dump(base_raw(world["data"]), sort_keys=False))
    r = run_main("run", str(cfg), "--out", str(world["root"] / "clean"), "--no-report")
    assert r.code == 0, r.stderr
    return pd.read_csv(Path(r.stdout.strip().splitlines()[-1]) / "metrics.csv")


@settings(max_examples=IDENTICAL_EXAMPLES, **BOUNDED)
@given(entries=st.lists(st.tuples(st.sampled_from(["SPY", "IEF", "GLD"]),
                                  st.dates(pd.Timestamp("2019-01-01").date(), pd.Timestamp("2021-12-31").date()),
                                  st.sampled_from(["spike", "split", "jump", "price", "closed_day"])),
                        min_size=1, max_size=3))
def test_unused_allow_entries_leave_the_run_identical(world, clean_metrics, tmp_path_factory, entries):
    raw = base_raw(world["data"])
    raw["data"]["allow"] = [{"series": s, "date": str(d), "kind": k} for s, d, k in entries]
    tmp = tmp_path_factory.mktemp("a")
    cfg = tmp / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    r = run_main("run", str(cfg), "--out", str(tmp / "res"), "--no-report")
    assert r.code == 0, r.stderr
    got = pd.read_csv(Path(r.stdout.strip().splitlines()[-1]) / "metrics.csv")
    pd.testing.assert_frame_equal(got, clean_metrics)
