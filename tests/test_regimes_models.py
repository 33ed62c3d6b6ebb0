"""Regime models (calendar, rules, markov), their look-ahead safety, bad input, scoring and the CLI.

Most tests use a small hand-built market whose balance sheet follows a scripted sequence
plateau -> qe -> plateau -> qt -> (funding spike) -> rmp, so the expected labels are known.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.config import RegimeConfig
from backtest.data.base import MacroSeries, MarketData
from backtest.data.regime_calendar import load_calendar
from backtest.errors import ConfigError, RegimeError
from backtest.evidence.events import regime_start_paths as event_study
from backtest.regimes.markov import MarkovModel, hamilton_filter
from backtest.regimes.models import load_models, make_regime_model, model_spec
from backtest.regimes.rules import RulesModel, dwell_filter
from backtest.regimes.rules_params import load_rules_params
from backtest.regimes.scoring import regime_outputs, regime_share
from tests.helpers import run_cli

# weekly balance-sheet increments (bn) per scripted phase, and phase lengths in weeks
SCRIPT = (("plateau", 0.0, 40), ("qe", 25.0, 50), ("plateau", 0.0, 40), ("qt", -10.0, 50),
          ("plateau", 0.0, 12), ("rmp", 8.0, 40))
SPIKE_WEEK = 40 + 50 + 40 + 50 + 6  # a funding-stress spike in the plateau after qt


def scripted_market(seed: int = 0) -> tuple[MarketData, pd.Series]:
    """A hand-built market following :data:`SCRIPT`; returns it and the true weekly phase."""
    rng = np.random.default_rng(seed)
    n_w = sum(n for _, _, n in SCRIPT)
    wed = pd.date_range("2012-01-04", periods=n_w, freq="W-WED")
    phase = np.concatenate([[lab] * n for lab, _, n in SCRIPT])
    inc = np.concatenate([[d] * n for _, d, n in SCRIPT]) + rng.normal(0, 2.0, n_w)
    treast = 2_000_000 + np.cumsum(inc) * 1e3
    walcl = treast + 1_500_000 + rng.normal(0, 3_000, n_w)
    days = pd.bdate_range(wed[0], wed[-1] + pd.Timedelta(days=2))
    cal_days = pd.date_range(days[0], days[-1])
    sofr = 0.05 + rng.normal(0, 0.01, len(days))
    spike = wed[SPIKE_WEEK]
    sofr[(days >= spike) & (days < spike + pd.Timedelta(days=3))] = 0.6
    vix = 15 + np.abs(rng.normal(0, 2, len(days)))
    vix[(days >= wed[100]) & (days < wed[102])] = 40.0
    spy = 100 * np.cumprod(1 + rng.normal(0.0003, 0.01, len(days)))
    macro = {
        "WALCL": pd.Series(walcl, index=wed),
        "TREAST": pd.Series(treast, index=wed),
        "WRESBAL": pd.Series(walcl * 0.4, index=wed),
        "WDTGAL": pd.Series(np.full(n_w, 500_000.0), index=wed),
        "RRPONTSYD": pd.Series(100.0, index=days),
        "SOFR": pd.Series(sofr, index=days),
        "IORB": pd.Series(0.10, index=days),
        "DFEDTARU": pd.Series(0.25, index=cal_days),
        "VIX": pd.Series(vix, index=days),
        "VIX3M": pd.Series(vix + 1.0, index=days),
        "DGS10": pd.Series(2.0 + rng.normal(0, 0.05, len(days)), index=days),
        "DGS2": pd.Series(1.0 + rng.normal(0, 0.05, len(days)), index=days),
        "DTB3": pd.Series(0.1, index=days),
        "CPIAUCSL": pd.Series(230 * 1.002 ** np.arange(70), index=pd.date_range("2011-01-01", periods=70, freq="MS")),
    }
    prices = pd.DataFrame({"SPY": spy}, index=days)
    prices.index.name = "date"
    md = MarketData(prices, {k: MacroSeries.from_observations(k, v) for k, v in macro.items()}, "scripted")
    return md, pd.Series(phase, index=wed)


@pytest.fixture(scope="module")
def market():
    return scripted_market()


def perturb_after(md: MarketData, t: pd.Timestamp, seed: int = 1) -> MarketData:
    """Change every price after ``t`` and every macro observation released after ``t``."""
    rng = np.random.default_rng(seed)
    prices = md.prices.copy()
    late = prices.index > t
    prices.loc[late] = prices.loc[late] * rng.uniform(0.5, 1.5, size=(int(late.sum()), prices.shape[1]))
    macro = {}
    for k, ms in md.macro.items():
        v = ms.values.copy()
        after = (ms.released > t).to_numpy()
        v[after] = v[after] * rng.uniform(0.3, 2.0, int(after.sum())) + rng.normal(0, 1.0, int(after.sum()))
        keep = ~after | (rng.uniform(size=len(v)) > 0.2)  # and drop some late observations
        macro[k] = MacroSeries(k, v[keep], ms.released[keep])
    return MarketData(prices, macro, md.source)


def weekly_truth(truth: pd.Series, days: pd.DatetimeIndex) -> pd.Series:
    return truth.reindex(days, method="ffill")


# ---------------------------------------------------------------------------- rules


def test_rules_follow_the_script(market):
    md, truth = market
    lab = RulesModel().label(md, md.calendar)
    assert set(lab.columns) >= {"regime", "regime_id", "stress"}
    assert lab["stress"].dtype == bool
    true = weekly_truth(truth, md.calendar)
    assert (lab["regime"] == true).mean() > 0.8
    # each scripted phase is recognised in its second half, rmp included (after the funding spike)
    for lab_name in ("qe", "qt", "rmp"):
        days = true.index[true == lab_name]
        second_half = days[len(days) // 2:]
        assert (lab.loc[second_half, "regime"] == lab_name).mean() > 0.95, lab_name
    # the funding spike and the VIX episode raise the stress flag
    spike = truth.index[SPIKE_WEEK] + pd.Timedelta(days=1)
    assert lab.loc[spike:spike + pd.Timedelta(days=3), "stress"].any()
    assert lab.loc[truth.index[100] + pd.Timedelta(days=1), "stress"]


def test_rules_without_funding_stress_call_growth_qe(market):
    md, truth = market
    calm = dict(md.macro)
    sofr = md.macro["SOFR"]
    calm["SOFR"] = MacroSeries("SOFR", sofr.values.clip(upper=0.08), sofr.released)
    lab = RulesModel().label(MarketData(md.prices, calm, "calm"), md.calendar)
    days = weekly_truth(truth, md.calendar)
    late_rmp = days.index[days == "rmp"][-50:]
    assert (lab.loc[late_rmp, "regime"] == "qe").all()


def test_rules_labels_do_not_flicker(market):
    md, _ = market
    noisy = dict(md.macro)
    rng = np.random.default_rng(5)
    for k in ("WALCL", "TREAST"):
        ms = md.macro[k]
        noisy[k] = MacroSeries(k, ms.values + rng.normal(0, 30_000, len(ms.values)), ms.released)
    p = load_rules_params()
    lab = RulesModel().label(MarketData(md.prices, noisy, "noisy"), md.calendar)["regime"]
    runs = (lab != lab.shift()).cumsum()
    lengths = lab.groupby(runs).size()
    assert lengths.iloc[1:-1].min() >= p.min_dwell_days


def test_dwell_filter():
    seq = ["a"] * 5 + ["b", "a"] * 5 + ["b"] * 4 + ["c"] * 10
    out = dwell_filter(seq, "a", confirm_days=3, min_dwell_days=2)
    assert list(out[:15]) == ["a"] * 15
    assert out[-1] == "c" and "b" in out  # b confirmed after 3 days, then c after 3 more


def test_rules_params_override_and_validation():
    p = load_rules_params({"vix_enter": 35, "labels": ["qe", "plateau", "qt"]})
    assert p.vix_enter == 35 and "rmp" not in p.labels and p.qe_enter_walcl_13w == 100.0
    with pytest.raises(ConfigError, match=r"regimes\.params\.labels.*unknown regime label 'qe4'"):
        RulesModel({"labels": ["qe", "plateau", "qe4"]})
    with pytest.raises(ConfigError, match=r"regimes\.params\.initial.*unknown regime label 'boom'"):
        RulesModel({"initial": "boom"})
    with pytest.raises(ConfigError, match=r"unknown key 'vix_entr'.*did you mean 'vix_enter'"):
        RulesModel({"vix_entr": 20})
    with pytest.raises(ConfigError, match="vix_exit must not exceed vix_enter"):
        RulesModel({"vix_enter": 20, "vix_exit": 25})


# ---------------------------------------------------------------------------- markov

MARKOV_FAST = {"min_history": 252, "refit_every": 63, "step_days": 5}


def test_markov_filter_matches_statsmodels():
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    rng = np.random.default_rng(0)
    y = np.concatenate([rng.normal(0, 0.3, 80), rng.normal(2, 0.5, 60), rng.normal(-1, 0.3, 80)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MarkovRegression(y, k_regimes=3, switching_variance=True).fit(
            disp=False, search_reps=0, cov_type="none", em_iter=20, maxiter=0)
    names = res.model.param_names
    mu = np.array([res.params[names.index(f"const[{i}]")] for i in range(3)])
    var = np.array([res.params[names.index(f"sigma2[{i}]")] for i in range(3)])
    P = res.model.regime_transition_matrix(res.params)[:, :, 0]
    ours = hamilton_filter(y, P, mu, var)
    assert np.allclose(ours, np.asarray(res.filtered_marginal_probabilities), atol=1e-8)


def test_markov_labels_and_probabilities(market):
    md, truth = market
    lab = MarkovModel(MARKOV_FAST).label(md, md.calendar)  # speed: benchmarks/bench_test_timings.py
    probs = lab[["p_qt", "p_plateau", "p_qe"]]
    live = probs.notna().all(axis=1)
    assert live.mean() > 0.6 and not live.iloc[0]
    assert np.allclose(probs[live].sum(axis=1), 1.0)
    assert (lab.loc[~live, "regime_id"] == "WARMUP").all()
    true = weekly_truth(truth, md.calendar)
    qt_days = true.index[true == "qt"][25:]
    assert (lab.loc[qt_days, "regime"] == "qt").mean() > 0.9  # lowest-mean state = qt after every refit


def test_markov_smoothed_probabilities_cannot_be_requested():
    for params in ({"smoothed": True}, {"probabilities": "smoothed"}, {"use_smoothed_probabilities": 1}):
        with pytest.raises(ConfigError, match="smoothed probabilities use data after the decision date"):
            make_regime_model(RegimeConfig(model="markov", params=params))


def test_markov_bad_params():
    with pytest.raises(ConfigError, match=r"regimes\.params\.labels.*unknown regime label 'boom'"):
        MarkovModel({"labels": ["qt", "boom"]})
    with pytest.raises(ConfigError, match=r"regimes\.params\.signal.*unknown signal 'walcl13'"):
        MarkovModel({"signal": "walcl13"})


# ---------------------------------------------------------------------------- look-ahead, every model


@pytest.mark.parametrize("name,params", [
    ("calendar", {}),
    ("rules", {}),
    ("markov", MARKOV_FAST),
    ("markov", {**MARKOV_FAST, "signal": "spy_rv_1m", "transform": "none", "scale": 10.0, "labels": ["plateau", "qe"]}),
])
def test_no_look_ahead(market, name, params):
    md, truth = market
    model = make_regime_model(RegimeConfig(model=name, params=params))
    base = model.label(md, md.calendar)
    for k, t in enumerate((truth.index[95] + pd.Timedelta(days=1), truth.index[SPIKE_WEEK + 20])):
        other = model.label(perturb_after(md, t, seed=k + 1), md.calendar)
        pd.testing.assert_frame_equal(base.loc[:t], other.loc[:t], check_exact=True)
        if name != "calendar":
            changed = other.drop(columns=["regime_id"]).loc[t:].ne(base.drop(columns=["regime_id"]).loc[t:])
            assert changed.any().any()  # the perturbation is not a no-op


# ---------------------------------------------------------------------------- bad input


def test_missing_macro_series_names_series_and_model(market):
    md, _ = market
    no_treast = MarketData(md.prices, {k: v for k, v in md.macro.items() if k != "TREAST"}, "csv:/x")
    with pytest.raises(RegimeError, match=r"regime model 'rules' needs macro series TREAST .*treast_chg_13w"):
        RulesModel().label(no_treast, md.calendar)
    no_sofr = MarketData(md.prices, {k: v for k, v in md.macro.items() if k != "SOFR"}, "csv:/x")
    with pytest.raises(RegimeError, match=r"regime model 'markov' needs macro series SOFR"):
        MarkovModel({**MARKOV_FAST, "signal": "sofr_iorb"}).label(no_sofr, md.calendar)
    with pytest.raises(RegimeError, match="VIX or VIXCLS"):
        RulesModel().label(MarketData(md.prices, {k: v for k, v in md.macro.items() if k != "VIX"}, "x"), md.calendar)


def _calendar_file(tmp_path: Path, rows: str) -> Path:
    p = tmp_path / "cal.yaml"
    p.write_text("regimes:\n" + rows)
    return p


def test_calendar_overlapping_or_unordered(tmp_path):
    overlap = _calendar_file(tmp_path, (
        "  - {id: A, kind: qe, announced: 2010-01-01, effective: 2010-01-04, end: 2010-06-30}\n"
        "  - {id: B, kind: qt, announced: 2010-05-01, effective: 2010-05-03, end: 2010-12-31}\n"))
    with pytest.raises(RegimeError, match=r"regimes overlap: B starts 2010-05-03 before A ends \(2010-06-30\)") as e:
        make_regime_model(RegimeConfig(model="calendar", calendar=str(overlap)))
    assert len(str(e.value).splitlines()) == 1 and "cal.yaml" in str(e.value)
    unordered = _calendar_file(tmp_path, (
        "  - {id: A, kind: qe, announced: 2011-01-01, effective: 2011-01-04, end: 2011-06-30}\n"
        "  - {id: B, kind: qt, announced: 2010-05-01, effective: 2010-05-03, end: 2010-12-31}\n"))
    with pytest.raises(RegimeError, match="regimes not ordered: B"):
        load_calendar(unordered)
    bad_kind = _calendar_file(tmp_path, "  - {id: A, kind: qe5, announced: 2011-01-01, effective: 2011-01-04}\n")
    with pytest.raises(RegimeError, match="regime A: unknown regime kind 'qe5'"):
        load_calendar(bad_kind)


def test_calendar_labels_equal_a_plain_pandas_loop():
    cal = load_calendar()

    def by_loop(days: pd.DatetimeIndex, by: str) -> pd.DataFrame:  # the rule, on pandas comparisons
        kind = np.full(len(days), "plateau", dtype=object)
        rid = np.full(len(days), "PRE", dtype=object)
        for i, r in enumerate(cal.regimes):
            nxt = cal.regimes[i + 1].start(by) if i + 1 < len(cal.regimes) else None
            in_reg = (days >= r.start(by)) & ((days < nxt) if nxt is not None else True)
            live = in_reg & ((days <= r.end) if r.end is not None else True)
            kind[live], rid[live] = r.kind, r.id
            kind[in_reg & ~live], rid[in_reg & ~live] = "plateau", "GAP"
        return pd.DataFrame({"regime": kind, "regime_id": rid}, index=days)

    rng = np.random.default_rng(4)
    for days in (pd.bdate_range("1995-01-01", "2030-12-31"), pd.date_range("2008-01-01", "2026-12-31", freq="5h"),
                 pd.DatetimeIndex(rng.permutation(pd.bdate_range("2005-01-01", "2026-01-01"))).as_unit("s")):
        for by in ("effective", "announced"):
            pd.testing.assert_frame_equal(cal.label(days, by), by_loop(days, by))


def test_calendar_is_parsed_once_per_unchanged_file(tmp_path):
    f = _calendar_file(tmp_path, "  - {id: A, kind: qe, announced: 2011-01-01, effective: 2011-01-04}\n")
    first = load_calendar(f)
    assert load_calendar(f) is first  # cached: immutable
    f.write_text(f.read_text().replace("kind: qe,", "kind: qt,"))  # same size: the modification time moves
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    again = load_calendar(f)
    assert again is not first and again.regimes[0].kind == "qt"


def test_unknown_model_and_calendar_params():
    with pytest.raises(ConfigError, match="calendar model takes no params"):
        make_regime_model(RegimeConfig(model="calendar", params={"x": 1}))


def test_the_config_names_a_registered_model_with_a_did_you_mean():
    from backtest.config import config_from_dict

    raw = {"name": "x", "strategies": [{"name": "a", "kind": "fixed_weights", "params": {"weights": {"SPY": 1.0}}}]}
    with pytest.raises(ConfigError, match=r"regimes\.model: unknown regime model 'markv' \(did you mean 'markov'\?\)"):
        config_from_dict({**raw, "regimes": {"model": "markv"}})
    assert config_from_dict({**raw, "regimes": {"model": "markov"}}).regimes.model == "markov"
    with pytest.raises(ConfigError, match=r"regimes\.model: unknown regime model 'markv' \(did you mean 'markov'\?\)"):
        model_spec("markv")  # the registry's own door says the same


def test_every_registered_model_builds_from_its_config():
    for name, spec in load_models().items():
        model = make_regime_model(RegimeConfig(model=name))
        assert type(model) is spec.cls and model.name == name and spec.doc
        assert model.reads({}) and "n/a" not in model.reads({"walcl_chg_13w": 41.7, "treast_chg_4w": 2.0,
                                                             "sofr_iorb": 0.1})


# ---------------------------------------------------------------------------- scoring


def test_regime_share_and_event_study():
    days = pd.bdate_range("2020-01-01", periods=200)
    lab = pd.DataFrame({"regime": ["qt"] * 100 + ["qe"] * 100}, index=days)
    lab["regime_id"] = np.where(np.arange(200) < 100, "QT@a", "QE@b")
    returns = pd.DataFrame({"a": 0.001, "b": np.nan}, index=days)
    returns.iloc[150:, 1] = 0.002  # b is invested only from day 150
    rf = pd.Series(0.0004, index=days)
    share = regime_share(returns, lab)
    assert share.loc[share.strategy == "a", "share"].tolist() == [0.5, 0.5]
    assert share.loc[share.strategy == "b"].to_dict("records") == [{"strategy": "b", "regime": "qe", "days": 50, "share": 1.0}]
    ev = event_study(returns, lab, rf)
    assert list(ev.columns) == ["strategy", "regime_id", "regime", "start", "day", "cum_excess"]
    a = ev[ev.strategy == "a"]
    assert a.day.min() == -20 and a.day.max() == 60 and len(a) == 81
    assert a.regime_id.unique().tolist() == ["QE@b"] and a.start.iloc[0] == days[100]
    assert a.set_index("day").loc[60, "cum_excess"] == pytest.approx(1.0006 ** 81 - 1)
    b = ev[ev.strategy == "b"].set_index("day")["cum_excess"]
    assert b.loc[:49].isna().all()  # not invested yet
    assert b.loc[60] == pytest.approx(1.0016 ** 11 - 1)
    out = regime_outputs(returns, lab)
    assert set(out) == {"regime_share"}


# ---------------------------------------------------------------------------- the sample market and the CLI


def test_sample_market_carries_the_signals():
    from backtest.config import DEFAULT_MACRO
    from backtest.data.sample import SampleSource
    from backtest.regimes.signals import liquidity_signals

    md = SampleSource(7).load(["SPY"], list(DEFAULT_MACRO), None, None)
    sig = liquidity_signals(md)
    for c in ("walcl_chg_13w", "treast_chg_13w", "net_liquidity", "reserves", "sofr_iorb", "curve_2s10s",
              "cash_rate", "vix", "vix_term", "spy_rv_1m", "cpi_yoy"):
        assert sig[c].notna().mean() > 0.3, c
    cal = load_calendar().label(md.calendar)["regime"]
    flow = sig["walcl_chg_13w"].groupby(cal).mean()
    assert flow["qe"] > flow["rmp"] > flow["plateau"] > flow["qt"]
    assert sig.loc[sig.index < "2018-04-03", "sofr_iorb"].isna().all()  # no SOFR before it existed
    lab = RulesModel().label(md, md.calendar)
    assert (lab["regime"] == cal).mean() > 0.6


def test_cli_regimes_offline(tmp_path):
    r = run_cli("regimes", "--out", str(tmp_path))
    assert r.exit_code == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    folder = Path(last)
    assert folder.parent == tmp_path and folder.name.startswith("regimes-")
    for f in ("timeline.csv", "labels.csv", "regimes.png"):
        assert (folder / f).stat().st_size > 0, f
    # no calendar-vs-calendar self-comparison
    assert "vs calendar" not in r.stdout and not (folder / "agreement.csv").exists()
    tl = pd.read_csv(folder / "timeline.csv")
    assert {"start", "end", "label", "days", "walcl_chg_13w", "vix"} <= set(tl.columns)
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # nothing else (no temp folder) left


def test_cli_regimes_rules_model(tmp_path):
    r = run_cli("regimes", "--model", "rules", "--out", str(tmp_path))
    assert r.exit_code == 0, r.stderr
    assert "agreement rules vs calendar" in r.stdout
    lab = pd.read_csv(Path(r.stdout.strip().splitlines()[-1]) / "labels.csv")
    assert {"regime", "regime_id", "stress", "calendar", "sofr_iorb"} <= set(lab.columns)


def test_cli_regimes_errors(tmp_path):
    r = run_cli("regimes", "--model", "hmm", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "unknown regime model 'hmm'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: x\ndata: {source: sample}\nregimes: {model: rules, params: {labels: [qe, plateau, bust]}}\n"
                   "strategies: [{name: s, kind: buy_and_hold, params: {weights: {SPY: 1.0}}}]\n")
    r = run_cli("regimes", str(cfg), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "unknown regime label 'bust'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_rules_defaults_file_must_be_text_and_unique_keys(tmp_path):
    """The rules thresholds file is read like configs: regular text, strict YAML (issue 16)."""
    from backtest.errors import ConfigError
    from backtest.regimes.rules_params import load_rules_params

    binary = tmp_path / "rules.yaml"
    binary.write_bytes(b"\x00\x01\x02\xff")
    with pytest.raises(ConfigError, match="rules.yaml"):
        load_rules_params(path=binary)
    dup = tmp_path / "dup.yaml"
    dup.write_text("a: 1\na: 2\n")
    with pytest.raises(ConfigError, match="duplicate key"):
        load_rules_params(path=dup)
    with pytest.raises(ConfigError, match="rules thresholds file|folder|directory"):
        load_rules_params(path=tmp_path)
