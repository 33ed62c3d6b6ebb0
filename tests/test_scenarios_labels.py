"""Causal regime labels on simulated days (backtest/synthetic/labels/sim_labels.py, regimes/rules_batch.py).

* the vectorised rules machine equals ``rules.classify`` day by day (history, other params,
  resumed half-way);
* on simulated paths, the labels equal the real ``RulesModel`` run on each path's own
  ``MarketData`` (history + simulated days);
* a planted change from a runoff state to a QE-sized growth state is seen only after the
  classifier's ``confirm_days`` (the label lags the hidden state), while ``labels: state``
  shows it the same day;
* perturbing what happens after day ``t`` never changes labels up to ``t``;
* calendar labels: a bootstrapped day keeps its history day's label, a parametric day the
  ``t0`` label; the batch and the per-path routes see the same labels.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from backtest.config import DEFAULT_MACRO, DEFAULT_UNIVERSE, config_from_dict
from backtest.data.release import release_dates
from backtest.data.sample import SampleSource
from backtest.errors import ScenarioError
from backtest.regimes.markov import hamilton_filter
from backtest.regimes.markov import transform_array as transform
from backtest.regimes.models import make_regime_model
from backtest.regimes.rules import RulesModel, classify, dwell_filter
from backtest.regimes.rules_batch import (
    MachineState,
    dwell_batch,
    funding_flags,
    kinds_of,
    recent_stress,
    run_rules,
)
from backtest.regimes.rules_params import load_rules_params
from backtest.regimes.signals import liquidity_signals
from backtest.synthetic import runner
from backtest.synthetic.evaluate.vector_strategies import PathBatch, path_frame, state_labels
from backtest.synthetic.labels.path_signals import PathSignals
from backtest.synthetic.labels.sim_labels import label_codes, make_labeler
from backtest.synthetic.model.generator import generate
from backtest.synthetic.scenarios import scenarios_from_dict
from backtest.synthetic.writer import provenance

RULE_INPUTS = ("walcl_chg_13w", "treast_chg_13w", "walcl_chg_4w", "treast_chg_4w")
PACE = 1500.0  # bn/month in the planted growth state: W13 of thousands of bn, far above every qe threshold

PLANTED = {
    "start": "2025-12-12", "horizon_days": 90, "mean_block_days": 5,
    "states": {"runoff": {"kind": "qt", "analogues": [{"rule": {"regime_kind": ["qt"]}}]},
               "boom": {"kind": "qe", "paced": True, "analogues": [{"rule": {"regime_kind": ["qe"]}}]}},
    "scenarios": {"A": {"probability": 1.0, "pace_bn_month": PACE, "start_state": "runoff",
                        "transitions": {"runoff": {"runoff": 0.96, "boom": 0.04}, "boom": {"boom": 1.0}}}},
}


def cfg(source: str, model: str = "rules", params: dict | None = None):
    data = {"source": "sample"} if source == "sample" else {"source": "csv", "dir": "unused"}
    regimes = {"model": model, **({"params": params} if params else {})}
    return config_from_dict({"name": "lab", "data": data, "regimes": regimes,
                             "strategies": [{"name": "spy", "kind": "buy_and_hold",
                                             "params": {"weights": {"SPY": 1.0}}}]})


@pytest.fixture(scope="module")
def md():
    return SampleSource(seed=5).load(list(DEFAULT_UNIVERSE), list(DEFAULT_MACRO), None, None)


@pytest.fixture(scope="module", params=["csv", "sample"])
def planted(request, md):
    prep = runner.prepare(cfg(request.param), scenarios_from_dict(PLANTED), md=md)
    pan = generate(prep.contexts["A"], 3, 0, 8)
    return prep, pan


# ------------------------------------------------------------------ the machine itself


@pytest.mark.parametrize("overrides", [{}, {"confirm_days": 3, "min_dwell_days": 0},
                                       {"labels": ["qe", "plateau", "qt"], "qe_exit_4w": 5.0}])
def test_batch_machine_equals_classify_on_history(md, overrides):
    p = load_rules_params(overrides)
    sig = liquidity_signals(md)
    ref = classify(sig, p)
    rec = recent_stress(funding_flags(sig["sofr_iorb"].to_numpy(), p), p.funding_memory_days)
    x = {k: sig[k].to_numpy() for k in RULE_INPUTS}
    reg, raw, _ = run_rules(x, rec, p)
    assert list(kinds_of(reg[:, 0])) == list(ref["regime"])
    assert list(kinds_of(raw[:, 0])) == list(ref["raw_regime"])
    assert len(set(ref["regime"])) >= 2  # the history exercises switches
    n = len(sig) // 2  # resuming from the state after day n-1 gives the same labels
    r1, _, st = run_rules({k: v[:n] for k, v in x.items()}, rec[:n], p)
    r2, _, _ = run_rules({k: v[n:] for k, v in x.items()}, rec[n:], p, st)
    assert list(kinds_of(np.concatenate([r1, r2])[:, 0])) == list(ref["regime"])


def test_recent_stress_window_by_hand():
    f = np.array([0, 1, 0, 0, 0, 1, 0], dtype=bool)
    np.testing.assert_array_equal(recent_stress(f, 3)[:, 0], [0, 1, 1, 1, 0, 1, 1])
    np.testing.assert_array_equal(recent_stress(f, 3, skip=2)[:, 0], [1, 1, 0, 1, 1])


def test_initial_state_broadcast():
    p = load_rules_params()
    st = MachineState.initial(p).broadcast(3)
    assert list(kinds_of(st.state)) == [p.initial] * 3 and (st.pending == -1).all()


# ------------------------------------------------------------------ on simulated paths


def test_rules_labels_equal_the_scalar_classifier_per_path(planted):
    prep, pan = planted
    ps = PathSignals(pan)
    lab = prep.labelers["A"].labels(pan, ps)
    hist = prep.labels["A"]["regime"].to_numpy(dtype=object)
    for i in (0, 3, 7):
        md_i = pan.market_data(i)
        ref = RulesModel().label(md_i, md_i.calendar)["regime"].to_numpy(dtype=object)
        assert len(ref) == ps.H + pan.states.shape[1]
        assert list(ref[: ps.H]) == list(hist)
        assert list(ref[ps.H:]) == list(lab[i]), f"path {i}"


def test_label_lags_a_planted_state_change(planted):
    prep, pan = planted
    confirm = load_rules_params().confirm_days
    lab = prep.labelers["A"].labels(pan, PathSignals(pan))
    boom = pan.states == 1
    assert prep.labels["A"]["regime"].iloc[-1] != "qe"  # not QE at t0
    seen = 0
    for i in range(pan.paths):
        if not boom[i].any():
            continue
        c = int(np.argmax(boom[i]))
        assert "qe" not in set(lab[i, :c])  # no label anticipates the change
        q = np.flatnonzero(lab[i] == "qe")
        if len(q) and c + confirm + 10 < boom.shape[1]:
            assert q[0] - c >= confirm, f"path {i}: state change on day {c}, label qe on day {q[0]}"
            seen += 1
        assert state_labels(pan)[i, c] == "qe"  # the optimistic labels know it at once
    assert seen >= 3


def _perturb_after(pan, t: int):
    """Copy of a panel with every simulated observation not yet released at the close of day ``t`` changed."""
    day = pan.ctx.days[t]

    def bump(name, dates, v, k):
        v = v.copy()
        v[:, (release_dates(name, pd.DatetimeIndex(dates)) > day).to_numpy()] *= k
        return v

    weekly = {n: bump(n, pan.weekly_dates, v, 0.5) for n, v in pan.weekly.items()}
    daily = {n: bump(n, pan.ctx.days, v, 3.0) for n, v in pan.daily.items()}
    return dataclasses.replace(pan, weekly=weekly, daily=daily)


@pytest.mark.parametrize("params", [None, {"confirm_days": 1, "min_dwell_days": 0}])
def test_labels_have_no_look_ahead(md, params):
    # without the anti-flicker filter a peek of even one day would show at once
    prep = runner.prepare(cfg("csv", params=params), scenarios_from_dict(PLANTED), md=md)
    pan = generate(prep.contexts["A"], 3, 0, 8)
    lab = prep.labelers["A"].labels(pan, PathSignals(pan))
    changed_after = False
    for t in range(8, 80, 3):  # every weekday (H.4.1 Wednesdays are released on Thursdays)
        other = _perturb_after(pan, t)
        lab2 = prep.labelers["A"].labels(other, PathSignals(other))
        assert (lab2[:, : t + 1] == lab[:, : t + 1]).all(), f"labels up to day {t} moved"
        changed_after |= bool((lab2[:, t + 1:] != lab[:, t + 1:]).any())
    assert changed_after  # the perturbation is strong enough to matter later


# ------------------------------------------------------------------ calendar, routes, switch


@pytest.mark.parametrize("source", ["csv", "sample"])
def test_calendar_labels_from_history_day_or_t0(md, source):
    raw = copy.deepcopy(PLANTED)  # the growth state is called plateau but draws calendar-qe days
    raw["states"]["boom"]["kind"] = "plateau"
    prep = runner.prepare(cfg(source, "calendar"), scenarios_from_dict(raw), md=md)
    pan = generate(prep.contexts["A"], 4, 0, 5)
    lab = prep.labelers["A"].labels(pan)
    if source == "csv":
        full = make_regime_model(prep.cfg.regimes).label(md, prep.history.dates)["regime"].to_numpy(dtype=object)
        assert pan.rows is not None
        assert list(lab.ravel()) == list(full[pan.rows.ravel()])
        assert "simulated days carry the calendar label" in " ".join(prep.notes)
    else:  # t0 = 2025-12-11 is PLATEAU4; RMP2025 (rmp, open) was announced 2025-12-10, effective 2025-12-12
        assert prep.labels["A"]["regime"].iloc[-1] == "plateau"
        assert (lab == "rmp").all()
        assert "calendar as announced by t0 (rmp 90 d" in " ".join(prep.notes)
    boom = pan.states == 1
    assert boom.any() and (state_labels(pan)[boom] == "plateau").all()
    if source == "csv":
        assert (lab[boom] == "qe").all()  # what those history days were, not what the state is called


def test_batch_and_per_path_routes_see_the_same_labels(planted):
    prep, pan = planted
    ps = PathSignals(pan)
    sim = prep.labelers["A"].labels(pan, ps)
    grid = prep.grids["A"]
    hl = prep.labels["A"]
    batch = PathBatch(pan, ps, hl["regime"], grid, sim)
    for i in (1, 4):
        _, sf = path_frame(pan, i, hl, sim)
        ref = sf.regime.reindex(grid.dates).to_numpy(dtype=object)
        assert list(batch.regime[:, i]) == [str(x) for x in ref]
        frame = sf.extra["regime_labels"]
        assert list(frame["regime"].to_numpy(dtype=object)[-len(pan.ctx.days):]) == list(sim[i])
        assert frame["regime_id"].notna().all()


class OneHistoryModel:
    """A user's regime model with only ``label`` (no batch form): qe while SPY is above its 20-day mean."""

    name = "one_history"

    def label(self, md, days):
        px = md.prices["SPY"].reindex(days)
        above = (px > px.rolling(20, min_periods=1).mean()).to_numpy()
        return pd.DataFrame({"regime": np.where(above, "qe", "qt")}, index=days)

    def reads(self, signals):
        return "SPY against its 20-day mean"


