"""strategies.rules_engine.parse_condition memo: same input same object, nothing confused, failures not kept."""

from __future__ import annotations

import pytest

from backtest.regimes import signals
from strategies.rules_engine import AllOf, Compare, RegimeIn, parse_condition


def test_equal_inputs_share_one_parsed_object_built_anew_from_a_copy():
    raw = {"all": [{"regime": ["rmp", "qe"]}, {"signal": "vix", "op": "<", "value": 25, "exit": 30}]}
    a = parse_condition(raw, "tilt 'x': when")
    b = parse_condition({"all": [{"regime": ["rmp", "qe"]}, {"signal": "vix", "op": "<", "value": 25, "exit": 30}]},
                        "tilt 'x': when")
    assert a is b
    assert a == AllOf((RegimeIn(("rmp", "qe")), Compare("vix", "<", 25.0, 30.0)))


def test_inputs_that_parse_differently_are_not_confused():
    assert parse_condition({"signal": "vix", "op": "<", "value": 1}, "w").value == 1.0
    with pytest.raises(ValueError, match="must be a number"):  # True == 1, but a bool is no number
        parse_condition({"signal": "vix", "op": "<", "value": True}, "w")
    with pytest.raises(ValueError, match="regime must be a label or a non-empty list"):  # tuple != list
        parse_condition({"regime": ("rmp", "qe")}, "w")
    assert parse_condition({"regime": ["rmp", "qe"]}, "w") == RegimeIn(("rmp", "qe"))
    assert parse_condition("vix < -0.0", "w").value == 0.0  # -0.0 and 0.0 are told apart, both fine


def test_failures_are_not_cached_and_a_new_signal_is_seen(monkeypatch):
    raw = {"signal": "brand_new_signal", "op": ">", "value": 1}
    with pytest.raises(ValueError, match="unknown signal 'brand_new_signal'"):
        parse_condition(raw, "w")
    monkeypatch.setitem(signals.SIGNALS, "brand_new_signal", "a test signal")
    assert parse_condition(raw, "w") == Compare("brand_new_signal", ">", 1.0)
    monkeypatch.delitem(signals.SIGNALS, "brand_new_signal")
    with pytest.raises(ValueError, match="unknown signal"):  # removed again: the cached parse is not reused
        parse_condition(raw, "w")


def test_error_names_the_caller_where():
    with pytest.raises(ValueError, match="^tilt 'b': when: unknown signal"):
        parse_condition({"signal": "nope", "op": "<", "value": 1}, "tilt 'b': when")
