"""RMP scenario paths (``rmpbt scenarios``): model -> labels -> evaluate -> side runs -> runner, writer; calibrate.

Sub-packages: :mod:`~backtest.synthetic.model` (history, pools, bootstrap, contexts, the
path generator), :mod:`~backtest.synthetic.labels` (signals and regime labels on paths),
:mod:`~backtest.synthetic.evaluate` (strategies on paths, scores, distributions,
aggregation), :mod:`~backtest.synthetic.side` (pace, channel and pool-sensitivity reruns),
:mod:`~backtest.synthetic.decide` (``rmpbt decide``) and :mod:`~backtest.synthetic.calibrate`
(the calibration backtest). The import-linter contract ``synthetic-layers`` keeps that order.
"""
