"""Grid axes of ``rmpbt tune`` (``--grid KEY=START:STOP:STEP`` or ``KEY=a,b,c``) and their expansion
into variants (``--where``, ``--random``)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import product
from typing import Any

import numpy as np

from backtest.config import parse_value
from backtest.errors import SweepError
from backtest.tune.keys import Key, format_key, parse_key
from backtest.tune.where import WhereExpr

MAX_GRID = 1_000_000
MAX_FILTER = 200_000



@dataclass(frozen=True)
class GridAxis:
    """One tuned key and the values it takes.

    Attributes
    ----------
    key : str
        Canonical key text.
    path : tuple
        Parsed key.
    values : tuple
        Values in grid order.
    spec : str
        The ``--grid`` text it came from.
    """

    key: str
    path: Key
    values: tuple[Any, ...]
    spec: str

    @property
    def numeric(self) -> bool:
        """True when every value is an int or float (not bool)."""
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)


def _decimal(text: str, spec: str) -> Decimal:
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise SweepError(f"--grid {spec}: {text.strip()!r} is not a number (START:STOP:STEP)") from None
    if not d.is_finite():
        raise SweepError(f"--grid {spec}: {text.strip()!r} is not a finite number")
    return d


def parse_grid(spec: str) -> GridAxis:
    """Parse ``KEY=START:STOP:STEP`` (numbers; STOP included when on the grid) or ``KEY=a,b,c``.

    Raises
    ------
    SweepError
        Missing ``=``, empty grid, zero step, non-numeric range.
    """
    if "=" not in spec:
        raise SweepError(f"--grid {spec}: expected KEY=START:STOP:STEP or KEY=a,b,c")
    key_text, body = spec.split("=", 1)
    path = parse_key(key_text, f"--grid {spec}")
    body = body.strip()
    if not body:
        raise SweepError(f"--grid {spec}: empty grid (no values)")
    values: list[Any]
    if ":" in body and "," not in body:
        parts = body.split(":")
        if len(parts) != 3:
            raise SweepError(f"--grid {spec}: a range is START:STOP:STEP")
        start, stop, step = (_decimal(p, spec) for p in parts)
        if step == 0:
            raise SweepError(f"--grid {spec}: step must not be zero")
        try:
            n = int(math.floor((stop - start) / step)) + 1
        except (ArithmeticError, ValueError, OverflowError):
            raise SweepError(f"--grid {spec}: START:STOP:STEP out of range") from None
        if n <= 0:
            raise SweepError(f"--grid {spec}: empty grid ({start} to {stop} by {step} has no values)")
        if n > MAX_GRID:
            raise SweepError(f"--grid {spec}: {n} values (at most {MAX_GRID})")
        as_int = all(re.fullmatch(r"\s*[-+]?\d+\s*", p) for p in parts)
        dec = [start + i * step for i in range(n)]
        values = [int(d) for d in dec] if as_int else [float(d) for d in dec]
        if not as_int and not all(math.isfinite(v) for v in values):
            raise SweepError(f"--grid {spec}: START:STOP:STEP overflows (a value is not a finite number)")
    else:
        items = [s.strip() for s in body.split(",")]
        if any(not s for s in items):
            raise SweepError(f"--grid {spec}: empty value in the list of choices")
        values = [parse_value(s) for s in items]
        seen: set[str] = set()
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise SweepError(f"--grid {spec}: {v!r} is not a finite number")
            if repr(v) in seen:
                raise SweepError(f"--grid {spec}: duplicate value {v!r}")
            seen.add(repr(v))
    return GridAxis(format_key(path), path, tuple(values), spec)


MAX_DRAWS = 200_000  # rejection-sampling draws for --random before giving up


def _big_index(rng: np.random.Generator, sizes: Sequence[int]) -> int:
    """A uniform flat index into a grid whose size does not fit in int64 (one draw per axis)."""
    i = 0
    for s in sizes:
        i = i * s + int(rng.integers(s))
    return i


def expand(
    axes: Sequence[GridAxis],
    where: Sequence[WhereExpr] = (),
    n_random: int | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """The variants of a grid: full product, filtered by ``where``, or ``n_random`` of them.

    Random variants are drawn without replacement with ``np.random.default_rng(seed)`` and
    returned in grid order.

    Raises
    ------
    SweepError
        No axis, duplicate keys, a grid too large to enumerate, or no variant left.
    """
    if not axes:
        raise SweepError("no --grid given: nothing to tune")
    keys = [a.key for a in axes]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise SweepError(f"--grid {sorted(dup)[0]}: key given twice")
    sizes = [len(a.values) for a in axes]
    total = math.prod(sizes)

    def variant(i: int) -> dict[str, Any]:
        out = {}
        for a, s in zip(reversed(axes), reversed(sizes), strict=True):
            i, r = divmod(i, s)
            out[a.key] = a.values[r]
        return {k: out[k] for k in keys}

    def ok(v: dict[str, Any]) -> bool:
        return all(w(v) for w in where)

    if n_random is not None and not 1 <= n_random <= MAX_GRID:
        raise SweepError(f"--random {n_random}: must be 1..{MAX_GRID:,}")
    if n_random is None:
        if total > MAX_GRID:
            raise SweepError(f"the grid has {total:,} variants (at most {MAX_GRID:,}); use --random N")
        out = [v for v in (dict(zip(keys, combo, strict=True)) for combo in product(*(a.values for a in axes))) if ok(v)]
    else:
        rng = np.random.default_rng(seed)
        if total <= MAX_FILTER:
            idx = [i for i in range(total) if ok(variant(i))]
            take = np.sort(rng.choice(len(idx), size=min(n_random, len(idx)), replace=False)) if idx else []
            out = [variant(idx[j]) for j in take]
        else:
            chosen: set[int] = set()
            tries, max_tries = 0, min(50 * n_random, MAX_DRAWS)
            while len(chosen) < n_random and tries < max_tries:
                tries += 1
                i = int(rng.integers(total)) if total < 2**63 else _big_index(rng, sizes)
                if i not in chosen and ok(variant(i)):
                    chosen.add(i)
            if not chosen and where:
                raise SweepError(f"--random {n_random}: no variant satisfying --where in {tries:,} draws "
                                 "(loosen --where or shrink the grid)")
            out = [variant(i) for i in sorted(chosen)]
    if not out:
        raise SweepError("no variant satisfies --where" if where else "empty grid")
    return out
