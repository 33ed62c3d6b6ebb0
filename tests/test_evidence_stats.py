"""The statistics behind ``rmpbt evidence`` on small hand-built inputs (no pipeline, no data folder).

Block bootstrap (layout, counts, sums: three views of the same draws), the claims'
statistic (null: no regime effect -> *supported* at about the nominal 5 % rate; planted:
a known gold premium in easing regimes -> *supported*, intervals covering it), Carino
attribution (additive to 1e-12, against a hand computation), event windows and placebo
p-values (by hand), the calendar's events, sleeves and episodes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.config import RunConfig, StrategyConfig
from backtest.data.regime_calendar import load_calendar
from backtest.errors import ConfigError, RegimeError
from backtest.evidence.attribution import carino
from backtest.evidence.bootstrap import (
    block_counts,
    block_indices,
    block_layout,
    block_sums,
    interval,
)
from backtest.evidence.claims import (
    CLAIMS,
    CONTRADICTED,
    SUPPORTED,
    TOO_LITTLE,
    UNCLEAR,
    evaluate_claims,
    regime_difference,
    verdict,
)
from backtest.evidence.episodes import Episode, episode_list, episode_table
from backtest.evidence.events import (
    Event,
    Subject,
    calendar_events,
    compound,
    log_prefix,
    placebo_p,
    subject_study,
    window_paths,
    window_returns,
)
from backtest.evidence.history import History, episode_runs, pit_labels
from backtest.evidence.sleeves import sleeve_map
from strategies.base import build_strategy

# ----------------------------------------------------------------------------- bootstrap


@pytest.mark.parametrize("scheme", ["stationary", "circular"])
@pytest.mark.parametrize(("n", "block"), [(1, 1), (7, 50), (10, 3), (500, 21)])
def test_block_views_agree(scheme, n, block):
    """Counts (difference array) = bincount of the laid-out indices; block sums = counts @ values."""
    idx = block_indices(n, 40, block, np.random.default_rng(5), scheme)
    counts = block_counts(n, 40, block, np.random.default_rng(5), scheme)
    assert idx.shape == (40, n) and idx.min() >= 0 and idx.max() < n
    assert np.array_equal(counts, np.stack([np.bincount(r, minlength=n) for r in idx]))
    assert (counts.sum(axis=1) == n).all()
    v = np.random.default_rng(1).normal(size=(n, 3))
    sums = block_sums(v, *block_layout(n, 40, block, np.random.default_rng(5), scheme))
    np.testing.assert_allclose(sums, counts @ v, atol=1e-12)


def test_block_shapes():
    """Circular blocks have the fixed length; stationary ones average about the mean length."""
    idx = block_indices(100, 3, 10, np.random.default_rng(0), "circular")
    steps = np.diff(idx, axis=1) % 100
    assert (steps[:, [j for j in range(99) if j % 10 != 9]] == 1).all()  # consecutive inside a block
    starts, lengths = block_layout(20_000, 50, 25, np.random.default_rng(0), "stationary")
    full = lengths[:, :-1][lengths[:, 1:] > 0]  # blocks not cut by the end of the draw
    assert 23 < full.mean() < 27
    with pytest.raises(ValueError, match="unknown bootstrap scheme"):
        block_layout(10, 2, 3, np.random.default_rng(0), "moving")


def test_interval_is_the_percentile_interval():
    s = np.random.default_rng(2).normal(size=(1000, 2))
    lo, hi = interval(s, 0.9)
    np.testing.assert_allclose(lo, np.percentile(s, 5, axis=0))
    np.testing.assert_allclose(hi, np.percentile(s, 95, axis=0))
    s[:700, 1] = np.nan
    lo, hi = interval(s, 0.9)
    assert np.isfinite(lo[0]) and np.isnan(lo[1]) and np.isnan(hi[1])


# ----------------------------------------------------------------------------- claims


def regime_runs(n: int, rng: np.random.Generator, mean_run: int = 120) -> np.ndarray:
    """Alternating in/out regime runs of random length (a label per day)."""
    lab, inside = np.zeros(n, dtype=bool), bool(rng.integers(2))
    pos = 0
    while pos < n:
        ln = int(rng.integers(mean_run // 2, 3 * mean_run // 2))
        lab[pos:pos + ln] = inside
        inside, pos = not inside, pos + ln
    return lab


def test_null_claims_are_supported_at_about_the_nominal_rate():
    """No regime effect (iid returns): 'supported' (interval above 0) about 5 % of the time, 'contradicted' too."""
    n_seeds, n = 200, 1500
    verdicts = []
    for seed in range(n_seeds):
        rng = np.random.default_rng(1000 + seed)
        inside = regime_runs(n, rng)
        x = rng.normal(0.0002, 0.01, n)
        runs = np.cumsum(np.r_[True, inside[1:] != inside[:-1]])
        fig = regime_difference(x, inside, ~inside, runs, np.random.default_rng(seed), draws=200, block=21)
        assert fig.n_days + fig.n_days_rest == n and fig.n_episodes >= 3
        verdicts.append(fig.verdict)
    v = pd.Series(verdicts)
    assert set(v) <= {SUPPORTED, CONTRADICTED, UNCLEAR}
    # 90 % two-sided intervals: 5 % above zero under the null; binomial(200, 0.05) sd ~3.1
    assert 0.01 <= (v == SUPPORTED).mean() <= 0.12
    assert 0.01 <= (v == CONTRADICTED).mean() <= 0.12


def synthetic_history(seed: int, premium: float) -> History:
    """SPY and GLD on the real 2009-2026 calendar; GLD earns ``premium`` a year more on qe/rmp days."""
    cal = load_calendar()
    days = pd.bdate_range("2009-01-02", "2026-07-13")
    labels = cal.label(days, by="effective")
    easing = labels["regime"].isin(["qe", "rmp"]).to_numpy()
    rng = np.random.default_rng(seed)
    spy = rng.normal(0.0003, 0.006, len(days))
    gld = rng.normal(0.0002, 0.006, len(days)) + np.where(easing, premium / 252, 0.0)
    rets = pd.DataFrame({"SPY": spy, "GLD": gld}, index=days)
    return History(days=days, returns=rets, rf=pd.Series(0.0, index=days), labels=labels, pit=pit_labels(cal, days),
                   yields=pd.DataFrame(index=days), calendar=cal, source="synthetic", synthetic=True)


def test_planted_gold_premium_is_found_and_covered():
    """A known GLD premium in qe+rmp: the gold claim is supported and the 90 % intervals cover the premium."""
    premium = 0.30
    spec = next(c for c in CLAIMS if c.measure == "GLD - SPY")
    covered, rows = 0, []
    for seed in range(20):
        table, notes = evaluate_claims(synthetic_history(seed, premium), seed, draws=300, specs=(spec,))
        row = table.iloc[0]
        rows.append(row)
        covered += row.ci_lo <= premium <= row.ci_hi
    assert all(r.verdict == SUPPORTED for r in rows)
    assert all(r.n_episodes == 6 for r in rows)  # QE1-QE4, RMP2019, RMP2025
    assert covered >= 15  # 90 % intervals: 18 of 20 expected
    assert abs(np.mean([r.estimate for r in rows]) - premium) < 0.05


def test_claims_skip_missing_instruments_and_say_so():
    h = synthetic_history(0, 0.0)
    table, notes = evaluate_claims(h, 0, draws=50)
    assert set(table["measure"]) == {"GLD - SPY", "SPY excess return"}
    assert any("SVXY" in n for n in notes)
    premise = table.set_index("measure").loc["SPY excess return"]
    assert premise.regimes == "rmp vs plateau+qt" and premise.n_episodes == 2 and premise.verdict == TOO_LITTLE


def test_verdict_words_and_thresholds():
    assert verdict(0.01, 0.2, 300, 3, 300, 3) == SUPPORTED
    assert verdict(-0.2, -0.01, 300, 3, 300, 3) == CONTRADICTED
    assert verdict(-0.2, 0.01, 300, 3, 300, 3) == UNCLEAR
    assert verdict(0.01, 0.2, 300, 2, 300, 3) == TOO_LITTLE  # too few episodes
    assert verdict(0.01, 0.2, 251, 3, 300, 3) == TOO_LITTLE  # too few days
    assert verdict(0.01, 0.2, 300, 3, 300, 2) == TOO_LITTLE  # the rest too


def test_episode_runs_split_same_id_runs():
    lab = pd.DataFrame({"regime": ["plateau", "plateau", "qe", "plateau"], "regime_id": ["GAP", "GAP", "QE1", "GAP"]})
    assert episode_runs(lab).tolist() == [1, 1, 2, 3]


# ----------------------------------------------------------------------------- attribution


def test_carino_by_hand_and_additive():
    r = np.array([0.02, -0.01, 0.03])
    c = np.array([[0.015, 0.005], [-0.02, 0.01], [0.01, 0.02]])
    total, contrib = carino(r, c)
    big_r = 1.02 * 0.99 * 1.03 - 1.0
    k = np.log1p(r) / r
    big_k = np.log1p(big_r) / big_r
    assert float(total) == pytest.approx(big_r, abs=1e-15)
    np.testing.assert_allclose(contrib, (k[:, None] * c).sum(axis=0) / big_k, atol=1e-15)
    assert abs(contrib.sum() - big_r) < 1e-15


def test_carino_additive_to_1e12_on_long_series_and_every_draw():
    rng = np.random.default_rng(4)
    n, k = 1500, 12
    c = rng.normal(0.0, 0.004, (n, k))
    c[5] = 0.0  # a day with a zero return
    r = c.sum(axis=1)
    total, contrib = carino(r, c)
    assert abs(float(total) - (np.prod(1 + r) - 1)) < 1e-12
    assert abs(contrib.sum() - float(total)) < 1e-12
    b_total, b_contrib = carino(r, c, block_layout(n, 200, 63, rng))
    assert np.abs(b_contrib.sum(axis=1) - b_total).max() < 1e-12


# ----------------------------------------------------------------------------- events


def test_window_arithmetic_by_hand():
    x = np.array([0.01, -0.02, 0.03, 0.005, -0.01, 0.02, 0.0, 0.04])
    # anchor 3, window -1..+2: days 2, 3, 4, 5
    hand = (1.03 * 1.005 * 0.99 * 1.02) - 1.0
    path = compound(x[2:6])
    assert path[-1] == pytest.approx(hand, abs=1e-15)
    assert path[0] == pytest.approx(0.03, abs=1e-15) and path[1] == pytest.approx(1.03 * 1.005 - 1, abs=1e-15)
    prefix = log_prefix(x)
    assert window_returns(prefix, np.array([3]), -1, 2)[0] == pytest.approx(hand, abs=1e-14)
    np.testing.assert_allclose(window_paths(prefix, np.array([3]), -1, 2)[0], path, atol=1e-14)


def test_placebo_p_by_hand():
    plac = np.array([1.0, 2.0, 3.0, 4.0, 5.0])  # median 3
    assert placebo_p(5.0, plac) == pytest.approx((1 + 2) / 6)  # |1-3| and |5-3| >= 2
    assert placebo_p(3.0, plac) == pytest.approx(1.0)  # everything is at least as far
    assert placebo_p(10.0, plac) == pytest.approx(1 / 6)


def test_subject_study_uses_only_earlier_windows_of_the_same_kind():
    """Placebo windows end before the event's window starts; a later perturbation changes nothing."""
    n = 400
    days = pd.bdate_range("2020-01-01", periods=n)
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 0.01, n)
    pit = np.array(["qe"] * n, dtype=object)
    pit[:50] = "qt"
    ev = [Event("E", days[300], "qe_start", "qe")]
    rows, _ = subject_study(Subject("s", days, x, pit), ev, 0, windows=((-5, 20),), placebos=500, min_pool=10)
    x2 = x.copy()
    x2[321:] *= 3.0  # after the window's last day (300 + 20)
    rows2, _ = subject_study(Subject("s", days, x2, pit), ev, 0, windows=((-5, 20),), placebos=500, min_pool=10)
    assert rows2 == rows
    x4 = x.copy()
    x4[100:200] *= 2.0  # qe days before the event: the placebo distribution moves
    rows4, _ = subject_study(Subject("s", days, x4, pit), ev, 0, windows=((-5, 20),), placebos=500, min_pool=10)
    assert rows4[0]["cum_return"] == rows[0]["cum_return"] and rows4[0]["placebo_p"] != rows[0]["placebo_p"]
    # too few earlier days of the kind: no p-value
    rows5, _ = subject_study(Subject("s", days, x, pit), ev, 0, windows=((-5, 20),), placebos=500, min_pool=400)
    assert np.isnan(rows5[0]["placebo_p"]) and np.isfinite(rows5[0]["cum_return"])


