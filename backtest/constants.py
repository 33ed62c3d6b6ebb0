"""Project-wide constants: one home for each convention.

- ``TRADING_DAYS``: days per year used to annualise (returns, volatility, Sharpe, rates).
- ``CASH``: the name of the explicit cash asset in holdings, weights and costs.
- ``REGIME_KINDS``: the regime kinds every regime model labels days with, in code order.
- ``REGIME_MODELS``: the regime models ``regimes.model`` may name (the registry's catalogue).
- ``BENCHMARK_60_40``: the weights of the default 60/40 comparison portfolio.
- ``CVAR_LEVEL``: the tail share of CVaR (worst 5 % of days or of paths).
"""

from __future__ import annotations

TRADING_DAYS: int = 252
CASH: str = "CASH"
REGIME_KINDS: tuple[str, ...] = ("qe", "plateau", "qt", "rmp")
#: ``name -> (module that registers it, one line)``: a static catalogue of the regime models, so
#: the config validates ``regimes.model`` (and ``rmpbt regimes --model``) without importing a
#: model. ``backtest.regimes.models.register_model`` is the registry; ``tests/test_layers.py``
#: checks the two agree: add a row here when you add a model.
REGIME_MODELS: dict[str, tuple[str, str]] = {
    "calendar": ("backtest.regimes.models",
                 "Labels from the Fed balance-sheet calendar, by effective or announced date."),
    "rules": ("backtest.regimes.rules",
              "Data-driven classifier of balance-sheet flows and funding stress, with hysteresis."),
    "markov": ("backtest.regimes.markov",
               "Markov-switching regime model on a point-in-time signal (filtered probabilities)."),
}
BENCHMARK_60_40: dict[str, float] = {"SPY": 0.6, "IEF": 0.4}
CVAR_LEVEL: float = 0.05
