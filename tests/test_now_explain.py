"""Why-explanations of ``rmpbt now``, by hand: condition trees, deciding leaves, tilt lines, regime disagreement."""

from __future__ import annotations

import numpy as np

from backtest.config import RegimeConfig
from backtest.now_explain import leaf_text, regime_disagreement, tilt_line
from backtest.regimes.models import make_regime_model
from strategies.rules_engine import deciding_leaves, explain_condition, parse_condition


class Ctx:
    """A hand-built single-history context: five decision dates."""

    def __init__(self, vix: list[float], regime: list[str]) -> None:
        self.shape = (len(vix),)
        self.regime = np.array(regime, dtype=str)
        self.regime_known = self.regime != ""
        self._vix = np.array(vix, dtype=float)

    def values(self, name: str, lookback: int = 0) -> np.ndarray:
        assert name == "vix"
        out = np.full(len(self._vix), np.nan)
        out[lookback:] = self._vix[: len(self._vix) - lookback]
        return out


CTX = Ctx([20.0, 26.0, 28.0, 31.0, 29.0], ["rmp", "rmp", "qt", "rmp", ""])


def test_hysteresis_leaf_by_hand():
    cond = parse_condition("vix < 25 exit 30", "t")
    # on at 20 (< 25), stays on at 26 and 28 (< 30), off at 31, stays off at 29 (not < 25)
    states = [explain_condition(cond, CTX, r)["state"] for r in range(5)]
    assert states == ["true", "true", "true", "false", "false"]
    node = explain_condition(cond, CTX, 2)
    assert node["value"] == 28.0 and node["threshold"] == 25.0 and node["exit"] == 30.0
    assert leaf_text(node) == "vix 28 < 30 (inside its exit band; enters < 25)"
    assert leaf_text(explain_condition(cond, CTX, 4)) == "vix 29 >= 25"
    assert leaf_text(explain_condition(cond, CTX, 0)) == "vix 20 < 25"


def test_change_leaf_and_missing_values():
    cond = parse_condition({"signal": "vix", "change": "pct", "lookback": 1, "op": ">", "value": 0.1}, "t")
    node = explain_condition(cond, CTX, 3)  # 31 / 28 - 1 = +10.7 %
    assert node["state"] == "true" and abs(node["value"] - (31 / 28 - 1)) < 1e-12
    assert leaf_text(node) == "vix % change over 1d 0.107 > 0.1"
    first = explain_condition(cond, CTX, 0)  # no earlier value: unknown, never "on"
    assert first["state"] == "unknown" and first["value"] is None and leaf_text(first) == "vix % change over 1d missing"


def test_deciding_leaves_all_any_not():
    cond = parse_condition({"all": [{"regime": ["rmp", "qe"]}, {"not": "vix > 30"}]}, "t")
    # row 2: regime qt -> the regime leaf alone decides "false"
    tree = explain_condition(cond, CTX, 2)
    assert tree["state"] == "false"
    assert [leaf_text(x) for x in deciding_leaves(tree)] == ["regime qt not in [rmp, qe]"]
    # row 3: regime rmp but vix 31 > 30 under a "not": that leaf decides, marked negated
    tree = explain_condition(cond, CTX, 3)
    leaves = deciding_leaves(tree)
    assert tree["state"] == "false" and [(leaf_text(x), x["negated"]) for x in leaves] == [("vix 31 > 30", True)]
    # row 0: true, every child needed
    assert [leaf_text(x) for x in deciding_leaves(explain_condition(cond, CTX, 0))] == [
        "regime rmp in [rmp, qe]", "vix 20 <= 30"]
    # row 4: regime unknown -> unknown, and it is listed
    tree = explain_condition(cond, CTX, 4)
    assert tree["state"] == "unknown" and "regime unknown" in [leaf_text(x) for x in deciding_leaves(tree)]
    anyc = parse_condition({"any": ["vix > 30", "vix < 21"]}, "t")
    assert [leaf_text(x) for x in deciding_leaves(explain_condition(anyc, CTX, 3))] == ["vix 31 > 30"]
    assert len(deciding_leaves(explain_condition(anyc, CTX, 2))) == 2  # false: every child


def test_tilt_line_off_by_exit_names_the_reading_and_what_still_holds():
    when = explain_condition(parse_condition(
        {"all": [{"regime": ["rmp", "qe"]}, {"not": {"signal": "vix", "op": ">", "value": 25, "exit": 0}}]}, "t"),
        CTX, 3)
    exit_when = explain_condition(parse_condition("vix > 25", "t"), CTX, 3)
    t = {"name": "size_tech", "kind": "add", "on": False, "since": "2026-04-30", "size": {"IWM": 0.1},
         "reason": "forced off by its exit condition", "when": when, "exit_when": exit_when}
    assert tilt_line(t) == ("size_tech off since 2026-04-30: forced off by its exit condition: vix 31 > 25 "
                            "(though regime rmp in [rmp, qe])")


def test_regime_disagreement_line():
    sig = {"walcl_chg_13w": 41.7, "treast_chg_4w": 22.8, "sofr_iorb": -0.1}
    regimes = {m: {"label": lab, "reads": reads(m, {}, sig)}
               for m, lab in (("calendar", "rmp"), ("rules", "rmp"), ("markov", "qe"))}
    line = regime_disagreement(regimes)
    assert line.startswith("markov says qe, calendar and rules say rmp: markov reads only walcl_chg_13w (+41.7 bn)")
    assert "no rmp state" in line and "SOFR-IORB -0.10 pp" in line
    # null: all agree -> nothing to explain
    assert regime_disagreement({m: {**r, "label": "rmp"} for m, r in regimes.items()}) is None
    # a Markov model with an rmp state does not claim it has none
    assert "no rmp state" not in reads("markov", {"labels": ["qt", "plateau", "rmp"]}, sig)


def reads(model: str, params: dict, signals: dict) -> str:
    """What the registered model ``model`` built with ``params`` reads (its ``reads``)."""
    return make_regime_model(RegimeConfig(model=model, params=params)).reads(signals)
