"""Regime models on the real data set (../shared/data; skipped when absent).

The ``rules`` classifier must agree with the effective-date calendar on at least 75% of
trading days 2009-01 … 2026-07, flag the 2019 repo spike and the March-2020 dash for
cash as funding stress (and nothing in calm 2017), and call the December-2025 reserve
management purchases ``rmp`` within six weeks of their start (2025-12-12).
"""

from __future__ import annotations

import time

import pandas as pd
import pytest

from backtest.config import DEFAULT_MACRO
from backtest.data.csv_source import CsvSource
from backtest.data.regime_calendar import load_calendar
from backtest.regimes.markov import MarkovModel
from backtest.regimes.rules import RulesModel
from backtest.regimes.rules_params import load_rules_params
from backtest.regimes.signals import liquidity_signals

pytestmark = pytest.mark.realdata

START, END = pd.Timestamp("2009-01-01"), pd.Timestamp("2026-07-31")


@pytest.fixture(scope="module")
def real(shared_data):
    md = CsvSource(shared_data).load(["SPY"], list(DEFAULT_MACRO), pd.Timestamp("2007-06-01"), END)
    days = md.calendar[(md.calendar >= START) & (md.calendar <= END)]
    return md, days


@pytest.fixture(scope="module")
def rules_labels(real):
    md, days = real
    return RulesModel().label(md, md.calendar).reindex(days)


def test_rules_agree_with_the_calendar(real, rules_labels):
    md, days = real
    cal = load_calendar().label(days, by="effective")["regime"]
    agree = float((rules_labels["regime"] == cal).mean())
    assert agree >= 0.75, f"rules agree with the calendar on {agree:.1%} of days"


def test_funding_stress_episodes(real, rules_labels):
    md, days = real
    sig = liquidity_signals(md, days)
    th = load_rules_params().funding_enter
    spread = sig["sofr_iorb"]
    assert spread.loc["2019-09-17"] > th  # repo spike (the 2019-09-16 print, public on the 17th)
    assert (spread.loc["2020-03-16":"2020-03-20"] > th).any()  # dash for cash
    calm = spread.loc["2017-01-01":"2017-12-31"]
    assert not (calm > th).any()  # calm 2017 (SOFR does not exist yet: missing, never stress)
    assert calm.isna().all()
    assert rules_labels.loc["2019-09-17", "stress"] and rules_labels.loc["2020-03-18", "stress"]


def test_rmp_from_december_2025(rules_labels):
    reg = rules_labels["regime"]
    start = pd.Timestamp("2025-12-12")
    after = reg.loc[start:]
    first_rmp = after.index[after == "rmp"][0]
    assert first_rmp <= start + pd.Timedelta(weeks=6), first_rmp
    assert (reg.loc[first_rmp:] == "rmp").all()  # and it stays rmp to the end of the data


def test_markov_full_history_is_fast_and_causal(real):
    md, days = real
    t0 = time.perf_counter()
    lab = MarkovModel().label(md, md.calendar)
    elapsed = time.perf_counter() - t0
    assert elapsed < 20, f"markov took {elapsed:.1f}s"
    live = lab[["p_qt", "p_plateau", "p_qe"]].dropna()
    assert len(live) > 0.8 * len(lab.loc[START:])
    # causal: labelling a truncated history reproduces the full-history labels up to the cut
    cut = pd.Timestamp("2020-06-30")
    short = MarkovModel().label(md.slice(None, cut), md.calendar[md.calendar <= cut])
    pd.testing.assert_frame_equal(lab.loc[:cut], short, check_exact=True)
