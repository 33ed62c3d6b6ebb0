"""Scenario definitions: the shipped file, validation errors (one line), Markov chains."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from backtest.errors import ScenarioError
from backtest.synthetic.scenarios import (
    load_scenarios,
    scenarios_from_dict,
    simulate_chain,
    transition_matrix,
)
from tests.helpers import run_cli

REPO = Path(__file__).resolve().parents[1]

SMALL = {
    "start": "2025-12-12",
    "horizon_days": 40,
    "mean_block_days": 5,
    "states": {
        "calm": {"kind": "rmp", "paced": True,
                 "analogues": [{"regime": "RMP2019", "end": "2020-02-19"}, {"regime": "RMP2025"}]},
        "stress": {"kind": "qt", "analogues": [{"start": "2019-09-10", "end": "2019-10-14"},
                                               {"start": "2020-02-20", "end": "2020-03-23"}]},
    },
    "scenarios": {
        "A": {"probability": 0.6, "pace_bn_month": 25, "start_state": "calm",
              "durations": {"calm": 30, "stress": 10}, "exits": {"calm": {"stress": 1.0}, "stress": {"calm": 1.0}}},
        "B": {"probability": 0.4, "pace_bn_month": 45, "start_state": "stress",
              "transitions": {"calm": {"calm": 0.95, "stress": 0.05}, "stress": {"stress": 0.9, "calm": 0.1}}},
    },
}


def small(**changes) -> dict:
    """A copy of SMALL with dotted-path changes (``None`` deletes the key)."""
    raw = copy.deepcopy(SMALL)
    for dotted, value in changes.items():
        cur = raw
        *head, last = dotted.split("__")
        for part in head:
            cur = cur[part]
        if value is None:
            cur.pop(last)
        else:
            cur[last] = value
    return raw


def test_shipped_file_encodes_the_article():
    s = load_scenarios(REPO / "configs" / "scenarios.yaml")
    assert s.mix == {"A": 0.40, "B": 0.35, "C": 0.25}
    pace = {sc.name: sc.pace for sc in s.scenarios}
    assert pace["A"][0][1] == 25 and pace["B"][0][1] == 45 and pace["C"][0][1] == 3.5
    assert [sc.name for sc in s.scenarios] == ["A", "B", "C"]  # realised drew from the forecast period
    assert not s.spec.include_forecast_period
    for name, st in s.spec.states.items():  # every pool is an ex-ante rule, no hand-picked dates
        assert all(a.rule is not None and not a.hand_written for a in st.analogues), name
    for sc in s.scenarios:
        np.testing.assert_allclose(sc.matrix.sum(axis=1), 1.0)
        assert s.states[sc.start_state] == "calm_repair"
    assert set(s.kinds) <= {"qe", "plateau", "qt", "rmp"}


def test_durations_give_the_expected_dwell():
    s = scenarios_from_dict(SMALL)
    a = s.scenario("A")
    np.testing.assert_allclose(a.matrix, [[1 - 1 / 30, 1 / 30], [1 / 10, 1 - 1 / 10]])
    np.testing.assert_allclose(a.mean_dwell(), [30, 10])


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"scenarios__A__probability": 0.5}, "probabilities sum to 0.9"),
        ({"scenarios__B__transitions": {"calm": {"calm": 0.9, "stress": 0.05}, "stress": {"stress": 1.0}}},
         "transitions.calm: row sums to 0.95, must sum to 1"),
        ({"scenarios__B__transitions": {"calm": {"calm": 1.2, "stress": -0.2}, "stress": {"stress": 1.0}}},
         "is not in [0, 1]"),
        ({"scenarios__A__exits": {"calm": {"stress": 0.7}, "stress": {"calm": 1.0}}},
         "exits.calm: exit probabilities sum to 0.7"),
        ({"horizon_days": 0}, "horizon_days: the horizon must be at least 1 trading day (got 0)"),
        ({"scenarios__A__horizon_days": 0}, "scenarios.A.horizon_days: the horizon must be at least 1"),
        ({"scenarios__A__start_state": "calmm"}, "unknown state 'calmm'"),
        ({"scenarios__A__durations": {"calm": 0.5, "stress": 10}}, "expected duration must be >= 1"),
        ({"states__calm__paced": None, "states__calm__pace": True}, "states.calm.pace: unknown key 'pace'"),
        ({"scenarios__A__pace_bn_month": -3}, "pace_bn_month"),
        ({"states__calm__analogues": [{"start": "2020-01-01"}]}, "needs a rule, a regime id or both start and end"),
        ({"states__calm__kind": "taper"}, "states.calm.kind"),
    ],
)
def test_bad_definitions_are_one_line_errors(changes, needle):
    with pytest.raises(ScenarioError) as err:
        scenarios_from_dict(small(**changes), "s.yaml")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("s.yaml")
    assert needle in msg


def test_reachable_state_without_a_row_is_rejected():
    sc = small(scenarios__A__durations={"calm": 30}, scenarios__A__exits={"calm": {"stress": 1.0}})
    with pytest.raises(ScenarioError, match="state 'stress' is reachable but has no duration"):
        scenarios_from_dict(sc)


def test_horizon_override_must_be_positive():
    s = scenarios_from_dict(SMALL)
    assert all(sc.horizon_days == 7 for sc in s.with_horizon(7).scenarios)
    with pytest.raises(ScenarioError, match="--horizon 0"):
        s.with_horizon(0)


def test_chain_dwell_times_match_the_matrix():
    """Mean completed run length of state i is 1 / (1 - p_ii) within sampling error."""
    mat = np.array([[0.96, 0.03, 0.01], [0.10, 0.85, 0.05], [0.2, 0.3, 0.5]])
    rng = np.random.default_rng(3)
    states = simulate_chain(mat, 0, rng.random((400, 2500)))
    # empirical transition frequencies
    frm, to = states[:, :-1].ravel(), states[:, 1:].ravel()
    counts = np.zeros((3, 3))
    np.add.at(counts, (frm, to), 1)
    freq = counts / counts.sum(axis=1, keepdims=True)
    se = np.sqrt(mat * (1 - mat) / counts.sum(axis=1, keepdims=True))
    assert (np.abs(freq - mat) <= 4 * se + 1e-12).all()
    # completed runs (not touching either end of a path)
    for i in range(3):
        lengths = []
        for row in states[:50]:
            x = np.concatenate([[False], row == i, [False]]).astype(np.int8)
            d = np.diff(x)
            starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
            keep = (starts > 0) & (ends < len(row))
            lengths.extend((ends - starts)[keep])
        lengths = np.asarray(lengths, dtype=float)
        expected = 1.0 / (1.0 - mat[i, i])
        # geometric run lengths: sd = sqrt(p) / (1 - p)
        sd = np.sqrt(mat[i, i]) / (1.0 - mat[i, i])
        assert abs(lengths.mean() - expected) < 4 * sd / np.sqrt(len(lengths)), (i, lengths.mean(), expected)


def test_chain_draws_are_per_path():
    mat = transition_matrix(scenarios_from_dict(SMALL).spec.scenarios["A"], ["calm", "stress"])
    u = np.random.default_rng(0).random((6, 100))
    whole = simulate_chain(mat, 0, u)
    np.testing.assert_array_equal(whole[2:5], simulate_chain(mat, 0, u[2:5]))


# ---------------------------------------------------------------------- CLI errors


def _write(tmp_path: Path, raw: dict) -> Path:
    p = tmp_path / "scen.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


@pytest.mark.parametrize(
    "changes, extra, needle",
    [
        ({"scenarios__A__probability": 0.7}, [], "probabilities sum to 1.1"),
        ({"scenarios__B__transitions": {"calm": {"calm": 0.5}, "stress": {"stress": 1.0}}}, [],
         "must be stochastic"),
        ({}, ["--horizon", "0"], "--horizon 0"),
        ({"states__stress__analogues": [{"start": "1990-01-01", "end": "1990-03-01"}]}, [],
         "no trading day of the data in 1990-01-01..1990-03-01"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, changes, extra, needle):
    scen = _write(tmp_path, small(**changes))
    r = run_cli("scenarios", str(REPO / "configs" / "quickstart.yaml"), "--scenarios", str(scen), "--paths", "5",
                "--out", str(tmp_path / "out"), "--no-report", *extra)
    assert r.exit_code == 2, r.stdout + r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