def test_calendar_events_point_in_time():
    cal = load_calendar()
    days = pd.bdate_range("2008-01-01", "2026-07-13")
    ev = {e.id: e for e in calendar_events(cal, days)}
    assert ev["QE4 announced"].date == pd.Timestamp("2020-03-15") and "QE4 effective" not in ev  # same trading day
    assert ev["QT2 effective"].date == pd.Timestamp("2022-06-01")
    assert ev["QT2 end"].date == pd.Timestamp("2025-10-29")  # the end was announced a month ahead
    assert ev["RMP2019 end"].date == pd.Timestamp("2020-03-15")  # known with QE4's announcement
    assert ev["QE1 end"].date == pd.Timestamp("2010-04-01")  # the first day after the scheduled end
    assert ev["QE3_TAPER"].kind == "qe_taper" and ev["QT2_SLOWDOWN2"].kind == "qt_taper"
    assert "RMP2025 end" not in ev and not any(e.regime == "plateau" for e in ev.values())


def test_calendar_announcements_are_validated(tmp_path):
    base = "regimes:\n  - {id: QE1, kind: qe, announced: 2008-11-25, effective: 2008-12-01, end: 2010-03-31}\n"
    for extra, msg in (("announcements:\n  - {id: T, kind: taper, date: 2011-01-05, regime: QE1}\n", "outside regime QE1"),
                       ("announcements:\n  - {id: T, kind: hike, date: 2009-01-05, regime: QE1}\n", "unknown kind"),
                       ("announcements:\n  - {id: T, kind: taper, date: 2009-01-05, regime: QE9}\n", "unknown regime"),
                       ("announcements:\n  - {id: T, kind: taper, regime: QE1}\n", "missing date")):
        p = tmp_path / "cal.yaml"
        p.write_text(base + extra)
        with pytest.raises(RegimeError, match=msg):
            load_calendar(p)


