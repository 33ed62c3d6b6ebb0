"""Execution rules shared by ``run``, ``tune`` and ``scenarios``.

* :mod:`backtest.execution.spec` — :class:`ExecutionSpec` (decision and fill dates, costs
  as fractions, borrow, cash rate, risk-free rate, drift band, leverage cap);
* :mod:`backtest.execution.weights` — the weight finalisation after a strategy;
* :mod:`backtest.execution.drift` — the drift band and the fill plan.

The batch simulator is :func:`backtest.kernel.simulate_batch`; the batch metrics are in
:mod:`backtest.metrics_batch`; both spread a batch over threads with :mod:`backtest.threads`
(a foundation, so the metrics need not import the execution core). The cash-rate
convention (DTB3 to a bond-equivalent yield) is data: :mod:`backtest.data.rates`.
"""

from backtest.execution.spec import Costs, ExecutionSpec, build_spec
from backtest.execution.weights import finalise_frame, finalise_weights

__all__ = ["Costs", "ExecutionSpec", "build_spec", "finalise_frame", "finalise_weights"]
