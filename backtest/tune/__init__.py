"""The tuner of ``rmpbt tune``: grids, ``--where`` constraints, walk-forward scoring, deflated Sharpe.

``rmpbt tune`` runs many *variants* of one strategy of a config. A variant sets some
config keys (``--grid KEY=START:STOP:STEP`` or ``KEY=a,b,c``); keys are dotted paths,
strategies addressed by name, list items by index (``strategies.pb.params.tilts[0].add.GLD``
or ``...tilts.0.add.GLD``).

How the work is organised (see ``docs/tuning.md``):

* Variants are grouped by *path*: the values of their non-strategy keys (rebalance
  schedule, lag, costs, cash, regimes). A path fixes the decision and fill days, costs and
  regime labels; each path is prepared once.
* Within a path, the variants are one more batch axis of the strategy's batch form: their
  weights come from one call on the path's history as a batch of one
  (:func:`strategies.base.variant_batch_weights`), sharing the work that does not depend
  on their params; a kind without a batch form is called through ``weights()`` per variant.
* The execution rules of a path are one :class:`~backtest.execution.spec.ExecutionSpec`;
  raw weights are finalised by :func:`~backtest.execution.weights.finalise_weights`.
* Variants are then simulated as items of one batch-kernel call
  (:func:`backtest.kernel.simulate_batch`, the engine's semantics) in chunks, which an
  :class:`~backtest.executors.Executor` may spread over Dask workers. Chunks do not depend on
  the number of workers, and variants do not interact, so results are identical whatever
  runs them.
* Each variant is scored on the training window(s) (``--walk-forward`` or ``--split``);
  the variant ranked first on each training window is reported on the test window that
  follows, and those test windows are stitched into one out-of-sample track.
* The verdict (:mod:`backtest.tune.verdict`, on :mod:`backtest.stats`): deflated Sharpe of the
  active return over effective trials, PBO on active and total returns, per-fold rank
  correlations and the out-of-sample information ratio, each placed against a noise null
  (the same selection on sign-flipped active returns), guard against selecting noise.

The per-chunk code imports neither vectorbt nor dask, so Dask workers stay light.

Modules, lowest first (each imports only those before it): :mod:`~backtest.tune.keys`
(dotted keys), :mod:`~backtest.tune.where` (the ``--where`` parser),
:mod:`~backtest.tune.grid` (axes, expansion), :mod:`~backtest.tune.folds` (windows),
:mod:`~backtest.tune.selection` (metric, deflated Sharpe), :mod:`~backtest.tune.chunks`
(per-path work, simulation, scoring, turnover), :mod:`~backtest.tune.paths` (preparing the
paths), :mod:`~backtest.tune.null` (the verdict's noise null) and :mod:`~backtest.tune.cpcv`
(combinatorial purged cross-validation), :mod:`~backtest.tune.verdict`, :mod:`~backtest.tune.orchestrate` (``run_tune``),
:mod:`~backtest.tune.write` (``write_tune``). The package itself imports none of them, so a
worker loading :mod:`backtest.tune.chunks` stays light.
"""
