"""``rmpbt decide``: re-score a saved scenario run without re-simulating (see ``docs/decide.md``).

* :mod:`.outcomes` — the per-path outcomes file of a scenario run (``scenario_paths.parquet``):
  built from the in-memory run, written by the scenario writer, loaded back as arrays.
* :mod:`.inputs` — ``--probs``, ``--cvar-lambda``, ``--statistic``, checked.
* :mod:`.views` — ``--view`` statements (``P(B)>=0.5``, ``E[spy]=0.08``) as linear constraints.
* :mod:`.pooling` — entropy pooling (Meucci 2008): minimum relative entropy path weights.
* :mod:`.posterior` — the decision's path weights: the prior ``p_s / n_s`` under the views.
* :mod:`.rule` — the regret statistic per scenario under path weights, the least-expected-regret
  choice and the run's minimax-regret table.
* :mod:`.flips` — exact flips of the choice in λ and in each scenario's probability, the
  λ segments, the map over λ and the probability simplex and its exact regions.
* :mod:`.noise` — the paired path bootstrap of the margin between choice and runner-up.
* :mod:`.words` — the plain-language reading of a decision.
* :mod:`.core` — :func:`~.core.decide` (the command's and the API's one function).
* :mod:`.write` — the decision folder (``decision.json``, csv files, ``decision.html``).
"""