def test_a_model_without_a_batch_form_labels_each_path_with_its_own_label(planted):
    prep, pan = planted
    ctx = prep.contexts["A"]
    model = OneHistoryModel()
    lab = make_labeler("model", model, "one_history", ctx, model.label(ctx.history, ctx.history.calendar))
    assert lab.method == "per_path" and "path by path" in lab.note
    got = lab.labels(pan)
    t_n = pan.states.shape[1]
    for i in (0, 5):
        md_i = pan.market_data(i)
        assert list(got[i]) == list(model.label(md_i, md_i.calendar)["regime"].to_numpy(dtype=object)[-t_n:])
    assert {"qe", "qt"} <= set(got.ravel())


def test_state_switch_restores_hidden_state_labels(md):
    raw = {**PLANTED, "labels": "state"}
    prep = runner.prepare(cfg("csv"), scenarios_from_dict(raw), md=md)
    pan = generate(prep.contexts["A"], 3, 0, 4)
    np.testing.assert_array_equal(label_codes(prep.labelers["A"].labels(pan).ravel()),
                                  label_codes(state_labels(pan).ravel()))
    assert any("optimistic" in n for n in prep.notes)
    with pytest.raises(ScenarioError, match="labels"):
        scenarios_from_dict({**PLANTED, "labels": "oracle"}, "s.yaml")


