"""Parameter sweeps: grids, ``--where`` constraints, walk-forward scoring, deflated Sharpe.

``rmpbt tune`` runs many *variants* of one strategy of a config. A variant sets some
config keys (``--grid KEY=START:STOP:STEP`` or ``KEY=a,b,c``); keys are dotted paths,
strategies addressed by name, list items by index (``strategies.pb.params.tilts[0].add.GLD``
or ``...tilts.0.add.GLD``).

How the work is organised (see ``docs/tuning.md``):

* Variants are grouped by *path*: the values of their non-strategy keys (rebalance
  schedule, lag, costs, cash, regimes). A path fixes the decision and fill days, costs and
  regime labels; each path is prepared once.
* Within a path, the strategy's weights for every variant are obtained either by calling
  ``weights()`` per variant or, when the weights are an affine function of the numeric
  keys being tuned (checked by probing: fitted on a few variants, verified to 1e-9 on
  others), by one matrix product for all variants.
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
* The verdict (:mod:`backtest.tune_verdict`, on :mod:`backtest.stats`): deflated Sharpe of the
  active return over effective trials, PBO, per-fold rank correlations and the
  out-of-sample information ratio guard against selecting noise.

The per-chunk code imports neither vectorbt nor dask, so Dask workers stay light.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import product
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from backtest.config import RunConfig, StrategyConfig, config_from_dict, parse_value
from backtest.constants import TRADING_DAYS
from backtest.errors import ConfigError, RmpbtError, StrategyError, SweepError
from backtest.execution.spec import ExecutionSpec, build_spec
from backtest.execution.weights import finalise_weights
from backtest.kernel import fill_plan, simulate_batch
from backtest.metrics_batch import WINDOW_METRICS, window_metrics
from backtest.tune_verdict import MAX_VARIANTS, target_turnover  # issue 13

METRICS = ("sharpe", "sortino", "calmar", "cagr", "max_drawdown", "information_ratio")  # IR: issue 13
PATH_ROOTS = ("rebalance", "execution", "costs", "cash", "regimes")
MAX_GRID = 1_000_000
MAX_FILTER = 200_000
MIN_TEST_DAYS = 20
AFFINE_TOL = 1e-9
N_VERIFY = 6

Key = tuple[str | int, ...]


# ============================================================================ keys


def parse_key(text: str, where: str = "--grid") -> Key:
    """Parse a dotted key with optional list indexes into a path tuple.

    ``a.b[0].c``, ``a.b.0.c`` -> ``("a", "b", 0, "c")``.

    Raises
    ------
    SweepError
        Empty or malformed key.
    """
    key = text.strip()
    if not key:
        raise SweepError(f"{where}: empty key")
    parts: list[str | int] = []
    for seg in key.split("."):
        m = re.fullmatch(r"([^\[\]\s]+)((?:\[\d+\])*)", seg)
        if not m:
            raise SweepError(f"{where} {key}: malformed key (expected dotted.path or path[0].key)")
        name, idx = m.groups()
        parts.append(int(name) if name.isdigit() else name)
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", idx))
    return tuple(parts)


def format_key(path: Key) -> str:
    """Canonical text of a key path (list indexes as ``[i]``)."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + p
    return out


class _Missing(Exception):
    def __init__(self, depth: int, options: list[str]) -> None:
        super().__init__(depth)
        self.depth, self.options = depth, options


def _child(node: Any, part: str | int, parent: Key) -> Any:
    if isinstance(node, list):
        if parent == ("strategies",) and isinstance(part, str):
            for item in node:
                if isinstance(item, dict) and item.get("name") == part:
                    return item
            raise _Missing(len(parent), [str(i.get("name")) for i in node if isinstance(i, dict)])
        if isinstance(part, int) and 0 <= part < len(node):
            return node[part]
        raise _Missing(len(parent), [f"[{i}]" for i in range(len(node))])
    if isinstance(node, dict):
        if part in node:
            return node[part]
        if isinstance(part, int) and str(part) in node:
            return node[str(part)]
        raise _Missing(len(parent), [str(k) for k in node])
    raise _Missing(len(parent), [])


def get_path(tree: Any, path: Key) -> Any:
    """Value at ``path`` in a nested dict/list tree (strategies addressed by name).

    Raises
    ------
    KeyError
        The path does not exist.
    """
    node = tree
    try:
        for i, part in enumerate(path):
            node = _child(node, part, path[:i])
    except _Missing:
        raise KeyError(format_key(path)) from None
    return node


def set_path(tree: Any, path: Key, value: Any, fallback: Any = None) -> None:
    """Set ``path`` in ``tree`` in place; missing nodes are copied from ``fallback`` or created.

    Raises
    ------
    SweepError
        The path walks through a value that is neither a mapping nor a list.
    """
    node = tree
    for i, part in enumerate(path[:-1]):
        try:
            node = _child(node, part, path[:i])
            continue
        except _Missing:
            pass
        if not isinstance(node, dict):
            raise SweepError(f"key {format_key(path)}: {format_key(path[:i]) or 'config'} has no item {part!r}")
        try:
            new = copy.deepcopy(get_path(fallback, path[: i + 1])) if fallback is not None else {}
        except KeyError:
            new = {}
        node[part] = new
        node = new
    last = path[-1]
    if isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        node[last] = value
    elif isinstance(node, dict):
        node[str(last) if isinstance(last, int) and str(last) in node else last] = value
    else:
        raise SweepError(f"key {format_key(path)}: {format_key(path[:-1])} is not a mapping")


# ============================================================================ grids


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
    else:
        items = [s.strip() for s in body.split(",")]
        if any(not s for s in items):
            raise SweepError(f"--grid {spec}: empty value in the list of choices")
        values = [parse_value(s) for s in items]
        seen: set[str] = set()
        for v in values:
            if repr(v) in seen:
                raise SweepError(f"--grid {spec}: duplicate value {v!r}")
            seen.add(repr(v))
    return GridAxis(format_key(path), path, tuple(values), spec)


# ============================================================================ --where


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<str>'[^']*'|"[^"]*")
    | (?P<op><=|>=|==|!=|<|>|\+|-|\*|/|\(|\))
    | (?P<name>[A-Za-z_][\w]*(?:\[\d+\])*(?:\.(?:[A-Za-z_][\w\-]*|\d+)(?:\[\d+\])*)*)
    )""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "true", "false", "True", "False"}
_CMP = {"<", "<=", ">", ">=", "==", "!="}


