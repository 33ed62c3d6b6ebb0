"""The metric a tune ranks by (``--metric``) and the statistics of the selection: deflated
Sharpe ratio, rank correlation."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from backtest import stats
from backtest.constants import TRADING_DAYS
from backtest.errors import SweepError
from backtest.metrics_batch import WINDOW_METRICS, window_metrics
from backtest.metrics_registry import metric_names

#: the ``--metric`` choices: the registry's ``tune`` view (each a column of the window kernel,
#: :data:`WINDOW_METRICS`, or ``information_ratio``: the Sharpe ratio over the untuned strategy)
METRICS = metric_names("tune")



def parse_metric(text: str) -> tuple[str, str | None]:
    """``sharpe`` or ``sharpe@rmp`` -> (metric, regime or None).

    Raises
    ------
    SweepError
        Unknown metric.
    """
    name, _, regime = text.strip().partition("@")
    if name not in METRICS:
        close = difflib.get_close_matches(name, METRICS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SweepError(f"--metric {text}: unknown metric {name!r}{hint}; one of {', '.join(METRICS)}, "
                         "optionally @regime")
    if _ and not regime:
        raise SweepError(f"--metric {text}: missing regime after '@'")
    return name, (regime or None)


def score_column(metric: str) -> tuple[int, bool]:
    """Where a ``--metric`` name (without ``@regime``) is read in :func:`window_metrics`' output.

    Returns
    -------
    tuple
        ``(index into WINDOW_METRICS, over_reference)``: ``information_ratio`` is the Sharpe
        ratio of the return over the untuned strategy (``over_reference`` True); every other
        metric is read over the cash rate.
    """
    ir = metric == "information_ratio"
    return WINDOW_METRICS.index("sharpe" if ir else metric), ir


def metric_scores(returns_vt: np.ndarray, rf: np.ndarray, reference: np.ndarray | None, metric: str,
                  windows: list[np.ndarray]) -> np.ndarray:
    """The tuning metric of each variant on each window, as ``tune.csv`` scores it.

    Parameters
    ----------
    returns_vt : np.ndarray
        ``V x T`` daily returns of the variants.
    rf : np.ndarray
        ``(T,)`` daily cash return.
    reference : np.ndarray or None
        ``(T,)`` daily return of the untuned strategy (used by ``information_ratio`` only).
    metric : str
        A name of :data:`METRICS` (no ``@regime``: restrict the windows' rows instead).
    windows : list of np.ndarray
        Row indices of each window.

    Returns
    -------
    np.ndarray
        ``(len(windows), V)`` annualised scores (NaN where undefined).
    """
    col, over_ref = score_column(metric)
    if over_ref and reference is None:
        raise SweepError("--metric information_ratio needs the untuned strategy's returns")
    wm = window_metrics(returns_vt, reference if over_ref else rf, windows)
    return wm[:, :, col]


# ============================================================================ multiple testing


@dataclass(frozen=True)
class DeflatedSharpe:
    """Deflated Sharpe ratio of the selected variant (per-period Sharpe ratios).

    Attributes
    ----------
    dsr : float
        Probability that the true Sharpe ratio exceeds the expected maximum of ``n_trials``
        unskilled trials.
    psr : float
        Probabilistic Sharpe ratio against 0 (no deflation), for comparison.
    sharpe : float
        Per-period Sharpe ratio of the selected variant.
    sr0 : float
        Expected maximum per-period Sharpe ratio of ``n_trials`` trials under the null.
    n_trials, n_obs : int
        Variants tried, observations of the selected variant.
    skew, kurtosis : float
        Of the selected variant's returns (kurtosis not in excess: normal = 3).
    var_trials : float
        Cross-sectional variance of the trials' per-period Sharpe ratios.
    """

    dsr: float
    psr: float
    sharpe: float
    sr0: float
    n_trials: int
    n_obs: int
    skew: float
    kurtosis: float
    var_trials: float

    def annualised(self) -> dict[str, float]:
        """Sharpe and SR0 annualised with sqrt(TRADING_DAYS), for display."""
        return {"sharpe": self.sharpe * np.sqrt(TRADING_DAYS), "sr0": self.sr0 * np.sqrt(TRADING_DAYS)}


def expected_max_sharpe(var_trials: float, n_trials: int) -> float:
    """Expected maximum Sharpe ratio of ``n_trials`` unskilled trials (see :mod:`backtest.stats`)."""
    return stats.expected_max_sharpe(var_trials, n_trials)  # issue 13: one implementation


def probabilistic_sharpe(sr: float, sr0: float, n_obs: int, skew: float, kurt: float) -> float:
    """Probabilistic Sharpe ratio, per-period SR (see :mod:`backtest.stats`)."""
    return stats.probabilistic_sharpe_ratio(sr, sr0, n_obs, skew, kurt)


def deflated_sharpe(best_excess: np.ndarray, trial_sharpes: np.ndarray, n_trials: int | None = None) -> DeflatedSharpe:
    """Deflated Sharpe ratio of the selected strategy (Bailey & López de Prado, 2014).

    Parameters
    ----------
    best_excess : np.ndarray
        Daily excess returns of the selected variant over the selection sample.
    trial_sharpes : np.ndarray
        Per-period (daily, not annualised) Sharpe ratios of every variant tried, on the
        same sample; NaN are ignored for the variance.
    n_trials : int, optional
        Number of variants tried (default: ``len(trial_sharpes)``).
    """
    x = np.asarray(best_excess, dtype=float)
    x = x[np.isfinite(x)]
    n = int(n_trials if n_trials is not None else len(trial_sharpes))
    trials = np.asarray(trial_sharpes, dtype=float)
    trials = trials[np.isfinite(trials)]
    var = float(np.var(trials, ddof=1)) if len(trials) > 1 else 0.0
    sd = x.std(ddof=1) if len(x) > 1 else np.nan
    sr = float(x.mean() / sd) if np.isfinite(sd) and sd > 0 else float("nan")
    g3, g4 = stats.skew_kurtosis(x) if len(x) > 2 else (0.0, 3.0)
    g4 = g4 if len(x) > 3 else 3.0
    sr0 = expected_max_sharpe(var, n)
    return DeflatedSharpe(
        dsr=probabilistic_sharpe(sr, sr0, len(x), g3, g4),
        psr=probabilistic_sharpe(sr, 0.0, len(x), g3, g4),
        sharpe=sr, sr0=sr0, n_trials=n, n_obs=len(x), skew=g3, kurtosis=g4, var_trials=var,
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation over the pairs where both are finite (NaN if < 3 pairs)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return stats.spearman_corr(a[ok], b[ok])