def test_parametric_calendar_ignores_announcements_after_t0(md):
    # start 2025-12-05: t0 = 2025-12-04 in PLATEAU4 (its end 2025-12-11 is not known yet);
    # RMP2025 was announced 2025-12-10, after t0: no simulated day may read rmp
    raw = {**PLANTED, "start": "2025-12-05"}
    prep = runner.prepare(cfg("sample", "calendar"), scenarios_from_dict(raw), md=md)
    lab = prep.labelers["A"].labels(generate(prep.contexts["A"], 4, 0, 3))
    assert (lab == "plateau").all()


def test_rules_labels_run_is_chunk_invariant_and_recorded(md):
    conf = config_from_dict({"name": "lab", "data": {"source": "csv", "dir": "unused"}, "regimes": {"model": "rules"},
                             "strategies": [{"name": "playbook", "kind": "rmp_playbook"}]})
    sset = scenarios_from_dict({**PLANTED, "horizon_days": 40})
    side = {"pace_effect_paths": 4, "channel_effect_paths": 4, "sensitivity_paths": 4}
    a = runner.run_scenarios(conf, sset, paths=10, seed=2, md=md, **side)
    b = runner.run_scenarios(conf, sset, paths=10, seed=2, md=md, chunk_size=3, **side)
    pd.testing.assert_frame_equal(a.scenario_metrics, b.scenario_metrics)
    for key in ("pace_effect", "channel_effect", "pool_table", "separation"):  # the side tables too
        pd.testing.assert_frame_equal(a.extras[key], b.extras[key])
    pd.testing.assert_frame_equal(a.extras["pool_sensitivity"].table, b.extras["pool_sensitivity"].table)
    prov = provenance(a, "run")
    assert prov["settings"]["sim_labels"] == "model"
    assert prov["settings"]["regime_model"].startswith("rules: simulated days are labelled by the rules classifier")