class WhereExpr:
    """A constraint between grid keys, parsed once and evaluated per variant (never ``eval``).

    Grammar: numbers, quoted strings, ``true``/``false``, names (grid keys, or any unique
    dotted suffix of one: ``GLD`` for ``strategies.pb.params.overrides.real_assets.GLD``),
    ``+ - * /``, unary ``-``, parentheses, comparisons ``< <= > >= == !=`` (chainable:
    ``0.1 <= x < 0.3``), ``and``, ``or``, ``not``. Numbers compare with a relative
    tolerance of 1e-9, so that ``0.1 + 0.2 <= 0.3`` holds.

    Parameters
    ----------
    text : str
        The expression.
    keys : sequence of str
        Grid keys the names may refer to.

    Raises
    ------
    SweepError
        Syntax error or unknown/ambiguous name.
    """

    MAX_CHARS = 2000
    MAX_TOKENS = 400
    MAX_DEPTH = 40
    MAX_LITERAL = 100  # characters of a number or string literal

    def __init__(self, text: str, keys: Sequence[str]) -> None:
        if len(text) > self.MAX_CHARS:
            raise SweepError(f"--where: expression of {len(text):,} characters (at most {self.MAX_CHARS})")
        self.text = text
        self._keys = list(keys)
        self._tokens = self._lex(text)
        if len(self._tokens) > self.MAX_TOKENS:
            raise self._error(f"{len(self._tokens)} tokens (at most {self.MAX_TOKENS})")
        self._pos = 0
        self._depth = 0
        if not self._tokens:
            raise SweepError("--where: empty expression")
        self.tree = self._or()
        if self._pos != len(self._tokens):
            raise self._error(f"unexpected {self._tokens[self._pos][1]!r}")

    # ---------------------------------------------------------------- lexing / parsing

    def _lex(self, text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise SweepError(f"--where {text}: unexpected character {text[pos:].strip()[:1]!r} at {pos + 1}")
            kind = m.lastgroup or ""
            val = m.group(kind)
            if kind in ("num", "str") and len(val) > self.MAX_LITERAL:
                raise SweepError(f"--where: literal of {len(val)} characters at {pos + 1} "
                                 f"(at most {self.MAX_LITERAL})")
            if kind == "num" and not math.isfinite(float(val)):
                raise SweepError(f"--where: number {val} is not finite")
            if kind == "name" and val in _KEYWORDS:
                kind = "kw"
            out.append((kind, val))
            pos = m.end()
        return out

    def _error(self, msg: str) -> SweepError:
        return SweepError(f"--where {self.text}: {msg}")

    def _peek(self) -> tuple[str, str] | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _take(self, kind: str | None = None, value: str | None = None) -> bool:
        tok = self._peek()
        if tok is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            return False
        self._pos += 1
        return True

    def _or(self) -> tuple:
        node = self._and()
        while self._take("kw", "or"):
            node = ("or", node, self._and())
        return node

    def _and(self) -> tuple:
        node = self._not()
        while self._take("kw", "and"):
            node = ("and", node, self._not())
        return node

    def _not(self) -> tuple:
        if self._take("kw", "not"):
            self._nest()
            return ("not", self._not())
        return self._cmp()

    def _cmp(self) -> tuple:
        first = self._sum()
        ops, rest = [], []
        while (tok := self._peek()) is not None and tok[0] == "op" and tok[1] in _CMP:
            self._pos += 1
            ops.append(tok[1])
            rest.append(self._sum())
        return ("cmp", first, tuple(ops), tuple(rest)) if ops else first

    def _sum(self) -> tuple:
        node = self._term()
        while (tok := self._peek()) in (("op", "+"), ("op", "-")):
            self._pos += 1
            node = (tok[1], node, self._term())
        return node

    def _term(self) -> tuple:
        node = self._unary()
        while (tok := self._peek()) in (("op", "*"), ("op", "/")):
            self._pos += 1
            node = (tok[1], node, self._unary())
        return node

    def _unary(self) -> tuple:
        if self._take("op", "-"):
            self._nest()
            return ("neg", self._unary())
        if self._take("op", "+"):
            self._nest()
            return self._unary()
        return self._atom()

    def _nest(self) -> None:
        self._depth += 1
        if self._depth > self.MAX_DEPTH:
            raise self._error(f"nested deeper than {self.MAX_DEPTH} levels")

    def _atom(self) -> tuple:
        tok = self._peek()
        if tok is None:
            raise self._error("unexpected end of expression")
        kind, val = tok
        self._pos += 1
        if kind == "num":
            return ("const", float(val) if any(c in val for c in ".eE") else int(val))
        if kind == "str":
            return ("const", val[1:-1])
        if kind == "kw" and val in ("true", "True"):
            return ("const", True)
        if kind == "kw" and val in ("false", "False"):
            return ("const", False)
        if kind == "name":
            return ("name", self._resolve(val))
        if tok == ("op", "("):
            self._nest()
            node = self._or()
            if not self._take("op", ")"):
                raise self._error("missing ')'")
            return node
        raise self._error(f"unexpected {val!r}")

    def _resolve(self, name: str) -> str:
        canon = format_key(parse_key(name, "--where"))
        if canon in self._keys:
            return canon
        hits = [k for k in self._keys if k.endswith("." + canon)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise self._error(f"name {name!r} is ambiguous ({', '.join(hits)})")
        close = difflib.get_close_matches(canon, self._keys, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (grid keys: {', '.join(self._keys)})"
        raise self._error(f"unknown name {name!r}{hint}")

    # ---------------------------------------------------------------- evaluation

    @property
    def names(self) -> set[str]:
        """Grid keys the expression refers to."""
        out: set[str] = set()

        def walk(n: Any) -> None:
            if isinstance(n, tuple):
                if n and n[0] == "name":
                    out.add(n[1])
                for c in n[1:]:
                    walk(c)

        walk(self.tree)
        return out

    def __call__(self, env: dict[str, Any]) -> bool:
        """Evaluate on a variant (key -> value).

        Raises
        ------
        SweepError
            Type error or division by zero.
        """
        try:
            return bool(self._eval(self.tree, env))
        except ZeroDivisionError:
            raise self._error(f"division by zero for {env}") from None
        except (TypeError, OverflowError) as exc:
            raise self._error(f"{exc} for {env}") from None

    def _eval(self, n: tuple, env: dict[str, Any]) -> Any:
        op = n[0]
        if op == "const":
            return n[1]
        if op == "name":
            return env[n[1]]
        if op == "neg":
            return -self._eval(n[1], env)
        if op == "not":
            return not self._eval(n[1], env)
        if op == "and":
            return self._eval(n[1], env) and self._eval(n[2], env)
        if op == "or":
            return self._eval(n[1], env) or self._eval(n[2], env)
        if op == "cmp":
            left = self._eval(n[1], env)
            for o, r in zip(n[2], n[3], strict=True):
                right = self._eval(r, env)
                ok = {"<": lambda a, b: a < b and not _eq(a, b), "<=": lambda a, b: a <= b or _eq(a, b),
                      ">": lambda a, b: a > b and not _eq(a, b), ">=": lambda a, b: a >= b or _eq(a, b),
                      "==": _eq, "!=": lambda a, b: not _eq(a, b)}[o](left, right)
                if not ok:
                    return False
                left = right
            return True
        a, b = self._eval(n[1], env), self._eval(n[2], env)
        if isinstance(a, str | bytes) or isinstance(b, str | bytes):  # 'x' * 10**9: no
            raise TypeError(f"arithmetic on a string ({a!r} {op} {b!r})")
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return a / b


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


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


# ============================================================================ windows


@dataclass(frozen=True)
class Fold:
    """One training window and the test window after it (row indices into the run's days)."""

    train: np.ndarray
    test: np.ndarray


_PERIOD = re.compile(r"^\s*(\d+)\s*([DWMY])\s*$", re.IGNORECASE)


def parse_period(text: str, what: str) -> pd.DateOffset:
    """``36M``, ``3Y``, ``26W``, ``90D`` (calendar) -> ``pd.DateOffset``."""
    m = _PERIOD.match(text)
    if not m or int(m.group(1)) <= 0:
        raise SweepError(f"--walk-forward {what}={text}: expected a positive length like 36M, 3Y, 26W or 90D")
    n, unit = int(m.group(1)), m.group(2).upper()
    return {"D": pd.DateOffset(days=n), "W": pd.DateOffset(weeks=n), "M": pd.DateOffset(months=n),
            "Y": pd.DateOffset(years=n)}[unit]


def walk_forward_folds(days: pd.DatetimeIndex, spec: str) -> list[Fold]:
    """Rolling (or ``anchored``) folds from ``train=36M,test=12M[,step=12M][,anchored]``.

    Fold ``f`` trains on ``[d0 + f*step, d0 + f*step + train)`` (anchored: from ``d0``) and
    tests on the ``test`` period after it; the last test window may be shorter (at least
    20 trading days).

    Raises
    ------
    SweepError
        Malformed spec, or train + test longer than the data.
    """
    opts: dict[str, str] = {}
    anchored = False
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if part.lower() == "anchored":
            anchored = True
            continue
        if "=" not in part:
            raise SweepError(f"--walk-forward {spec}: expected train=36M,test=12M[,step=..][,anchored]")
        k, v = (s.strip().lower() for s in part.split("=", 1))
        if k not in ("train", "test", "step"):
            raise SweepError(f"--walk-forward {spec}: unknown part {k!r} (train, test, step, anchored)")
        opts[k] = v
    if "train" not in opts or "test" not in opts:
        raise SweepError(f"--walk-forward {spec}: needs both train= and test=")
    train, test = parse_period(opts["train"], "train"), parse_period(opts["test"], "test")
    step = parse_period(opts["step"], "step") if "step" in opts else test
    d0, last = days[0], days[-1]
    if d0 + train + test > last + pd.Timedelta(days=1):
        raise SweepError(
            f"--walk-forward {spec}: train + test is longer than the data "
            f"({d0.date()} to {last.date()}, {len(days)} days)")
    folds: list[Fold] = []
    f = 0
    while True:
        start = d0 if anchored else d0 + step * f
        train_end = d0 + step * f + train
        test_end = train_end + test
        tr = np.flatnonzero((days >= start) & (days < train_end))
        te = np.flatnonzero((days >= train_end) & (days < test_end))
        if len(te) < MIN_TEST_DAYS or len(tr) < 2:
            break
        folds.append(Fold(tr, te))
        f += 1
        if test_end > last:
            break
    if not folds:
        raise SweepError(f"--walk-forward {spec}: no complete fold in {d0.date()} to {last.date()}")
    return folds


def split_folds(days: pd.DatetimeIndex, date: str | pd.Timestamp) -> list[Fold]:
    """One fold: train before ``date``, test from ``date``.

    Raises
    ------
    SweepError
        Bad date, or either side has fewer than 20 trading days.
    """
    try:
        d = pd.Timestamp(date)
    except (ValueError, TypeError):
        raise SweepError(f"--split {date}: not a date (YYYY-MM-DD)") from None
    tr = np.flatnonzero(days < d)
    te = np.flatnonzero(days >= d)
    if len(tr) < MIN_TEST_DAYS or len(te) < MIN_TEST_DAYS:
        raise SweepError(f"--split {date}: must leave at least {MIN_TEST_DAYS} trading days on each side "
                         f"of the data ({days[0].date()} to {days[-1].date()})")
    return [Fold(tr, te)]


# ============================================================================ metrics


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
        """Sharpe and SR0 annualised with sqrt(252), for display."""
        return {"sharpe": self.sharpe * np.sqrt(TRADING_DAYS), "sr0": self.sr0 * np.sqrt(TRADING_DAYS)}


def expected_max_sharpe(var_trials: float, n_trials: int) -> float:
    """Expected maximum Sharpe ratio of ``n_trials`` unskilled trials (see :mod:`backtest.stats`)."""
    from backtest.stats import expected_max_sharpe as _ems  # issue 13: one implementation

    return _ems(var_trials, n_trials)


def probabilistic_sharpe(sr: float, sr0: float, n_obs: int, skew: float, kurt: float) -> float:
    """Probabilistic Sharpe ratio, per-period SR (see :mod:`backtest.stats`)."""
    from backtest.stats import probabilistic_sharpe_ratio

    return probabilistic_sharpe_ratio(sr, sr0, n_obs, skew, kurt)


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
    from scipy.stats import kurtosis, skew

    x = np.asarray(best_excess, dtype=float)
    x = x[np.isfinite(x)]
    n = int(n_trials if n_trials is not None else len(trial_sharpes))
    trials = np.asarray(trial_sharpes, dtype=float)
    trials = trials[np.isfinite(trials)]
    var = float(np.var(trials, ddof=1)) if len(trials) > 1 else 0.0
    sd = x.std(ddof=1) if len(x) > 1 else np.nan
    sr = float(x.mean() / sd) if np.isfinite(sd) and sd > 0 else float("nan")
    g3 = float(skew(x)) if len(x) > 2 else 0.0
    g4 = float(kurtosis(x, fisher=False)) if len(x) > 3 else 3.0
    sr0 = expected_max_sharpe(var, n)
    return DeflatedSharpe(
        dsr=probabilistic_sharpe(sr, sr0, len(x), g3, g4),
        psr=probabilistic_sharpe(sr, 0.0, len(x), g3, g4),
        sharpe=sr, sr0=sr0, n_trials=n, n_obs=len(x), skew=g3, kurtosis=g4, var_trials=var,
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation over the pairs where both are finite (NaN if < 3 pairs)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(spearmanr(a[ok], b[ok]).statistic)


# ============================================================================ per-path work


@dataclass
class PathContext:
    """Everything a chunk of one path needs (picklable; no vectorbt objects).

    The execution rules (fills, costs, cash growth, drift band, leverage cap) are those of
    ``spec``; the properties below only read them.
    """

    group: int
    overrides: dict[str, Any]
    strategy: StrategyConfig
    sf: Any
    spec: ExecutionSpec
    prices: pd.DataFrame
    cash_g: np.ndarray | None
    rf: np.ndarray
    regime: np.ndarray
    folds: list[Fold]
    metric: str
    metric_regime: str | None
    avail: pd.DataFrame
    first: pd.Series
    reference: np.ndarray | None = None  # issue 13: untuned strategy's daily returns (--metric information_ratio)
    fill_k: np.ndarray = field(init=False)
    fill_idx: np.ndarray = field(init=False)
    dec_idx: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.fill_k = self.spec.fill_k
        self.fill_idx = self.spec.fill_idx
        self.dec_idx = self.spec.dec_idx

    @property
    def days(self) -> pd.DatetimeIndex:
        """Trading days of the path."""
        return self.spec.days

    @property
    def dates(self) -> pd.DatetimeIndex:
        """Decision days of the path."""
        return self.spec.decisions


@dataclass
class AffineWeights:
    """Weights as an affine function of numeric keys: ``W(θ) = A + Σ_j θ_j C_j``.

    ``A`` and the rows of ``C`` are flattened ``dates x assets`` arrays, snapped to
    10-decimal numbers when within 1e-12 of one (fitted coefficients are 1, 0, -0.4, ...
    up to rounding), so that e.g. a fixed weight tuned to 0.3 comes out as exactly ``0.3``:
    vectorbt breaks ties between equal orders by column, and a weight off by one ulp
    could otherwise change which order absorbs a cash shortfall. ``hold`` marks the
    all-NaN (hold) rows shared by every variant.
    """

    keys: list[str]
    intercept: np.ndarray
    coef: np.ndarray
    columns: list[str]
    hold: np.ndarray
    probes: int

    def weights(self, theta: np.ndarray) -> np.ndarray:
        """``V x D x N`` weights for ``theta`` (V x J)."""
        d, n = self.hold.shape[0], len(self.columns)
        w = np.repeat(self.intercept[None, :], len(theta), axis=0)
        for j in range(theta.shape[1]):  # elementwise, so a row never depends on the others
            w += theta[:, j : j + 1] * self.coef[j][None, :]
        w = w.reshape(len(theta), d, n)
        w[:, self.hold, :] = np.nan
        return w


@dataclass
class Chunk:
    """A batch of variants of one path (one kernel call)."""

    ctx: PathContext
    ids: np.ndarray
    params: list[dict[str, Any]]
    affine: AffineWeights | None = None
    theta: np.ndarray | None = None
    parallel: bool = True
    want_returns: bool = False
    labels: list[str] = field(default_factory=list)


@dataclass
class ChunkResult:
    """Scores of a chunk (and its daily returns when asked)."""

    ids: np.ndarray
    scores: dict[str, np.ndarray]
    returns: np.ndarray | None = None
    failed: np.ndarray | None = None


def _strategy_weights(ctx: PathContext, params: dict[str, Any]) -> pd.DataFrame:
    from strategies.base import build_strategy

    scfg = StrategyConfig(name=ctx.strategy.name, kind=ctx.strategy.kind, params=params)
    strat = build_strategy(scfg, "tune")
    w = strat.weights(ctx.sf, ctx.dates)
    if not isinstance(w, pd.DataFrame) or not w.index.equals(ctx.dates):
        raise StrategyError(f"strategy {strat.name}: weights must be a DataFrame indexed by the decision dates")
    unknown = [c for c in w.columns if c not in ctx.prices.columns]
    if unknown:
        raise StrategyError(f"strategy {strat.name}: unknown ticker {unknown[0]}")
    return w.astype(float)


def _stack(frames: list[pd.DataFrame]) -> tuple[np.ndarray, list[str]]:
    cols: list[str] = []
    for f in frames:
        cols.extend(c for c in f.columns if c not in cols)
    arr = np.stack([f.reindex(columns=cols).to_numpy(dtype=float) for f in frames])
    # reindex introduces NaN for columns a variant lacks; they mean 0 unless the row holds
    for i, f in enumerate(frames):
        missing = [j for j, c in enumerate(cols) if c not in f.columns]
        if missing:
            held = ~np.isnan(arr[i]).all(axis=1)
            for j in missing:
                arr[i, held, j] = 0.0
    return arr, cols


def _targets(ctx: PathContext, w: np.ndarray, cols: list[str], ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Framework post-processing of raw weights (as ``run_backtest`` + ``engine.simulate``):
    :func:`~backtest.execution.weights.finalise_weights`, fills, the early-weight check and
    the drift band.

    Returns targets at the fills (V x K x N) and the execute mask (V x K).
    """
    if np.isinf(w).any():
        v = int(ids[np.isinf(w).any(axis=(1, 2)).argmax()])
        raise StrategyError(f"variant {v}: strategy {ctx.strategy.name}: infinite weight")
    avail = ctx.avail.reindex(columns=cols).fillna(False).to_numpy(dtype=bool)
    w, _, _ = finalise_weights(w, avail, ctx.spec.max_gross)
    px = ctx.prices[cols].to_numpy(dtype=float)
    band = ctx.spec.drift_band
    px_b = pd.DataFrame(px).bfill().to_numpy() if band is not None else None
    tg, live, execute = fill_plan(w, ctx.fill_k, ctx.dec_idx, ctx.fill_idx, px_b, band)
    first = ctx.first.reindex(cols).to_numpy(dtype=np.int64)
    early = (ctx.fill_idx[:, None] < first[None, :])[None] & (np.abs(tg) > 0) & live[:, :, None]
    if early.any():
        v, k, j = (int(x[0]) for x in np.nonzero(early))
        raise StrategyError(f"variant {int(ids[v])}: weight on {cols[j]} filled on "
                            f"{ctx.days[ctx.fill_idx[k]].date()}, before its first price")
    return tg, execute


def _score(r_vt: np.ndarray, ctx: PathContext) -> dict[str, np.ndarray]:
    """Fold-wise and pooled scores of daily returns ``r_vt`` (V x T)."""
    reg = ctx.metric_regime
    in_reg = (ctx.regime == reg) if reg is not None else np.ones(len(ctx.days), dtype=bool)
    ir = ctx.metric == "information_ratio"  # issue 13: Sharpe of the return over the untuned strategy
    m = WINDOW_METRICS.index("sharpe" if ir else ctx.metric)
    is_rows = np.unique(np.concatenate([f.train for f in ctx.folds]))
    oos_rows = np.unique(np.concatenate([f.test for f in ctx.folds]))
    windows = [f.train[in_reg[f.train]] for f in ctx.folds] + [f.test[in_reg[f.test]] for f in ctx.folds]
    windows += [oos_rows[in_reg[oos_rows]], is_rows, oos_rows]
    res = window_metrics(r_vt, ctx.rf, windows)
    rm = window_metrics(r_vt, ctx.reference, windows) if ir else res  # issue 13
    n_f = len(ctx.folds)
    out: dict[str, np.ndarray] = {}
    train = rm[:n_f, :, m]
    for i in range(n_f):
        out[f"train_{i + 1}"] = train[i]
        out[f"test_{i + 1}"] = rm[n_f + i, :, m]
    finite = np.isfinite(train)
    cnt = finite.sum(axis=0)
    out["is"] = np.where(cnt > 0, np.where(finite, train, 0.0).sum(axis=0) / np.maximum(cnt, 1), np.nan)
    out["oos"] = rm[2 * n_f, :, m]
    for name in ("sharpe", "cagr", "max_drawdown"):
        j = WINDOW_METRICS.index(name)
        out[f"is_{name}"] = res[2 * n_f + 1, :, j]
        out[f"oos_{name}"] = res[2 * n_f + 2, :, j]
    return out


def run_chunk(chunk: Chunk) -> ChunkResult:
    """Weights, simulation and scores of one chunk (runs in a worker)."""
    ctx = chunk.ctx
    if chunk.affine is not None:
        w = chunk.affine.weights(np.asarray(chunk.theta, dtype=float))
        cols = list(chunk.affine.columns)
    else:
        frames = []
        for j, (vid, p) in enumerate(zip(chunk.ids, chunk.params, strict=True)):
            try:
                frames.append(_strategy_weights(ctx, p))
            except RmpbtError as exc:
                raise _variant_error(int(vid), chunk.labels[j] if chunk.labels else "", exc) from None
        w, cols = _stack(frames)
    tg, execute = _targets(ctx, w, cols, chunk.ids)
    px = ctx.prices[cols].to_numpy(dtype=float)
    costs = ctx.spec.costs
    vt = simulate_batch(px, tg, ctx.fill_idx, fee=costs.fee, slippage=costs.slippage,
                        borrow_bps=costs.borrow_vector(cols), cash_growth=ctx.cash_g, execute=execute,
                        parallel=chunk.parallel, borrow_spread_bps=costs.borrow_spread_bps)  # V x T
    r = np.empty_like(vt)
    r[:, 0] = vt[:, 0] - 1.0
    r[:, 1:] = vt[:, 1:] / vt[:, :-1] - 1.0
    failed = ~np.isfinite(vt[:, -1])
    scores = _score(r, ctx)
    scores["turnover"] = target_turnover(tg, execute, len(ctx.days), px[ctx.fill_idx])  # issue 13
    return ChunkResult(chunk.ids, scores, r.T if chunk.want_returns else None, failed)


# ============================================================================ the tuner


class ProgressSink(Protocol):
    """Receives progress: ``start(total)`` once, then ``advance(n)`` as variants finish."""

    def start(self, total: int) -> None:
        """Total number of variants."""
        ...

    def advance(self, n: int) -> None:
        """``n`` more variants done."""
        ...


@dataclass
class TuneRequest:
    """What ``rmpbt tune`` was asked (see the CLI for each option)."""

    grid: list[str]
    where: list[str] = field(default_factory=list)
    random: int | None = None
    seed: int | None = None
    metric: str = "sharpe"
    walk_forward: str | None = None
    split: str | None = None
    strategy: str | None = None
    chunk_size: int = 250
    vectorise: bool = True
    heatmap: tuple[str, str] | None = None
    benchmark: str | None = None  # issue 13: reference of the verdict (default: the config's benchmark)


@dataclass
class TuneResult:
    """Everything a tune computed (written by :func:`write_tune`)."""

    cfg: RunConfig
    origin: str
    request: TuneRequest
    strategy: str
    axes: list[GridAxis]
    table: pd.DataFrame
    best: int
    best_config: dict[str, Any]
    folds: pd.DataFrame
    oos_returns: pd.DataFrame
    oos_metrics: pd.DataFrame
    dsr: DeflatedSharpe
    rank_corr: float
    fold_rank_corr: list[float]
    n_paths: int
    weight_modes: dict[str, int]
    metric: str
    md: Any
    days: pd.DatetimeIndex
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    executor: str = "local (in-process)"
    chunks: dict[int, Chunk] = field(default_factory=dict, repr=False)
    verdict: Any = None  # issue 13: backtest.tune_verdict.TuneVerdict

    def variant_returns(self, ids: Sequence[int]) -> pd.DataFrame:
        """Daily returns of variants ``ids`` over the run's days (recomputed in-process,
        exactly as they were scored)."""
        rets = _returns_of(list(ids), self.chunks)
        return pd.DataFrame({i: rets[i] for i in ids}, index=self.days)


def benchmark_kinds() -> set[str]:
    """Strategy kinds defined in ``strategies.benchmarks`` (never tuned by default)."""
    from strategies.base import load_all

    return {k for k, s in load_all().items() if s.cls.__module__ == "strategies.benchmarks"}


def pick_strategy(cfg: RunConfig, name: str | None) -> StrategyConfig:
    """The strategy to tune: ``name``, or the first non-benchmark one.

    Raises
    ------
    SweepError
        Unknown name, or no non-benchmark strategy when ``name`` is None.
    """
    names = [s.name for s in cfg.strategies]
    if name is not None:
        for s in cfg.strategies:
            if s.name == name:
                return s
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (strategies: {', '.join(names)})"
        raise SweepError(f"--strategy {name}: no strategy of that name{hint}")
    bench = benchmark_kinds()
    for s in cfg.strategies:
        if s.kind not in bench and s.name != cfg.benchmark:
            return s
    raise SweepError(f"every strategy of the config is a benchmark ({', '.join(names)}); choose one with --strategy")


def _resolved_tree(cfg: RunConfig, tuned: StrategyConfig, origin: str) -> dict[str, Any]:
    from strategies.base import validate_params

    tree = cfg.resolved_dict()
    params = validate_params(tuned, origin).model_dump(mode="json")
    for s in tree["strategies"]:
        if s["name"] == tuned.name:
            s["params"] = params
    return tree


def check_axis(axis: GridAxis, raw: dict[str, Any], resolved: dict[str, Any], tuned: StrategyConfig) -> None:
    """Reject keys that cannot be tuned or do not exist (one-line SweepError)."""
    p = axis.path
    head = p[0]
    if head == "strategies":
        if len(p) < 4 or p[2] != "params":
            raise SweepError(f"--grid {axis.key}: only strategies.<name>.params.* keys can be tuned")
        if p[1] != tuned.name:
            names = [s["name"] for s in raw.get("strategies", [])]
            if p[1] not in names:
                close = difflib.get_close_matches(str(p[1]), names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise SweepError(f"--grid {axis.key}: no strategy named {p[1]!r}{hint}")
            raise SweepError(f"--grid {axis.key}: strategy {p[1]!r} is not the tuned strategy "
                             f"({tuned.name!r}; choose with --strategy)")
    elif head not in PATH_ROOTS:
        raise SweepError(f"--grid {axis.key}: {head!r} cannot be tuned (tunable: {', '.join(PATH_ROOTS)}, "
                         "strategies.<name>.params.*)")
    try:
        get_path(resolved, p)
        return
    except KeyError:
        pass
    # Not present: fine if it is a new entry of a free-form mapping that validates.
    trial = copy.deepcopy(raw)
    try:
        set_path(trial, p, axis.values[0], fallback=resolved)
        cfg = config_from_dict(trial, "--grid", validate_strategies=False)
        if head == "strategies":
            from strategies.base import validate_params

            validate_params(next(s for s in cfg.strategies if s.name == tuned.name), "--grid")
    except (ConfigError, SweepError) as exc:
        msg = str(exc).removeprefix("--grid: ").removeprefix(axis.key + ": ")
        depth = _missing_depth(resolved, p)
        if "unknown key" in msg or depth is None:
            raise SweepError(f"--grid {axis.key}: {msg}") from None
        raise SweepError(f"--grid {axis.key}: unknown key {format_key(p[: depth + 1])!r} ({msg})") from None


def _missing_depth(tree: Any, path: Key) -> int | None:
    node = tree
    try:
        for i, part in enumerate(path):
            node = _child(node, part, path[:i])
    except _Missing as m:
        return m.depth
    return None


def _days_of(cfg: RunConfig, md: Any) -> pd.DatetimeIndex:
    start = pd.Timestamp(cfg.data.start) if cfg.data.start else md.calendar[0]
    days = md.calendar[md.calendar >= start]
    if cfg.data.end is not None:
        days = days[days <= pd.Timestamp(cfg.data.end)]
    if len(days) < 2:
        raise SweepError(f"{md.source}: fewer than 2 trading days between {start.date()} and {cfg.data.end}")
    return days


def _build_context(group: int, overrides: dict[str, Any], cfg: RunConfig, tuned: StrategyConfig, md: Any,
                   days: pd.DatetimeIndex, folds: list[Fold], metric: str, regime: str | None,
                   labels_cache: dict[str, Any], origin: str) -> PathContext:
    """Prepare one path as ``run_backtest`` does (regimes, signals, cash, schedule, fills)."""
    from backtest.regimes.models import make_regime_model
    from backtest.signals import build_signal_frame

    rkey = cfg.regimes.model_dump_json()
    if rkey not in labels_cache:
        labels = make_regime_model(cfg.regimes).label(md, md.calendar)
        labels_cache[rkey] = (labels, build_signal_frame(md, labels["regime"], extra={"regime_labels": labels}))
    labels, sf = labels_cache[rkey]
    spec = build_spec(cfg, md, days, sf.signal("cash_rate"), origin)
    fin = np.isfinite(md.prices.loc[days].to_numpy(dtype=float))
    return PathContext(
        group=group, overrides=overrides, strategy=tuned, sf=sf, spec=spec, prices=md.prices.loc[days],
        cash_g=spec.cash_growth(), rf=spec.rf.reindex(days).to_numpy(dtype=float),
        regime=labels["regime"].reindex(days).astype(object).to_numpy(),
        folds=folds, metric=metric, metric_regime=regime,
        avail=sf.available().reindex(index=spec.decisions).fillna(False).astype(bool),
        first=pd.Series(np.where(fin.any(axis=0), fin.argmax(axis=0), len(days)), index=md.prices.columns),
    )


def _probe_affine(ctx: PathContext, ids: list[int], params: list[dict[str, Any]], theta: np.ndarray,
                  keys: list[str], labels: list[str]) -> AffineWeights | None:
    """Fit ``W(θ)`` on a few variants spanning the grid; verify on others; None if not affine."""
    v, j = theta.shape
    d = theta - theta[0]
    scale = np.ptp(theta, axis=0)
    scale[scale == 0] = 1.0
    target_rank = np.linalg.matrix_rank(d / scale) if v > 1 else 0
    order = np.argsort(-np.linalg.norm(d / scale, axis=1), kind="stable")
    chosen = [0]
    basis = np.zeros((0, j))
    for i in order:
        if len(chosen) - 1 >= target_rank:
            break
        cand = np.vstack([basis, d[i] / scale])
        if np.linalg.matrix_rank(cand) > len(basis):
            basis = cand
            chosen.append(int(i))
    rest = [i for i in range(v) if i not in chosen]
    if len(rest) < 2:
        return None
    rng = np.random.default_rng(0)
    pos = (d / scale).sum(axis=1)
    verify = list(dict.fromkeys([rest[int(np.argmax(pos[rest]))], rest[int(np.argmin(pos[rest]))],
                                 *[rest[i] for i in rng.choice(len(rest), size=min(N_VERIFY, len(rest)), replace=False)]]))
    verify = verify[:N_VERIFY]
    frames = []
    for i in chosen + verify:
        try:
            frames.append(_strategy_weights(ctx, params[i]))
        except RmpbtError as exc:
            raise _variant_error(int(ids[i]), labels[i], exc) from None
    arr, cols = _stack(frames)
    nan = np.isnan(arr)
    if not (nan == nan[0]).all():
        return None
    hold = nan[0].all(axis=1)
    if (nan[0] & ~hold[:, None]).any():
        return None
    flat = np.nan_to_num(arr, nan=0.0).reshape(len(frames), -1)
    n_fit = len(chosen)
    w0 = flat[0]
    if n_fit > 1:
        coef, *_ = np.linalg.lstsq(d[chosen[1:]], flat[1:n_fit] - w0, rcond=None)
    else:
        coef = np.zeros((j, flat.shape[1]))
    coef = _snap(coef)
    intercept = _snap(w0 - theta[0] @ coef)
    model = AffineWeights(keys, intercept, coef, cols, hold, len(frames))
    pred = model.weights(theta[verify]).reshape(len(verify), -1)
    actual = arr[n_fit:].reshape(len(verify), -1)
    ok = np.isnan(pred) == np.isnan(actual)
    if not ok.all() or np.nanmax(np.abs(pred - actual), initial=0.0) > AFFINE_TOL:
        return None
    return model


def _fmt_variant(v: dict[str, Any]) -> str:
    return ", ".join(f"{k}={val!r}" for k, val in v.items())


def _variant_error(i: int, label: str, exc: RmpbtError) -> RmpbtError:
    """The error of variant ``i``: invalid params become a SweepError with a ``--where`` hint."""
    where = f"variant {i} ({label})" if label else f"variant {i}"
    if isinstance(exc, ConfigError):
        return SweepError(f"{where}: {exc} (exclude such variants with --where)")
    return type(exc)(f"{where}: {exc}")


def _validate_variants(items: list[tuple[int, str, dict[str, Any]]], tuned: StrategyConfig, origin: str,
                       stop: threading.Event) -> RmpbtError | None:
    """Validate the strategy params of variants (in id order); the first error, or None."""
    from strategies.base import validate_params

    for i, label, p in items:
        if stop.is_set():
            return None
        try:
            validate_params(StrategyConfig(name=tuned.name, kind=tuned.kind, params=p), origin)
        except RmpbtError as exc:
            return _variant_error(i, label, exc)
    return None


def _copy_tree(x: Any) -> Any:
    """Copy of nested dicts/lists of plain values (faster than ``copy.deepcopy``)."""
    if isinstance(x, dict):
        return {k: _copy_tree(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_copy_tree(v) for v in x]
    return x


def _snap(x: np.ndarray, decimals: int = 10, tol: float = 1e-12) -> np.ndarray:
    """Replace values within ``tol`` of a ``decimals``-decimal number by that number."""
    r = np.round(x, decimals)
    return np.where(np.abs(x - r) <= tol, r, x)


def _variant_overrides(variant: dict[str, Any], axes: list[GridAxis], tuned: str) -> tuple[dict, dict]:
    """Split a variant into (path overrides, strategy-param overrides keyed by param path)."""
    path_o, strat_o = {}, {}
    for a in axes:
        if a.path[0] == "strategies":
            strat_o[a.path[3:]] = variant[a.key]
        else:
            path_o[a.key] = variant[a.key]
    return path_o, strat_o


def run_tune(
    cfg: RunConfig,
    req: TuneRequest,
    *,
    origin: str = "<config>",
    md: Any = None,
    executor: Any = None,
    progress: ProgressSink | None = None,
    benchmarks: bool = True,
) -> TuneResult:
    """Run a parameter sweep of one strategy of ``cfg`` (see the module docstring).

    Parameters
    ----------
    cfg : RunConfig
        The validated base config (``--set`` etc. already applied).
    req : TuneRequest
        Grid, constraints, metric, windows.
    origin : str
        Config file name, for messages and provenance.
    md : MarketData, optional
        Pre-loaded data (tests, benchmarks); loaded from ``cfg.data`` when omitted.
    executor : Executor, optional
        Where chunks run (default: in-process).
    progress : ProgressSink, optional
        Progress reporting.
    benchmarks : bool
        Also run the config's other strategies (untuned) through ``run_backtest`` for the
        out-of-sample comparison.

    Raises
    ------
    SweepError, ConfigError, DataError, StrategyError
        One-line user errors.
    """
    from backtest.executors import LocalExecutor

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    notes: list[str] = []
    executor = executor or LocalExecutor()
    tuned = pick_strategy(cfg, req.strategy)
    raw = cfg.resolved_dict()
    resolved = _resolved_tree(cfg, tuned, origin)
    axes = [parse_grid(g) for g in req.grid]
    if not axes:
        raise SweepError("no --grid given: nothing to tune")
    for a in axes:
        check_axis(a, raw, resolved, tuned)
    keys = [a.key for a in axes]
    where = [WhereExpr(w, keys) for w in req.where]
    seed = cfg.seed if req.seed is None else req.seed
    variants = expand(axes, where, req.random, seed)
    metric, regime = parse_metric(req.metric)
    if req.chunk_size < 1:
        raise SweepError(f"--chunk-size {req.chunk_size}: must be at least 1")

    if md is None:
        from backtest.pipeline import load_market

        md = load_market(cfg)
    days = _days_of(cfg, md)
    if req.walk_forward and req.split:
        raise SweepError("--walk-forward and --split are exclusive")
    if req.walk_forward:
        folds = walk_forward_folds(days, req.walk_forward)
    elif req.split:
        folds = split_folds(days, req.split)
    else:
        cut = days[int(len(days) * 0.7)]
        folds = split_folds(days, cut)
        notes.append(f"no --walk-forward/--split: in-sample before {cut.date()}, out-of-sample from it (70/30)")
    base_out = None
    if metric == "information_ratio":  # issue 13: the untuned strategy is the reference of the metric
        from backtest.pipeline import run_backtest

        base_out = run_backtest(cfg, origin, md=md)
    timings["prepare"] = time.perf_counter() - t0

    # ---------------------------------------------------------------- paths and weights
    t1 = time.perf_counter()
    groups: dict[str, list[int]] = {}
    split_o: list[tuple[dict, dict]] = []
    for i, v in enumerate(variants):
        po, so = _variant_overrides(v, axes, tuned.name)
        split_o.append((po, so))
        groups.setdefault(repr(sorted(po.items())), []).append(i)
    labels_cache: dict[str, Any] = {}
    base_params = next(s for s in raw["strategies"] if s["name"] == tuned.name)["params"]
    base_resolved_params = next(s for s in resolved["strategies"] if s["name"] == tuned.name)["params"]
    num_keys = [a.key for a in axes if a.path[0] == "strategies" and a.numeric]
    other_keys = [a.key for a in axes if a.path[0] == "strategies" and not a.numeric]
    chunks: list[Chunk] = []
    labels = [_fmt_variant(v) for v in variants]
    to_validate: list[tuple[int, str, dict[str, Any]]] = []
    modes = {"affine": 0, "per-variant": 0}
    parallel = not getattr(executor, "distributed", False)
    for g, members in enumerate(groups.values()):
        po = split_o[members[0]][0]
        graw = copy.deepcopy(raw)
        for k, val in po.items():
            set_path(graw, parse_key(k), val, fallback=resolved)
        try:
            gcfg = config_from_dict(graw, origin, validate_strategies=False)
        except ConfigError as exc:
            raise SweepError(f"variant {members[0]} ({_fmt_variant(po)}): {exc}") from None
        ctx = _build_context(g, po, gcfg, tuned, md, days, folds, metric, regime, labels_cache, origin)
        if base_out is not None:
            ctx.reference = base_out.returns[tuned.name].reindex(days).fillna(0.0).to_numpy(dtype=float)
        if regime is not None and g == 0:
            known = sorted({str(x) for x in ctx.regime if isinstance(x, str)})
            if regime not in known:
                raise SweepError(f"--metric {req.metric}: no regime {regime!r} in the labels ({', '.join(known)})")
        params: list[dict[str, Any]] = []
        for i in members:
            p = _copy_tree(base_params)
            for sub, val in split_o[i][1].items():
                set_path(p, sub, val, fallback=base_resolved_params)
            params.append(p)  # validated when built (per-variant) or in the background (affine)
        sub_groups: dict[str, list[int]] = {}
        for local, i in enumerate(members):
            sub_groups.setdefault(repr([variants[i][k] for k in other_keys]), []).append(local)
        for locals_ in sub_groups.values():
            ids = np.array([members[x] for x in locals_])
            ps = [params[x] for x in locals_]
            theta = np.array([[float(variants[i][k]) for k in num_keys] for i in ids]).reshape(len(ids), len(num_keys))
            affine = None
            if req.vectorise and num_keys and len(ids) > len(num_keys) + N_VERIFY + 2:
                affine = _probe_affine(ctx, list(ids), ps, theta, num_keys, [labels[i] for i in ids])
            modes["affine" if affine is not None else "per-variant"] += len(ids)
            if affine is not None:
                to_validate.extend((int(i), labels[i], p) for i, p in zip(ids, ps, strict=True))
            for s in range(0, len(ids), req.chunk_size):
                sl = slice(s, s + req.chunk_size)
                chunks.append(Chunk(ctx, ids[sl], ps[sl], affine, theta[sl] if affine is not None else None,
                                    parallel=parallel, labels=[labels[i] for i in ids[sl]],
                                    want_returns=len(variants) <= MAX_VARIANTS))  # issue 13: for the verdict
    timings["paths"] = time.perf_counter() - t1

    # ---------------------------------------------------------------- simulate and score
    t2 = time.perf_counter()
    if progress is not None:
        progress.start(len(variants))

    def done(i: int) -> None:
        if progress is not None:
            progress.advance(len(chunks[i].ids))

    # Variants simulated through the affine shortcut never build their strategy: their params
    # are validated in a thread meanwhile (the kernels release the GIL); errors still stop the
    # run before anything is written.
    to_validate.sort(key=lambda x: x[0])
    if to_validate:
        for c in chunks:  # one core validates, the other simulates (no OpenMP spin-waiting over it)
            c.parallel = False
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        check = pool.submit(_validate_variants, to_validate, tuned, origin, stop)
        try:
            results = executor.map(run_chunk, chunks, progress=done)
        except BaseException:
            stop.set()  # let the validation thread finish at once, then re-raise
            raise
        invalid = check.result()
    if invalid is not None:
        raise invalid
    timings["simulate"] = time.perf_counter() - t2

    # ---------------------------------------------------------------- select and report
    t3 = time.perf_counter()
    n = len(variants)
    score_keys = list(results[0].scores)
    scores = {k: np.full(n, np.nan) for k in score_keys}
    failed = np.zeros(n, dtype=bool)
    group_of = np.zeros(n, dtype=int)
    chunk_of: dict[int, Chunk] = {}
    for c, res in zip(chunks, results, strict=True):
        for k in score_keys:
            scores[k][res.ids] = res.scores[k]
        if res.failed is not None:
            failed[res.ids] = res.failed
        group_of[res.ids] = c.ctx.group
        for i in res.ids:
            chunk_of[int(i)] = c
    if failed.any():
        notes.append(f"{int(failed.sum())} variant(s) ran out of cash (vectorbt would raise): scored NaN")
    fold_rows = []
    chosen: list[int] = []
    for f, fold in enumerate(folds):
        tr = scores[f"train_{f + 1}"]
        if not np.isfinite(tr).any():
            raise SweepError(f"fold {f + 1}: no variant has a finite {req.metric} on the training window")
        c = int(np.nanargmax(tr))
        chosen.append(c)
        fold_rows.append({
            "fold": f + 1,
            "train_start": days[fold.train[0]].date(), "train_end": days[fold.train[-1]].date(),
            "test_start": days[fold.test[0]].date(), "test_end": days[fold.test[-1]].date(),
            "chosen": c, "train_score": tr[c], "test_score": scores[f"test_{f + 1}"][c],
            "rank_corr": spearman(tr, scores[f"test_{f + 1}"]),
        })
    is_score = scores["is"]
    if not np.isfinite(is_score).any():
        raise SweepError(f"no variant has a finite in-sample {req.metric}")
    best = int(np.nanargmax(is_score))
    need = sorted(set(chosen) | {best})
    rets = _returns_of(need, chunk_of)
    is_rows = np.unique(np.concatenate([f.train for f in folds]))
    any_ctx = chunks[0].ctx
    rf_days = pd.Series(any_ctx.rf, index=days)
    stitched = np.concatenate([rets[c][fold.test] for c, fold in zip(chosen, folds, strict=True)])
    stitched_idx = days[np.concatenate([f.test for f in folds])]
    oos = pd.DataFrame({f"{tuned.name} (tuned, walk-forward)" if len(folds) > 1 else f"{tuned.name} (tuned)":
                        pd.Series(stitched, index=stitched_idx)})
    if len(folds) > 1:
        oos[f"{tuned.name} (best in-sample)"] = pd.Series(rets[best], index=days).reindex(stitched_idx)
    best_ctx = chunk_of[best].ctx
    d_rows = is_rows
    best_ex = rets[best][d_rows] - best_ctx.rf[d_rows]
    trial_sr = scores["is_sharpe"] / np.sqrt(TRADING_DAYS)
    dsr = deflated_sharpe(best_ex, trial_sr, n_trials=n)
    rank_corr = float(pd.Series([r["rank_corr"] for r in fold_rows], dtype=float).median())  # issue 13: per fold

    base_returns = None if base_out is None else base_out.returns
    if benchmarks:
        from backtest.pipeline import run_backtest

        tb = time.perf_counter()
        base_out = base_out or run_backtest(cfg, origin, md=md)
        base_returns = base_out.returns
        cols = [tuned.name] + [c for c in base_out.returns.columns if c != tuned.name]
        for col in cols:
            label = f"{col} (as configured)" if col == tuned.name else col
            oos[label] = base_out.returns[col].reindex(stitched_idx)
        timings["benchmarks"] = time.perf_counter() - tb
    from backtest.metrics import summary

    oos_metrics = pd.DataFrame({c: summary(oos[c], rf_days) for c in oos.columns}).T
    oos_metrics.index.name = "strategy"
    oos_metrics = oos_metrics[["cagr", "ann_vol", "sharpe", "sortino", "max_drawdown", "calmar", "total_return"]]

    # ---------------------------------------------------------------- table and best config
    table = pd.DataFrame({"variant": np.arange(n), "path": group_of})
    for a in axes:
        table[a.key] = [v[a.key] for v in variants]
    table[f"is_{req.metric}"] = is_score
    table[f"oos_{req.metric}"] = scores["oos"]
    if len(folds) > 1:
        for f in range(len(folds)):
            table[f"train_{f + 1}"] = scores[f"train_{f + 1}"]
            table[f"test_{f + 1}"] = scores[f"test_{f + 1}"]
    for name in ("sharpe", "cagr", "max_drawdown"):
        if f"is_{name}" != f"is_{req.metric}":
            table[f"is_{name}"] = scores[f"is_{name}"]
            table[f"oos_{name}"] = scores[f"oos_{name}"]
    table["is_rank"] = pd.Series(-is_score).rank(method="min", na_option="bottom").astype(int).to_numpy()
    table["oos_rank"] = pd.Series(-scores["oos"]).rank(method="min", na_option="bottom").astype(int).to_numpy()
    table["chosen_folds"] = [";".join(str(f + 1) for f, c in enumerate(chosen) if c == i) for i in range(n)]
    best_cfg = copy.deepcopy(raw)
    for k, val in variants[best].items():
        set_path(best_cfg, parse_key(k), val, fallback=resolved)
    best_cfg["name"] = f"{cfg.name}-tuned"
    config_from_dict(best_cfg, "best.yaml")  # must be ready to run
    timings["report"] = time.perf_counter() - t3 - timings.get("benchmarks", 0.0)
    result = TuneResult(
        cfg=cfg, origin=origin, request=req, strategy=tuned.name, axes=axes, table=table, best=best,
        best_config=best_cfg, folds=pd.DataFrame(fold_rows), oos_returns=oos, oos_metrics=oos_metrics,
        dsr=dsr, rank_corr=rank_corr, fold_rank_corr=[r["rank_corr"] for r in fold_rows],
        n_paths=len(groups), weight_modes=modes, metric=req.metric, md=md, days=days, notes=notes,
        timings=timings, executor=executor.describe(), chunks=chunk_of,
    )
    # ---------------------------------------------------------------- issue 13: statistical verdict
    from backtest.tune_verdict import attach_verdict

    attach_verdict(result, base_returns, turnover=scores["turnover"], returns={
        int(i): res.returns[:, j] for res in results if res.returns is not None for j, i in enumerate(res.ids)})
    timings["total"] = time.perf_counter() - t0
    return result


def _returns_of(ids: list[int], chunk_of: dict[int, Chunk]) -> dict[int, np.ndarray]:
    """Daily returns of a few variants, recomputed in-process exactly as in their chunks."""
    out: dict[int, np.ndarray] = {}
    by_chunk: dict[int, list[int]] = {}
    for i in ids:
        by_chunk.setdefault(id(chunk_of[i]), []).append(i)
    for members in by_chunk.values():
        c = chunk_of[members[0]]
        pos = [int(np.flatnonzero(c.ids == i)[0]) for i in members]
        sub = Chunk(c.ctx, c.ids[pos], [c.params[p] for p in pos], c.affine,
                    None if c.theta is None else c.theta[pos], parallel=False, want_returns=True)
        res = run_chunk(sub)
        assert res.returns is not None
        for j, i in enumerate(members):
            out[i] = res.returns[:, j]
    return out


# ---------------------------------------------------------------- issue 13: holdings for turnover


def chunk_targets(chunk: Chunk) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Target weights at the fills (V x K x N), execute mask (V x K) and columns of a chunk's variants."""
    if chunk.affine is not None:
        w, cols = chunk.affine.weights(np.asarray(chunk.theta, dtype=float)), list(chunk.affine.columns)
    else:
        w, cols = _stack([_strategy_weights(chunk.ctx, p) for p in chunk.params])
    tg, execute = _targets(chunk.ctx, w, cols, chunk.ids)
    return tg, execute, cols


# ============================================================================ writing


def write_tune(result: TuneResult, root: str | Path = "results", html: bool = True) -> Path:
    """Write ``tune.csv``, ``best.yaml``, ``oos.csv``, ``tune.html`` and ``provenance.json`` atomically.

    Returns
    -------
    Path
        The new run folder.
    """
    import yaml

    from backtest.results import (
        FORMAT_VERSION,
        atomic_run_dir,
        final_path,
        git_commit,
        make_run_id,
        package_versions,
        write_json,
    )

    cfg = result.cfg
    run_id = make_run_id(f"tune-{cfg.name}-{result.strategy}", cfg.config_hash())
    with atomic_run_dir(root, run_id) as tmp:
        result.table.to_csv(tmp / "tune.csv", index=False, float_format="%.10g")
        (tmp / "best.yaml").write_text(
            f"# best variant {result.best} of `rmpbt tune {result.origin}` (in-sample {result.metric})\n"
            + yaml.safe_dump(result.best_config, sort_keys=False))
        oos = result.oos_returns.copy()
        oos.index.name = "date"
        oos.to_csv(tmp / "oos.csv", float_format="%.10g")
        if html:
            from backtest.report.tune_page import render_tune_page

            (tmp / "tune.html").write_text(render_tune_page(result), encoding="utf-8")
        req = result.request
        d = result.dsr
        prov = {
            "format_version": FORMAT_VERSION,
            "kind": "tune",
            "run_id": tmp.final.name,
            "name": cfg.name,
            "config_file": result.origin,
            "config_hash": cfg.config_hash(),
            "strategy": result.strategy,
            "grid": {a.key: list(a.values) for a in result.axes},
            "grid_specs": [a.spec for a in result.axes],
            "where": req.where,
            "random": req.random,
            "seed": cfg.seed if req.seed is None else req.seed,
            "metric": result.metric,
            "walk_forward": req.walk_forward,
            "split": req.split,
            "folds": result.folds.astype({"train_start": str, "train_end": str, "test_start": str,
                                          "test_end": str}).to_dict(orient="records"),
            "variants": len(result.table),
            "paths": result.n_paths,
            "weights": result.weight_modes,
            "best": {"variant": result.best, **{a.key: result.table.loc[result.best, a.key] for a in result.axes}},
            "deflated_sharpe": {
                "dsr": d.dsr, "psr": d.psr, "sharpe_daily": d.sharpe, "sr0_daily": d.sr0,
                "sharpe_annual": d.annualised()["sharpe"], "sr0_annual": d.annualised()["sr0"],
                "n_trials": d.n_trials, "n_obs": d.n_obs, "skew": d.skew, "kurtosis": d.kurtosis,
                "var_trials": d.var_trials,
            },
            "verdict": result.verdict.to_dict() if result.verdict is not None else None,  # issue 13
            "rank_corr_by_fold": result.fold_rank_corr,
            "data": {
                "source": result.md.source,
                "synthetic": result.md.synthetic,
                "first_date": str(result.days[0].date()),
                "last_date": str(result.days[-1].date()),
                "fingerprint": result.md.fingerprint(),
            },
            "executor": result.executor,
            "notes": result.notes,
            "packages": package_versions(),
            "git_commit": git_commit(),
            "timings_s": {k: round(v, 4) for k, v in result.timings.items()},
        }
        write_json(tmp / "provenance.json", _plain(prov))
    return final_path(root, run_id)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


