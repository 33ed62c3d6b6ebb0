"""Block bootstrap of a daily series, vectorised: index arrays and count matrices, no loop per draw.

A block bootstrap resamples a series of ``n`` days in blocks of consecutive days, keeping
the short-range dependence of daily returns (volatility clusters, the regime label of
neighbouring days). Two schemes, both wrapping around the end of the series:

* **stationary** (Politis & Romano 1994): blocks of geometric length with mean
  ``block`` (a new block starts on each day with probability ``1 / block``);
* **circular** (Politis & Romano 1992): blocks of fixed length ``block`` from uniform
  starting points, concatenated and cut to ``n`` days.

A draw is represented by its **blocks** (start, length: :func:`block_layout`). Any
statistic that is a sum over the resampled days (a mean, a sum of log returns, a
Carino-weighted contribution) is then a sum over the blocks of differences of prefix
sums (:func:`block_sums`): about ``n / block`` operations per draw and column instead of
``n``, and no ``(draws, n)`` array. :func:`block_counts` (how many times each day appears
in each draw, so that ``counts @ values`` gives the same sums) and :func:`block_indices`
lay the draws out, for tests. :func:`interval` turns the draws of a statistic into a
percentile interval.

The random numbers come from the ``numpy.random.Generator`` passed in; callers seed one
generator per figure (from the run's seed and the figure's name) so that a figure does not
depend on how many other figures were drawn before it.
"""

from __future__ import annotations

import zlib

import numpy as np

#: number of bootstrap draws (the issue's 1,000)
DRAWS = 1000
#: mean block length in trading days (a quarter): chosen ex ante, see docs/evidence.md
BLOCK = 63
#: two-sided level of the intervals (90 %: a one-sided 5 % test at each end)
LEVEL = 0.90
SCHEMES = ("stationary", "circular")


def seeded_rng(seed: int, *names: object) -> np.random.Generator:
    """A generator seeded by the run's ``seed`` and a figure's name parts (stable across runs).

    Parameters
    ----------
    seed : int
        The run's seed.
    *names : object
        Parts naming the figure (each enters through the CRC-32 of its text).

    Returns
    -------
    numpy.random.Generator
    """
    key = [int(seed)] + [zlib.crc32(str(p).encode()) for p in names]
    return np.random.default_rng(key)


