"""Combinatorial purged cross-validation of a tune (``--cv cpcv:N,K``; López de Prado 2018,
*Advances in Financial Machine Learning*, ch. 7 and 12).

The run's days are cut into ``N`` contiguous groups of nearly equal length. Each of the
``C(N, K)`` splits takes ``K`` groups as the test set and the others as the training set,
less the **purged** days (``purge`` trading days just before each test group) and the
**embargoed** days (``embargo`` trading days just after each test group). On each split the
variant with the best ``--metric`` on the training days is chosen, and its returns on the
test groups kept. Each group is a test group in ``C(N-1, K-1)`` splits; taking them in
order gives ``φ = C(N, K) K / N`` **paths**, each a full out-of-sample history of the run
made of choices that never saw the days they are scored on. The distribution of the
paths' out-of-sample Sharpe ratios (and of their gains over the untuned strategy) says how
much the tune's out-of-sample result depends on where the windows fall.

The selection reads training days on both sides of a test group: CPCV measures the
stability of the selection procedure, it is not a track one could have traded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS
from backtest.errors import SweepError
from backtest.tune.selection import metric_scores

PURGE_DAYS = 21
EMBARGO_SHARE = 0.01
MAX_GROUPS = 30
MAX_SPLITS = 1000
MAX_GAP_DAYS = 252
MIN_GROUP_DAYS = 20

_SPEC = re.compile(r"^\s*cpcv\s*:\s*(\d+)\s*,\s*(\d+)\s*((?:,\s*[a-z]+\s*=\s*\d+\s*)*)$", re.IGNORECASE)


@dataclass(frozen=True)
class CpcvSpec:
    """``--cv cpcv:N,K[,purge=DAYS][,embargo=DAYS]``; ``None`` gaps take their defaults."""

    groups: int
    test_groups: int
    purge: int | None = None
    embargo: int | None = None
    text: str = ""

    def gaps(self, n_rows: int) -> tuple[int, int]:
        """Purge and embargo in trading days: the given ones, else :data:`PURGE_DAYS` and
        ``ceil(EMBARGO_SHARE x n_rows)`` (López de Prado's suggested embargo of about 1% of
        the observations)."""
        purge = PURGE_DAYS if self.purge is None else self.purge
        embargo = math.ceil(EMBARGO_SHARE * n_rows) if self.embargo is None else self.embargo
        return purge, embargo


@dataclass(frozen=True)
class CpcvSplit:
    """One split: its test groups and the row indices of its training and test days."""

    test_groups: tuple[int, ...]
    train: np.ndarray
    test: np.ndarray


def parse_cv(text: str) -> CpcvSpec:
    """``cpcv:6,2`` or ``cpcv:6,2,purge=21,embargo=40`` -> :class:`CpcvSpec`.

    Raises
    ------
    SweepError
        Malformed, or a number out of its range (``3 <= N <= 30``, ``1 <= K < N``,
        ``C(N, K) <= 1000``, purge and embargo ``0..252`` trading days).
    """
    m = _SPEC.match(str(text))
    usage = "expected cpcv:N,K[,purge=DAYS][,embargo=DAYS] (e.g. cpcv:6,2)"
    if not m:
        raise SweepError(f"--cv {text}: {usage}")
    n, k = int(m.group(1)), int(m.group(2))
    gaps: dict[str, int] = {}
    for part in [p for p in m.group(3).split(",") if p.strip()]:
        key, val = (s.strip().lower() for s in part.split("="))
        if key not in ("purge", "embargo") or key in gaps:
            raise SweepError(f"--cv {text}: unknown or repeated part {key!r}; {usage}")
        gaps[key] = int(val)
    if not 3 <= n <= MAX_GROUPS:
        raise SweepError(f"--cv {text}: N={n} groups must be from 3 to {MAX_GROUPS}")
    if not 1 <= k < n:
        raise SweepError(f"--cv {text}: K={k} test groups must be from 1 to N-1={n - 1}")
    if math.comb(n, k) > MAX_SPLITS:
        raise SweepError(f"--cv {text}: C({n},{k}) = {math.comb(n, k)} splits, more than {MAX_SPLITS}")
    for key, val in gaps.items():
        if val > MAX_GAP_DAYS:
            raise SweepError(f"--cv {text}: {key}={val} must be from 0 to {MAX_GAP_DAYS} trading days")
    return CpcvSpec(n, k, gaps.get("purge"), gaps.get("embargo"), str(text).strip())


def group_bounds(n_rows: int, n_groups: int) -> list[tuple[int, int]]:
    """``(start, stop)`` rows of ``n_groups`` contiguous groups of nearly equal length
    (the first ``n_rows % n_groups`` groups one row longer, as ``np.array_split``)."""
    size, extra = divmod(n_rows, n_groups)
    out, start = [], 0
    for g in range(n_groups):
        stop = start + size + (1 if g < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def cpcv_splits(n_rows: int, n_groups: int, k: int, purge: int, embargo: int) -> list[CpcvSplit]:
    """The ``C(n_groups, k)`` splits, in lexicographic order of their test groups.

    Training days are all days outside the test groups, less ``purge`` days just before
    and ``embargo`` days just after each test group.
    """
    bounds = group_bounds(n_rows, n_groups)
    out = []
    for combo in combinations(range(n_groups), k):
        test = np.zeros(n_rows, dtype=bool)
        for g in combo:
            test[bounds[g][0] : bounds[g][1]] = True
        train = ~test
        for g in combo:
            a, b = bounds[g]
            train[max(0, a - purge) : a] = False
            train[b : b + embargo] = False
        out.append(CpcvSplit(combo, np.flatnonzero(train), np.flatnonzero(test)))
    return out


def cpcv_paths(n_groups: int, k: int) -> np.ndarray:
    """``(φ, n_groups)`` split index of each path on each group, ``φ = C(N, K) K / N``.

    Path ``p`` takes group ``g``'s test returns from the ``p``-th split (lexicographic
    order) in which ``g`` is a test group.
    """
    combos = list(combinations(range(n_groups), k))
    cols = [[s for s, c in enumerate(combos) if g in c] for g in range(n_groups)]
    return np.array(cols, dtype=np.int64).T


@dataclass
class CpcvResult:
    """Out-of-sample paths of a CPCV run.

    ``sharpe`` is the annualised Sharpe ratio of each path over the cash rate;
    ``active_bp`` and ``active_ir`` its gain over ``reference`` (bp/yr, annualised IR).
    """

    spec: CpcvSpec
    purge: int
    embargo: int
    days: int
    n_splits: int
    chosen: np.ndarray
    paths: np.ndarray
    sharpe: np.ndarray
    active_bp: np.ndarray
    active_ir: np.ndarray
    reference: str
    reference_sharpe: float

    @property
    def n_paths(self) -> int:
        """φ, the number of paths."""
        return len(self.sharpe)

    def frame(self) -> pd.DataFrame:
        """One row per path (``cpcv.csv``)."""
        return pd.DataFrame({
            "path": np.arange(1, self.n_paths + 1), "sharpe": self.sharpe,
            "active_bp_per_year": self.active_bp, "active_ir": self.active_ir,
            "variants": [";".join(str(int(v)) for v in self.chosen[row]) for row in self.paths]})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``provenance.json``."""
        q = np.quantile(self.sharpe, [0.0, 0.25, 0.5, 0.75, 1.0]) if self.n_paths else [np.nan] * 5
        return {
            "spec": self.spec.text, "groups": self.spec.groups, "test_groups": self.spec.test_groups,
            "days": self.days, "purge_days": self.purge, "embargo_days": self.embargo, "splits": self.n_splits,
            "paths": self.n_paths, "reference": self.reference, "reference_sharpe": self.reference_sharpe,
            "sharpe": dict(zip(("min", "q25", "median", "q75", "max"), (float(x) for x in q), strict=True)),
            "share_paths_gain_above_zero": float(np.mean(self.active_bp > 0)) if self.n_paths else float("nan"),
            "chosen_by_split": [int(c) for c in self.chosen],
        }


