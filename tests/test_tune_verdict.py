"""backtest.tune.verdict on synthetic returns matrices: no signal, a planted edge, costs."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from backtest.execution.spec import Costs
from backtest.tune.folds import Fold
from backtest.tune.verdict import assess, compare, held_targets, judge, switch_costs


def _folds(t: int, train: int = 500, test: int = 250) -> list[Fold]:
    out, s = [], 0
    while s + train < t:
        out.append(Fold(np.arange(s, s + train), np.arange(s + train, min(s + train + test, t))))
        s += test
    return out


def _market(rng: np.random.Generator, t: int = 1500, n: int = 40, edge: float = 0.0, who: int = 7):
    """Variants = a common market + independent tilts with no premium; ``who`` may get an edge."""
    m = rng.normal(0.0003, 0.01, t)
    tilt = rng.normal(0.0, 0.002, (t, n))
    tilt[:, who] += edge
    rf = np.full(t, 0.0001)
    bench = m + rng.normal(0.0, 0.001, t)
    return m[:, None] + tilt, m, bench, rf


def test_no_signal_says_no_evidence_every_time_and_pbo_about_one_half():
    rng = np.random.default_rng(11)
    pbos, pbos_active = [], []
    for _ in range(20):
        r, untuned, bench, rf = _market(rng)
        v = assess(r, untuned, _folds(len(r)), rf=rf, benchmark=bench, n_splits=16)
        assert v.headline != "evidence that tuning helps", v.text
        assert v.text.startswith(("no evidence", "tuning hurt")), v.text
        assert v.level in ("amber", "red")
        assert len(v.fold_rank_corr) == 4 and abs(v.median_rank_corr) < 0.6
        assert v.null is not None and v.null.runs == 200
        pbos.append(v.pbo)
        pbos_active.append(v.pbo_active)
    assert 0.35 < float(np.mean(pbos)) < 0.65
    assert 0.35 < float(np.mean(pbos_active)) < 0.65


def test_planted_edge_is_found():
    rng = np.random.default_rng(12)
    r, untuned, bench, rf = _market(rng, edge=0.0006)  # active IR of variant 7: 0.3/day, ~4.8/yr
    v = assess(r, untuned, _folds(len(r)), rf=rf, benchmark=bench, names=("pb (as configured)", "sixty_forty"))
    assert v.pbo < 0.05 and v.pbo_active < 0.05
    assert v.headline == "evidence that tuning helps" and v.level == "green", v.text
    assert v.null.p_dsr == v.null.p_oos == 1 / 201  # above every one of the 200 noise tunes
    d, c = v.deflated[0], v.oos[0]
    assert d.dsr > 0.95 and d.reference == "pb (as configured)"
    assert c.sign == 1 and c.bp_per_year == pytest.approx(0.0006 * 252 * 1e4, rel=0.35)
    assert 30 < d.n_eff <= 40  # independent tilts: nearly as many effective trials as variants
    assert [x.reference for x in v.oos] == ["pb (as configured)", "sixty_forty"]


def test_effective_trials_shrink_when_variants_barely_differ():
    """300 near-identical variants (the issue's case) count as about one trial, not 300."""
    rng = np.random.default_rng(13)
    t = 1500
    m = rng.normal(0.0003, 0.01, t)
    common_tilt = rng.normal(0, 0.002, t)
    sizes = np.linspace(0.9, 1.1, 300)
    r = m[:, None] + common_tilt[:, None] * sizes[None, :] + rng.normal(0, 1e-5, (t, 300))
    v = assess(r, m, _folds(t))
    assert v.deflated[0].n_eff < 3
    assert v.deflated[0].n_trials == 300


def test_compare_by_hand():
    track = np.array([0.01, 0.02, 0.0, 0.01])
    ref = np.array([0.0, 0.01, 0.01, 0.0])
    a = track - ref  # 0.01, 0.01, -0.01, 0.01: mean 0.005, sd 0.01
    c = compare(track, ref, "x", level=0.9)
    assert c.bp_per_year == pytest.approx(0.005 * 252 * 1e4)
    assert c.ir == pytest.approx(0.5 * math.sqrt(252))
    assert c.ir_lo < c.ir < c.ir_hi and c.days == 4
    assert a.mean() == pytest.approx(0.005)


def _null(p_dsr: float, p_oos: float, p_low: float | None = None):
    from backtest.tune.null import NullResult

    return NullResult(runs=199, seed=0, block_days=21, blocks=50, dsr=np.linspace(0.2, 0.9, 199),
                      oos_bp=np.linspace(-50, 50, 199), observed_dsr=0.6, observed_oos_bp=10.0, p_dsr=p_dsr,
                      p_oos=p_oos, p_oos_low=1.0 - p_oos if p_low is None else p_low, method="block sums")


def test_judge_words_follow_the_p_values_never_a_dsr_threshold():
    from backtest.tune.verdict import Comparison, Deflated

    high = Deflated("u", 0.99, 1.0, 0.1, 10, 5.0, 1000, 0.0, 3.0, 0.01)
    low = Deflated("u", 0.30, 1.0, 0.1, 10, 5.0, 1000, 0.0, 3.0, 0.01)
    up, flat, down = (Comparison("u", 100, 1.0, 0.2, 1.8, 500, 0.01), Comparison("u", 10, 0.1, -0.5, 0.7, 500, 0.4),
                      Comparison("u", -100, -1.0, -1.8, -0.2, 500, 0.99))
    # evidence needs both null p-values <= 0.05, whatever the deflated Sharpe's own value
    assert judge(low, flat, 0.1, 0.1, _null(0.01, 0.02))[:2] == ("green", "evidence that tuning helps")
    assert judge(high, up, 0.1, 0.1, _null(0.30, 0.02))[:2] == ("amber", "no evidence that tuning helps")
    assert judge(high, up, 0.6, 0.1, _null(0.01, 0.01))[:2] == ("amber", "evidence that tuning helps")  # PBO >= 0.5
    assert judge(high, down, 0.1, 0.1, _null(0.5, 0.99, 0.01))[:2] == ("red", "tuning hurt out of sample")
    assert judge(high, flat, 0.1, 0.1, _null(0.5, 0.98, 0.03))[0] == "red"  # below 97% of the noise tunes
    assert judge(high, flat, 0.9, 0.1, _null(0.5, 0.5))[:2] == ("amber", "no evidence that tuning helps")
    # without the null nothing is called evidence
    assert judge(high, up, 0.05, 0.05)[:2] == ("amber", "an out-of-sample gain, selection not tested against noise")
    assert judge(high, flat, 0.05, 0.05)[:2] == ("amber", "no evidence that tuning helps")
    assert judge(high, down, 0.05, 0.05)[0] == "red"
    text = judge(high, flat, 0.70, 0.13, _null(0.62, 0.45))[2]
    assert "+10 bp/yr" in text and "null p 0.45 for the out-of-sample gain and 0.62 for the deflated Sharpe" in text
    assert "PBO 0.70 on active returns, 0.13 on total returns" in text
    assert text.endswith("weakest figure: the deflated Sharpe of the in-sample gain (null p 0.62)")
    assert "little sign" not in text and "overfit" not in text
    assert judge(high, flat, 0.9, 0.1)[2].endswith("weakest figure: the out-of-sample gain (one-sided p 0.40)")
    assert judge(high, flat, 0.1, 0.1, _null(0.04, 0.03))[2].endswith("(null p 0.04)")


def test_held_targets_and_switch_costs_by_hand():
    tg = np.array([[[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]])  # one variant, three fills, two assets
    execute = np.array([[True, False, True]])
    held = held_targets(tg, execute)
    assert held[0].tolist() == [[0.5, 0.5], [0.5, 0.5], [0.2, 0.8]]
    days = pd.bdate_range("2020-01-01", periods=40)
    folds = pd.DataFrame({
        "train_start": [days[0].date(), days[10].date()], "train_end": [days[9].date(), days[19].date()],
        "test_start": [days[10].date(), days[20].date()], "test_end": [days[19].date(), days[29].date()],
        "chosen": [1, 2]})
    ctx = SimpleNamespace(spec=SimpleNamespace(costs=Costs(fee_bps=1.0, slippage_bps=2.0)))
    result = SimpleNamespace(folds=folds, days=days, chunks={1: SimpleNamespace(ctx=ctx), 2: SimpleNamespace(ctx=ctx)})
    holdings = {1: pd.DataFrame([[0.6, 0.4], [0.5, 0.5]], index=[0, 15], columns=["SPY", "IEF"]),
                2: pd.DataFrame([[0.6, 0.3, 0.1]], index=[5], columns=["SPY", "IEF", "GLD"])}
    (c,) = switch_costs(result, holdings)
    # at the close before day 20: variant 1 holds (0.5, 0.5, 0), variant 2 (0.6, 0.3, 0.1)
    assert c["traded"] == pytest.approx(0.1 + 0.2 + 0.1)
    assert c["cost"] == pytest.approx(0.4 * 0.0003)
    assert c["date"] == str(days[20].date()) and (c["from"], c["to"]) == (1, 2)


def test_metric_information_ratio_is_over_the_untuned_strategy(tmp_path):
    """``--metric information_ratio``: per training window, mean/sd x sqrt(252) of the variant's
    daily return minus the untuned strategy's (from run_backtest), averaged over folds."""
    from backtest.config import load_config
    from backtest.pipeline import run_backtest
    from backtest.tune.orchestrate import TuneRequest, run_tune
    from tests.helpers import write_tune_config

    cfg = load_config(write_tune_config(tmp_path))
    w = "strategies.mix.params.weights."
    req = TuneRequest(grid=[w + "SPY=0.2:0.5:0.1", w + "GLD=0,0.2"], metric="information_ratio",
                      walk_forward="train=12M,test=6M", strategy="mix")
    res = run_tune(cfg, req, benchmarks=False)
    base = run_backtest(cfg, "tiny").returns["mix"].reindex(res.days).fillna(0.0).to_numpy()
    rets = res.variant_returns(list(range(len(res.table)))).to_numpy()
    days = pd.DatetimeIndex(res.days)
    checked = 0
    for v in range(len(res.table)):
        irs = []
        for _, f in res.folds.iterrows():
            rows = (days >= pd.Timestamp(f["train_start"])) & (days <= pd.Timestamp(f["train_end"]))
            a = rets[rows, v] - base[rows]
            irs.append(a.mean() / a.std(ddof=1) * math.sqrt(252) if a.std() > 1e-15 else np.nan)
        expect = np.nanmean(irs) if np.isfinite(irs).any() else np.nan
        got = res.table.loc[v, "is_information_ratio"]
        if np.isfinite(expect) and abs(expect) < 1e6:
            assert got == pytest.approx(expect, rel=1e-6, abs=1e-9), v
            checked += 1
    assert checked == len(res.table) == 8
    assert res.verdict is not None and res.verdict.oos[0].reference == "mix (as configured)"


def test_target_turnover_by_hand():
    from backtest.tune.chunks import target_turnover

    # two assets, three fills; asset 0 doubles between fills 1 and 2
    tg = np.array([[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]])
    execute = np.ones((1, 3), dtype=bool)
    px = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    # fill 0: buy 1.0 from cash; fill 1: no trade; fill 2: drifted to (2/3, 1/3), back to 1/2: 1/3
    assert target_turnover(tg, execute, 252, px)[0] == pytest.approx((1.0 + 1 / 3) / 2)
    assert target_turnover(tg, execute, 504)[0] == pytest.approx(1.0 / 2 / 2)  # no prices: no drift
    skip = np.array([[True, False, False]])
    assert target_turnover(tg, skip, 252, px)[0] == pytest.approx(0.5)


def test_tune_csv_turnover_is_close_to_the_engine(tmp_path):
    """The tune's turnover column against ``run_backtest``'s simulated turnover (metrics.csv)."""
    from backtest.config import load_config
    from backtest.pipeline import run_backtest
    from backtest.tune.orchestrate import TuneRequest, run_tune
    from tests.helpers import write_tune_config

    cfg = load_config(write_tune_config(tmp_path))
    res = run_tune(cfg, TuneRequest(grid=["strategies.mix.params.weights.SPY=0.4,0.2"], strategy="mix",
                                    split="2017-06-01"), benchmarks=False)
    out = run_backtest(cfg, "tiny")
    engine = out.metrics.loc["mix", "turnover"]  # the config's mix is SPY 0.4: variant 0
    assert res.table.loc[0, "turnover"] == pytest.approx(engine, rel=0.05)
    assert res.table.loc[1, "turnover"] != pytest.approx(res.table.loc[0, "turnover"], rel=1e-3)


def test_regime_metric_deflates_on_the_regime_days_only():
    rng = np.random.default_rng(14)
    r, untuned, bench, rf = _market(rng)
    mask = np.zeros(len(r), dtype=bool)
    mask[::3] = True
    full = assess(r, untuned, _folds(len(r)), rf=rf, best=3)
    sub = assess(r, untuned, _folds(len(r)), rf=rf, best=3, in_regime=mask, regime="rmp")
    is_rows = np.unique(np.concatenate([f.train for f in _folds(len(r))]))
    assert full.deflated[0].n_obs == len(is_rows)
    assert sub.deflated[0].n_obs == mask[is_rows].sum()
    a = r[is_rows[mask[is_rows]], 3] - untuned[is_rows[mask[is_rows]]]
    assert sub.deflated[0].ir == pytest.approx(a.mean() / a.std(ddof=1) * math.sqrt(252))
    assert "in-sample rmp days" in sub.text


def test_stitched_track_pays_the_switches(tmp_path):
    """oos.csv's tuned track = the chosen variants' returns, less the switch cost on switch days."""
    from backtest.config import load_config
    from backtest.tune.orchestrate import TuneRequest, run_tune
    from tests.helpers import write_tune_config

    cfg = load_config(write_tune_config(tmp_path))
    w = "strategies.mix.params.weights."
    res = run_tune(cfg, TuneRequest(grid=[w + "SPY=0.1:0.5:0.1", w + "GLD=0,0.2"], strategy="mix",
                                    walk_forward="train=6M,test=3M"), benchmarks=False)
    chosen = [int(c) for c in res.folds["chosen"]]
    raw = res.variant_returns(sorted(set(chosen)))
    track = res.oos_returns.iloc[:, 0]
    expect = pd.concat([raw[c].loc[pd.Timestamp(f["test_start"]):pd.Timestamp(f["test_end"])]
                        for c, (_, f) in zip(chosen, res.folds.iterrows(), strict=True)])
    costs = {pd.Timestamp(c["date"]): c["cost"] for c in res.verdict.switch_costs}
    assert len(costs) == sum(a != b for a, b in zip(chosen[:-1], chosen[1:], strict=True)) > 0
    for d, c in costs.items():
        assert c > 0
        expect.loc[d] = (1 + expect.loc[d]) * (1 - c) - 1
    assert np.allclose(track.to_numpy(), expect.to_numpy(), rtol=0, atol=1e-15)
