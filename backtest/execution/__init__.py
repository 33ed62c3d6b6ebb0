"""Execution rules shared by ``run``, ``tune`` and ``scenarios``.

* :mod:`backtest.execution.spec` — :class:`ExecutionSpec` (decision and fill dates, costs
  as fractions, borrow, cash rate, risk-free rate, drift band, leverage cap);
* :mod:`backtest.execution.weights` — the weight finalisation after a strategy;
* :mod:`backtest.execution.drift` — the drift band and the fill plan;
* :mod:`backtest.execution.threads` — spreading a batch over threads.

The batch simulator is :func:`backtest.kernel.simulate_batch`; the batch metrics are in
:mod:`backtest.metrics_batch`.
"""

from backtest.execution.spec import Costs, ExecutionSpec, build_spec
from backtest.execution.weights import finalise_frame, finalise_weights

__all__ = ["Costs", "ExecutionSpec", "build_spec", "finalise_frame", "finalise_weights"]
