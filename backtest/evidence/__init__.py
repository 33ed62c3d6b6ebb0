"""``rmpbt evidence``: the article's claims tested on history.

Small modules, each one idea (``docs/evidence.md`` defines every figure):

* :mod:`~backtest.evidence.bootstrap`: vectorised stationary / circular block bootstrap
  (count matrices, percentile intervals, seeded generators per figure);
* :mod:`~backtest.evidence.history`: the instruments' daily history, regime labels, the
  point-in-time (announced-date) calendar labels and the cash return;
* :mod:`~backtest.evidence.claims`: one row per claim of the article, with its interval,
  episode count and verdict;
* :mod:`~backtest.evidence.events`: the events of the Fed calendar, event windows, placebo
  p-values and average paths (and the run folder's ``event_study.csv``);
* :mod:`~backtest.evidence.attribution` + :mod:`~backtest.evidence.sleeves`: regime
  attribution of each strategy's return by asset and by sleeve (Carino linking);
* :mod:`~backtest.evidence.episodes`: named market episodes replayed side by side;
* :mod:`~backtest.evidence.build` (everything from a run's output) and
  :mod:`~backtest.evidence.write` (the atomic folder with ``evidence.html``).

The package sits between the pipeline and the strategies/report layers: the pipeline
uses its attribution and event-window code for the run folder; ``rmpbt evidence`` and
``rmpbt.evidence`` run the pipeline and hand its output to :func:`build.build_evidence`.
"""