# ------------------------------------------------------------------ markov (frozen-parameter filter)


def test_dwell_batch_equals_dwell_filter():
    rng = np.random.default_rng(0)
    p = load_rules_params()
    for confirm, dwell in ((1, 0), (3, 5), (10, 21)):
        cand = np.repeat(rng.integers(0, 4, (5, 80)), 4, axis=1)
        out, _ = dwell_batch(cand, MachineState.initial(p, 5), confirm, dwell)
        for i in range(5):
            assert list(dwell_filter(list(kinds_of(cand[i])), "plateau", confirm, dwell)) == list(kinds_of(out[i]))


@pytest.fixture(scope="module")
def markov(md):
    prep = runner.prepare(cfg("csv", "markov"), scenarios_from_dict(PLANTED), md=md)
    pan = generate(prep.contexts["A"], 3, 0, 8)
    return prep, pan


def test_markov_filter_equals_hamilton_filter_on_the_joined_grid(markov, md):
    prep, pan = markov
    fit = prep.labelers["A"].start  # the markov model's state at t0: its frozen fit
    assert fit is not None and "markov model's filter" in " ".join(prep.notes)
    p = fit.params
    t0 = prep.contexts["A"].t0
    days = pd.DatetimeIndex(md.calendar)
    days = days[days <= t0]
    y_hist = pd.Series(transform(liquidity_signals(md, days)[p.signal].to_numpy(), p))
    first = int(y_hist.first_valid_index())
    y_hist = y_hist.ffill().to_numpy()
    ps = PathSignals(pan)
    y_sim = transform(ps.at(p.signal, np.arange(ps.H, len(ps.calendar))).T, p)
    prob = fit.probabilities(y_sim)
    t_n = y_sim.shape[1]
    on = np.flatnonzero(((len(y_hist) + np.arange(t_n)) - first) % p.step_days == 0)
    assert len(on) >= 10
    for i in (0, 5):
        joined = np.concatenate([y_hist[first::p.step_days], y_sim[i, on]])
        ref = hamilton_filter(joined, fit.trans, fit.mu, fit.var)[-len(on):]
        np.testing.assert_allclose(prob[i, on], ref, atol=1e-9)
        j = on[3] + 1  # a day between grid points: one step from the last grid point, own observation
        lik = np.exp(-0.5 * (y_sim[i, j] - fit.mu) ** 2 / fit.var) / np.sqrt(2 * np.pi * fit.var)
        post = (fit.trans @ ref[3]) * lik
        np.testing.assert_allclose(prob[i, j], post / post.sum(), atol=1e-9)


def test_markov_label_lags_and_does_not_look_ahead(markov):
    prep, pan = markov
    lab = prep.labelers["A"]
    confirm = lab.start.params.confirm_days
    got = lab.labels(pan, PathSignals(pan))
    boom = pan.states == 1
    seen = 0
    for i in range(pan.paths):
        if boom[i].any():
            c = int(np.argmax(boom[i]))
            assert "qe" not in set(got[i, :c])
            q = np.flatnonzero(got[i] == "qe")
            if len(q):
                assert q[0] - c >= confirm
                seen += 1
    assert seen >= 3
    for t in (9, 20, 33, 47):
        other = _perturb_after(pan, t)
        assert (lab.labels(other, PathSignals(other))[:, : t + 1] == got[:, : t + 1]).all()