# ----------------------------------------------------------------------------- sleeves, episodes, config


def test_playbook_sleeves():
    m = sleeve_map(build_strategy(StrategyConfig(name="p", kind="rmp_playbook")))
    assert m == {"SPY": "core", "IEF": "core", "SVXY": "short_vol", "GLD": "real_assets", "DBC": "real_assets",
                 "TIP": "real_assets", "VNQ": "real_assets", "IWM": "size_tech", "QQQ": "size_tech",
                 "SHY": "steepener", "TLT": "steepener"}
    assert sleeve_map(build_strategy(StrategyConfig(name="b", kind="buy_and_hold",
                                                    params={"weights": {"SPY": 1.0}}))) is None


def test_episode_table_by_hand():
    days = pd.bdate_range("2020-03-02", periods=6)
    rets = pd.DataFrame({"a": [0.1, -0.2, 0.1, 0.0, 0.05, 0.0], "b": [np.nan, np.nan, 0.01, 0.01, 0.01, 0.01]},
                        index=days)
    regimes = pd.Series(["qe"] * 6, index=days)
    eps = [Episode("x", days[1], days[4])]
    table, notes = episode_table(rets, regimes, eps)
    a = table.loc[table.strategy == "a"]
    np.testing.assert_allclose(a.cum_return, [-0.2, 0.8 * 1.1 - 1, 0.8 * 1.1 - 1, 0.8 * 1.1 * 1.05 - 1], atol=1e-15)
    np.testing.assert_allclose(a.drawdown, [-0.2, 0.88 - 1, 0.88 - 1, 0.924 - 1], atol=1e-15)
    b = table.loc[table.strategy == "b"]
    assert b.date.tolist() == [d.strftime("%Y-%m-%d") for d in days[2:5]]  # from its first return
    with pytest.raises(ConfigError, match="episodes: 'late'"):
        episode_table(rets, regimes, [Episode("late", pd.Timestamp("2030-01-01"), pd.Timestamp("2030-02-01"), False)])
    table, notes = episode_table(rets, regimes, [Episode("old", pd.Timestamp("1990-01-01"), pd.Timestamp("1990-02-01"))])
    assert table.empty and "skipped" in notes[0]


def test_config_episodes_key():
    raw = {"strategies": [{"name": "s", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}}]}
    cfg = RunConfig.model_validate(raw)
    assert cfg.episodes is None and "episodes" not in cfg.resolved_dict()  # old configs: same hash, same yaml
    cfg = RunConfig.model_validate({**raw, "episodes": [{"name": "Q4 2018 QT ramp", "start": "2018-11-01",
                                                         "end": "2018-12-31"}, {"name": "mine", "start": "2021-01-04",
                                                                                "end": "2021-02-01"}]})
    names = [e.name for e in episode_list(cfg.episodes)]
    assert names.count("Q4 2018 QT ramp") == 1 and names[-2:] == ["Q4 2018 QT ramp", "mine"]
    assert "episodes" in cfg.resolved_dict()
