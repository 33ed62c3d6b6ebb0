"""Strategy kinds (one module each, registered with :func:`strategies.base.register`).

:data:`KINDS` is a static catalogue ``kind -> (module, one-line doc)`` so that
``rmpbt strategies`` and "which module defines kind X" need no import of numpy, pandas
or any strategy module. ``tests/test_layers.py`` checks it against the real registry
(``strategies.base.load_all()``): add a row here when you add a kind.
"""

from __future__ import annotations

KINDS: dict[str, tuple[str, str]] = {
    "fixed_weights": (
        "strategies.benchmarks",
        "Constant target weights, rebalanced on the run's schedule (e.g. 60/40).",
    ),
    "buy_and_hold": (
        "strategies.benchmarks",
        "Buy the weights on the first decision date and never rebalance.",
    ),
    "equal_weight": (
        "strategies.benchmarks",
        "1/N across the listed assets that have a price at each decision.",
    ),
    "inverse_vol": (
        "strategies.benchmarks",
        "Weights proportional to 1 / trailing volatility (a naive risk-parity).",
    ),
    "vol_target_rp": ("strategies.vol_target_rp", "Inverse-vol risk parity scaled to a regime-conditional volatility target."),
    "optimized": (
        "strategies.optimized",
        "Weights from a compiled cvxpy problem (mean-variance, min-variance, max-Sharpe, "
        "risk parity, min-CVaR, TE-limited).",
    ),
    "regime_rules": (
        "strategies.regime_rules",
        "Base allocation plus regime/signal-gated tilts (YAML rules, no code).",
    ),
    "real_assets": (
        "strategies.real_assets",
        "Overweight gold, commodities, TIPS and REITs in rmp/qe, funded from nominal bonds "
        "and cash.",
    ),
    "short_vol": (
        "strategies.short_vol",
        "Short VIX futures (SVXY or short VIXY), vol-targeted, gated by regime, contango and "
        "spikes.",
    ),
    "size_tech_tilt": (
        "strategies.size_tech_tilt",
        "Overweight IWM and QQQ against SPY in rmp/qe, cut when inflation re-accelerates.",
    ),
    "steepener": (
        "strategies.steepener",
        "DV01-neutral SHY/TLT steepener in rmp/qe, idle cash and bills swept into SHY.",
    ),
    "rmp_playbook": (
        "strategies.rmp_playbook",
        "The article's four trades on a 60/40 core, switched on in rmp/qe; variants per "
        "scenario.",
    ),
}


def catalogue() -> dict[str, tuple[str, str]]:
    """The known strategy kinds without importing them.

    Returns
    -------
    dict[str, tuple[str, str]]
        ``kind -> (module, one-line doc)``.
    """
    return dict(KINDS)