def _ann_sharpe(x: np.ndarray) -> float:
    sd = x.std(ddof=1)
    return float(x.mean() / sd * math.sqrt(TRADING_DAYS)) if len(x) > 1 and sd > 0 else float("nan")


def run_cpcv(returns: np.ndarray, rf: np.ndarray, reference: np.ndarray, spec: CpcvSpec, *,
             metric: str = "sharpe", metric_reference: np.ndarray | None = None,
             in_regime: np.ndarray | None = None, variant_ids: np.ndarray | None = None,
             reference_name: str = "untuned") -> CpcvResult:
    """Select on every CPCV split's training days and score the ``φ`` out-of-sample paths.

    Parameters
    ----------
    returns : np.ndarray
        ``(T, N)`` daily returns of the variants.
    rf : np.ndarray
        ``(T,)`` daily cash return.
    reference : np.ndarray
        ``(T,)`` daily return the paths' gains are measured against.
    spec : CpcvSpec
        Groups, test groups and gaps.
    metric : str
        The tuning metric (without ``@regime``).
    metric_reference : np.ndarray, optional
        The untuned strategy's returns for ``information_ratio``.
    in_regime : np.ndarray, optional
        Mask of the regime the metric is restricted to (training days outside it are not scored).
    variant_ids : np.ndarray, optional
        Variant number of each column (default ``0..N-1``).
    reference_name : str
        Display name of ``reference``.

    Raises
    ------
    SweepError
        A group shorter than 20 days, or a split with fewer than 20 training days.
    """
    r = np.asarray(returns, dtype=float)
    t, n = r.shape
    purge, embargo = spec.gaps(t)
    if t // spec.groups < MIN_GROUP_DAYS:
        raise SweepError(f"--cv {spec.text}: {t} days make groups shorter than {MIN_GROUP_DAYS} days")
    splits = cpcv_splits(t, spec.groups, spec.test_groups, purge, embargo)
    mask = np.ones(t, dtype=bool) if in_regime is None else np.asarray(in_regime, dtype=bool)
    windows = [s.train[mask[s.train]] for s in splits]
    if min(len(w) for w in windows) < MIN_GROUP_DAYS:
        raise SweepError(f"--cv {spec.text}: a split keeps fewer than {MIN_GROUP_DAYS} training days "
                         f"after purge={purge} and embargo={embargo}")
    scores = metric_scores(np.ascontiguousarray(r.T), rf, metric_reference, metric, windows)
    chosen = np.where(np.isfinite(scores), scores, -np.inf).argmax(axis=1)
    paths = cpcv_paths(spec.groups, spec.test_groups)
    bounds = group_bounds(t, spec.groups)
    ref = np.asarray(reference, dtype=float)
    sharpe, bp, ir = [], [], []
    for row in paths:
        track = np.concatenate([r[a:b, chosen[s]] for (a, b), s in zip(bounds, row, strict=True)])
        sharpe.append(_ann_sharpe(track - rf))
        act = track - ref
        bp.append(float(act.mean() * TRADING_DAYS * 1e4))
        ir.append(_ann_sharpe(act))
    ids = np.arange(n) if variant_ids is None else np.asarray(variant_ids)
    return CpcvResult(spec=spec, purge=purge, embargo=embargo, days=t, n_splits=len(splits), chosen=ids[chosen],
                      paths=paths, sharpe=np.array(sharpe), active_bp=np.array(bp), active_ir=np.array(ir),
                      reference=reference_name, reference_sharpe=_ann_sharpe(ref - rf))
