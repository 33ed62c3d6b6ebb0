"""Project-wide constants: one home for each convention.

- ``TRADING_DAYS``: days per year used to annualise (returns, volatility, Sharpe, rates).
- ``CASH``: the name of the explicit cash asset in holdings, weights and costs.
- ``REGIME_KINDS``: the regime kinds every regime model labels days with, in code order.
- ``BENCHMARK_60_40``: the weights of the default 60/40 comparison portfolio.
- ``CVAR_LEVEL``: the tail share of CVaR (worst 5 % of days or of paths).
"""

from __future__ import annotations

TRADING_DAYS: int = 252
CASH: str = "CASH"
REGIME_KINDS: tuple[str, ...] = ("qe", "plateau", "qt", "rmp")
BENCHMARK_60_40: dict[str, float] = {"SPY": 0.6, "IEF": 0.4}
CVAR_LEVEL: float = 0.05
