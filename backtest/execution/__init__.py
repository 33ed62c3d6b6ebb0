"""Execution rules shared by ``run``, ``tune`` and ``scenarios``.

* :mod:`backtest.execution.spec` — :class:`ExecutionSpec` (decision and fill dates, costs
  as fractions, borrow, cash rate, risk-free rate, drift band, leverage cap);
* :mod:`backtest.execution.weights` — the weight finalisation after a strategy.
"""

from backtest.execution.spec import Costs, ExecutionSpec, build_spec
from backtest.execution.weights import finalise_frame, finalise_weights

__all__ = ["Costs", "ExecutionSpec", "build_spec", "finalise_frame", "finalise_weights"]
