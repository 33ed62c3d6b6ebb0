"""Can the scenarios separate the strategies? The robust choice's lead against its noise.

The robust choice minimises the maximum regret over the scenarios. A strategy whose
maximum regret exceeds the choice's by a *margin* is separated from it only if that
margin is larger than

* the Monte-Carlo noise: two standard errors of the margin over the paired path resamples
  of :func:`backtest.synthetic.evaluate.choice.resample_values` (the draws of ``choice_share``), and
* the pool sensitivity: the largest move of the margin when one episode of one state's
  pool is left out (:mod:`backtest.synthetic.side.pool_sensitivity`).

Otherwise the honest answer is that the scenarios cannot separate the two, and the
terminal and the page say so in those words (amber).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "margin_se", "separation_sentence", "separation_table"]

COLUMNS = ["strategy", "max_regret", "margin", "mc_se", "pool_move", "separated"]


def margin_se(values: np.ndarray, choice: int) -> np.ndarray:
    """Standard error of each strategy's max-regret margin over strategy ``choice``.

    Parameters
    ----------
    values : np.ndarray, shape (B, strategies, scenarios)
        The regret statistic per paired resample (higher is better).
    choice : int
        Index of the robust choice.

    Returns
    -------
    np.ndarray, shape (strategies,)
        Standard deviation over the ``B`` resamples of ``max regret_j - max regret_choice``
        (0 for the choice itself; NaN with fewer than two resamples).
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 3 or v.shape[0] < 2:
        return np.full(v.shape[1] if v.ndim == 3 else 0, np.nan)
    with np.errstate(invalid="ignore"):
        reg = np.nanmax(v, axis=1, keepdims=True) - v
        mx = np.nanmax(reg, axis=2)
    m = mx - mx[:, [choice]]
    return np.std(m, axis=0, ddof=1)


def separation_table(regret: pd.DataFrame, mc_se: np.ndarray | None,
                     pool_moves: Mapping[str, float] | None) -> pd.DataFrame:
    """Margin of every strategy over the robust choice, its noise, and whether it is separated.

    Parameters
    ----------
    regret : pd.DataFrame
        ``scenario_regret.csv`` (``strategy``, ``max_regret``, ``robust``).
    mc_se : np.ndarray, optional
        :func:`margin_se`, in the table's row order (None: not measured).
    pool_moves : mapping, optional
        Strategy -> largest move of its margin under the pool-sensitivity reruns.

    Returns
    -------
    pd.DataFrame
        Columns :data:`COLUMNS`; ``separated`` is True when the margin exceeds both two
        standard errors and the pool move (a noise not measured does not count against).
    """
    if regret is None or regret.empty or not regret["robust"].astype(bool).any():
        return pd.DataFrame(columns=COLUMNS)
    mx = regret["max_regret"].to_numpy(dtype=float)
    c = int(np.flatnonzero(regret["robust"].astype(bool).to_numpy())[0])
    margin = mx - mx[c]
    se = np.full(len(mx), np.nan) if mc_se is None else np.asarray(mc_se, dtype=float)
    move = np.array([np.nan if pool_moves is None else float(pool_moves.get(s, np.nan))
                     for s in regret["strategy"].astype(str)])
    beyond_mc = ~(margin <= 2 * np.nan_to_num(se, nan=0.0))
    beyond_pool = ~(margin <= np.nan_to_num(move, nan=0.0))
    sep = beyond_mc & beyond_pool
    sep[c] = False
    return pd.DataFrame({"strategy": regret["strategy"].astype(str).to_numpy(), "max_regret": mx, "margin": margin,
                         "mc_se": se, "pool_move": move, "separated": sep}, columns=COLUMNS)


def separation_sentence(table: pd.DataFrame, regret: pd.DataFrame) -> tuple[str, str]:
    """Plain words on whether the scenarios separate the robust choice, and the tone (``good`` / ``neutral``).

    Says which strategies cannot be told from the choice (their margin within two
    Monte-Carlo standard errors or the pool sensitivity), or that every other strategy
    is separated, naming the runner-up and the noise it beats.
    """
    if table is None or table.empty:
        return "", "neutral"
    c = int(np.flatnonzero(regret["robust"].astype(bool).to_numpy())[0])
    choice = str(table["strategy"].iloc[c])
    others = table.drop(index=table.index[c])
    if others.empty:  # one strategy: nothing to separate
        return "", "neutral"
    close = others.loc[~others["separated"].astype(bool)]
    mc = "not measured" if not np.isfinite(others["mc_se"]).any() else None
    pool = "not measured" if not np.isfinite(others["pool_move"]).any() else None
    noise = (f"two Monte-Carlo standard errors{' (not measured)' if mc else ''} or what leaving one pool episode "
             f"out does to it{' (not measured)' if pool else ''}")
    if len(close):
        names = close.sort_values("margin")["strategy"].tolist()
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        r = close.sort_values("margin").iloc[0]
        detail = (f"e.g. {r['strategy']} trails by {r['margin']:.2%} of max regret against noise of "
                  f"{2 * r['mc_se']:.2%} (Monte Carlo) and {r['pool_move']:.2%} (pool)")
        return (f"The scenarios cannot separate {choice} from {shown}: their maximum regret differs from its by less "
                f"than {noise} ({detail})."), "neutral"
    r = others.sort_values("margin").iloc[0]
    return (f"The scenarios separate {choice} from every other strategy: the runner-up {r['strategy']} trails by "
            f"{r['margin']:.2%} of max regret, more than {2 * r['mc_se']:.2%} (two Monte-Carlo standard errors) and "
            f"{r['pool_move']:.2%} (the largest move when one pool episode is left out)."), "good"