def block_layout(n: int, draws: int, block: float, rng: np.random.Generator,
                 scheme: str = "stationary") -> tuple[np.ndarray, np.ndarray]:
    """The blocks of each draw: start positions and lengths, both ``(draws, m)``.

    A draw is its blocks concatenated in column order, each block ``start, start + 1, ...``
    (modulo ``n``); lengths are cut so that every row totals exactly ``n`` (trailing blocks
    get length 0).

    Parameters
    ----------
    n : int
        Length of the series (>= 1).
    draws : int
        Number of bootstrap draws.
    block : float
        Mean (stationary: geometric lengths) or fixed (circular) block length in days, >= 1.
    rng : numpy.random.Generator
        Source of randomness.
    scheme : {"stationary", "circular"}
        Resampling scheme (see the module docstring).

    Returns
    -------
    tuple of np.ndarray
        ``(starts, lengths)``, integers.
    """
    if n < 1 or draws < 1:
        raise ValueError(f"block bootstrap needs n >= 1 and draws >= 1 (got n={n}, draws={draws})")
    if not block >= 1:
        raise ValueError(f"block length must be >= 1, got {block}")
    if scheme == "stationary":
        m = int(n / block + 6.0 * np.sqrt(n / block) + 8)
        lengths = rng.geometric(1.0 / block, size=(draws, m))
        while (lengths.sum(axis=1) < n).any():  # rarely: more blocks for the longest draws
            lengths = np.concatenate([lengths, rng.geometric(1.0 / block, size=(draws, m))], axis=1)
    elif scheme == "circular":
        size = max(1, int(round(block)))
        lengths = np.full((draws, -(-n // size)), size, dtype=np.int64)
    else:
        raise ValueError(f"unknown bootstrap scheme {scheme!r} (expected one of {', '.join(SCHEMES)})")
    begin = np.cumsum(lengths, axis=1) - lengths
    lengths = np.clip(n - begin, 0, lengths)
    starts = rng.integers(0, n, size=lengths.shape)
    return starts, lengths


def block_indices(n: int, draws: int, block: float, rng: np.random.Generator,
                  scheme: str = "stationary") -> np.ndarray:
    """Resampled day positions, shape ``(draws, n)``: the blocks of :func:`block_layout` laid out.

    For inspection and tests; statistics use :func:`block_counts`, which never builds them.
    """
    starts, lengths = block_layout(n, draws, block, rng, scheme)
    total = lengths.sum()
    first = np.repeat(np.cumsum(lengths.ravel()) - lengths.ravel(), lengths.ravel())
    pos = np.repeat(starts.ravel(), lengths.ravel()) + (np.arange(total) - first)
    return (pos % n).reshape(draws, n)


def block_sums(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over the days of each draw of a :func:`block_layout`.

    Parameters
    ----------
    values : np.ndarray
        ``(n,)`` or ``(n, K)`` values per day.
    starts, lengths : np.ndarray
        ``(draws, m)`` blocks of :func:`block_layout` for a series of ``n`` days.

    Returns
    -------
    np.ndarray
        ``(draws,)`` or ``(draws, K)``: for each draw, the sum of ``values`` over its days
        (a day drawn twice counts twice), from prefix sums: a block ``[s, s + L)`` adds
        ``P[s + L] - P[s]``, wrapping past the end as ``P[n] - P[s] + P[s + L - n]``.
    """
    v = np.asarray(values, dtype=float)
    flat = v.reshape(len(v), -1)
    n = len(v)
    prefix = np.vstack([np.zeros((1, flat.shape[1])), np.cumsum(flat, axis=0)])
    keep = lengths > 0  # every draw has at least one block; kept in row-major (draw) order
    s = starts[keep]
    e = s + lengths[keep]
    row_first = np.concatenate([[0], np.cumsum(keep.sum(axis=1))[:-1]])
    out = np.add.reduceat(prefix[np.minimum(e, n)] - prefix[s], row_first, axis=0)
    wrap = np.flatnonzero(e > n)
    if len(wrap):
        rows = np.repeat(np.arange(len(starts)), keep.sum(axis=1))[wrap]
        np.add.at(out, rows, prefix[e[wrap] - n])
    return out.reshape((len(starts), *v.shape[1:]))


def block_counts(n: int, draws: int = DRAWS, block: float = BLOCK, rng: np.random.Generator | None = None,
                 scheme: str = "stationary") -> np.ndarray:
    """How many times each day appears in each draw, shape ``(draws, n)`` (float64, rows sum to ``n``).

    ``block_counts(...) @ v`` is, for every draw at once, the sum of ``v`` over the resampled
    days (what :func:`block_sums` computes without the matrix). Built from the blocks'
    start and end marks (a difference array summed along each row). Parameters as :func:`block_layout` (``rng``
    defaults to an unseeded generator); the same generator state gives the counts of
    :func:`block_indices`.
    """
    rng = rng if rng is not None else np.random.default_rng()
    starts, lengths = block_layout(n, draws, block, rng, scheme)
    row = np.repeat(np.arange(draws) * (n + 1), starts.shape[1])
    s, ln = starts.ravel(), lengths.ravel()
    end = s + ln
    wrap = end > n
    marks = [row + s, row + np.where(wrap, n, end), row[wrap], row[wrap] + end[wrap] - n]
    signs = [np.ones(len(s)), -np.ones(len(s)), np.ones(int(wrap.sum())), -np.ones(int(wrap.sum()))]
    diff = np.bincount(np.concatenate(marks), weights=np.concatenate(signs), minlength=draws * (n + 1))
    return np.cumsum(diff.reshape(draws, n + 1)[:, :n], axis=1)


def interval(samples: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap draws along axis 0 (NaN draws ignored).

    Parameters
    ----------
    samples : np.ndarray
        ``(draws, ...)`` values of a statistic.
    level : float
        Two-sided level, e.g. 0.9 for the 5 % and 95 % percentiles.

    Returns
    -------
    tuple of np.ndarray
        ``(lo, hi)`` with the trailing shape of ``samples``; NaN where fewer than half the
        draws are finite.
    """
    s = np.asarray(samples, dtype=float)
    tail = (1.0 - level) / 2.0
    flat = s.reshape(s.shape[0], -1)
    finite = np.isfinite(flat)
    if finite.all():
        lo, hi = np.quantile(flat, [tail, 1.0 - tail], axis=0)
        return lo.reshape(s.shape[1:]), hi.reshape(s.shape[1:])
    lo, hi = np.full(flat.shape[1], np.nan), np.full(flat.shape[1], np.nan)
    for j in np.flatnonzero(finite.sum(axis=0) >= max(1, s.shape[0] // 2)):
        lo[j], hi[j] = np.quantile(flat[finite[:, j], j], [tail, 1.0 - tail])
    return lo.reshape(s.shape[1:]), hi.reshape(s.shape[1:])
