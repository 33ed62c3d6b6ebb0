"""Conditions of the regime rules engine: parse from YAML, evaluate causally at decision dates.

A condition is a small tree, parsed once at config time and evaluated at the decision
dates only, on values *as of* each date (the inputs are already lagged, nothing is ever
shifted backwards)::

    {all: [c, ...]}   {any: [c, ...]}   {not: c}      [c, ...]  (a list means all)
    {regime: rmp}     {regime: [rmp, qe]}
    {signal: vix, op: "<", value: 25, exit: 30}       # hysteresis: enter < 25, stay while < 30
    {signal: vix, change: pct, lookback: 5, op: ">", value: 0.3}   # +30 % over 5 trading days
    "vix < 25"   "vix < 25 exit 30"   "regime in [rmp, qe]"         # string shorthands

Evaluation uses three-valued (Kleene) logic encoded as floats: 1 true, 0 false, 0.5
unknown (a missing signal or regime). ``all`` is the minimum, ``any`` the maximum, ``not``
is ``1 - x``; a tilt is active only where its condition is exactly true, so missing data
never switches a tilt on (not even through ``not``).

Hysteresis (``exit``) and the tilt holding state (:func:`hold_state`) are causal loops over
the decision dates: the state at a date depends only on values at or before it.

Batch axis. Every condition is written once, on arrays whose first axis is the decision
dates and whose trailing axes (if any) are a batch — e.g. the simulated paths of a
scenario. The context a condition reads (:class:`EvalContext`) decides the shape:
:class:`strategies.history.Context` gives one history, shape ``(T,)``; a batch gives
``(T, P)`` arrays for ``P`` paths (one history is a batch of one,
:class:`strategies.history.HistoryBatch`). :func:`hold_state` works on the same shapes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from backtest.constants import REGIME_KINDS

TRUE, UNKNOWN, FALSE = 1.0, 0.5, 0.0

#: How rules name the cash leg (``fund_from: [IEF, cash]``, ``floors: {cash: 0.1}``, sweeps),
#: matched case-insensitively. A keyword of the rules language, distinct from the explicit
#: cash *asset* of holdings and costs (:data:`backtest.constants.CASH`): in rules, cash is the
#: implied ``1 - sum(weights)`` column, never a traded ticker.
CASH_KEYWORD = "cash"

OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}
CHANGES = ("level", "diff", "pct")


def known_signals() -> dict[str, str]:
    """Signal names a rule may use (read at call time: other modules may add signals)."""
    from backtest.regimes.signals import SIGNALS

    return SIGNALS


def known_regimes() -> tuple[str, ...]:
    """Regime labels a rule may use."""
    return tuple(REGIME_KINDS)


# ------------------------------------------------------------------------------ context


class EvalContext(Protocol):
    """What a condition reads: inputs as of each decision date, shape ``(T, *batch)``.

    Attributes
    ----------
    shape : tuple of int
        ``(T,)`` for one history, ``(T, P)`` for a batch of ``P`` paths.
    regime : np.ndarray of str, shape ``shape``
        Regime label as of each decision date (``""`` where unknown).
    regime_known : np.ndarray of bool, shape ``shape``
        Whether a regime label is known there.
    """

    shape: tuple[int, ...]
    regime: np.ndarray
    regime_known: np.ndarray

    def values(self, name: str, lookback: int = 0) -> np.ndarray:
        """Signal ``name`` as of each decision date (or ``lookback`` trading rows earlier), shape ``shape``."""
        ...


# ---------------------------------------------------------------------------- conditions


class Condition(Protocol):
    """A parsed condition."""

    def evaluate(self, ctx: EvalContext) -> np.ndarray:
        """Truth value per decision date (and batch member): 1 true, 0 false, 0.5 unknown; shape ``ctx.shape``."""
        ...

    def signals(self) -> set[str]:
        """Signal names read."""
        ...


@dataclass(frozen=True)
class RegimeIn:
    """True where the regime label is one of ``labels``."""

    labels: tuple[str, ...]

    def evaluate(self, ctx: EvalContext) -> np.ndarray:
        hit = np.isin(ctx.regime, self.labels).astype(float)
        return np.where(ctx.regime_known, hit, UNKNOWN)

    def signals(self) -> set[str]:
        return set()


@dataclass(frozen=True)
class Compare:
    """``signal op value`` (optionally on its change), with an optional hysteresis ``exit``.

    With ``exit``, the condition turns on when ``x op value`` and then stays on while
    ``x op exit`` (``exit`` lies on the looser side of ``value``). Where ``x`` is missing
    the result is unknown and the state resets to off.
    """

    signal: str
    op: str
    value: float
    exit: float | None = None
    change: str = "level"
    lookback: int = 0

    def series(self, ctx: EvalContext) -> np.ndarray:
        """The compared quantity at each decision date."""
        x = ctx.values(self.signal)
        if self.change == "level":
            return x
        prev = ctx.values(self.signal, self.lookback)
        if self.change == "diff":
            return x - prev
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(prev != 0, x / prev - 1.0, np.nan)

    def evaluate(self, ctx: EvalContext) -> np.ndarray:
        x = self.series(ctx)
        known = np.isfinite(x)
        with np.errstate(invalid="ignore"):
            enter = OPS[self.op](x, self.value)
            if self.exit is None:
                return np.where(known, enter.astype(float), UNKNOWN)
            stay = OPS[self.op](x, self.exit)
        return hysteresis(enter, stay, known)

    def signals(self) -> set[str]:
        return {self.signal}


@dataclass(frozen=True)
class AllOf:
    """True where every child is true (Kleene minimum)."""

    children: tuple[Condition, ...]

    def evaluate(self, ctx: EvalContext) -> np.ndarray:
        return np.minimum.reduce([c.evaluate(ctx) for c in self.children])

    def signals(self) -> set[str]:
        return set().union(*(c.signals() for c in self.children))


@dataclass(frozen=True)
class AnyOf:
    """True where some child is true (Kleene maximum)."""

    children: tuple[Condition, ...]

    def evaluate(self, ctx: EvalContext) -> np.ndarray:
        return np.maximum.reduce([c.evaluate(ctx) for c in self.children])

    def signals(self) -> set[str]:
        return set().union(*(c.signals() for c in self.children))


@dataclass(frozen=True)
class Not:
    """Negation (unknown stays unknown)."""

    child: Condition

    def evaluate(self, ctx: EvalContext) -> np.ndarray:
        return 1.0 - self.child.evaluate(ctx)

    def signals(self) -> set[str]:
        return self.child.signals()


def hysteresis(enter: np.ndarray, stay: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Causal on/off band over the first axis: on when ``enter``, then on while ``stay``.

    The state at ``k`` is the loop ``on = known[k] and (stay[k] if on else enter[k])`` in
    closed form: on where some ``j <= k`` entered and every date of ``j .. k`` stayed in
    the band (``stay`` or ``enter``, known). The parser keeps ``exit`` on the looser side of
    ``value``, so entering implies staying and the two forms agree.

    Parameters
    ----------
    enter, stay, known : np.ndarray of bool, shape (T, *batch)
        Entry and stay tests, and whether the compared value is known. Where it is not
        known the result is unknown and the state resets to off.

    Returns
    -------
    np.ndarray of float, shape (T, *batch)
        1 on, 0 off, 0.5 unknown.
    """
    idx = np.arange(enter.shape[0]).reshape((-1,) + (1,) * (enter.ndim - 1))
    band = (stay | enter) & known
    last_enter = np.maximum.accumulate(np.where(enter & known, idx, -1), axis=0)
    last_break = np.maximum.accumulate(np.where(band, -1, idx), axis=0)
    on = last_enter > last_break  # causal: running maxima over dates at or before k
    return np.where(known, np.where(on, TRUE, FALSE), UNKNOWN)


# -------------------------------------------------------------------------------- parser

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CMP_RE = re.compile(rf"^\s*([A-Za-z_]\w*)\s*(<=|>=|<|>|==|!=|=<|=>|=)\s*({_NUM})\s*(?:exit\s+({_NUM}))?\s*$")
_REGIME_RE = re.compile(r"^\s*regime\s+(?:in\s*\[([^\]]*)\]|(?:==|=|is)\s*(\w+))\s*$")
_SIGNAL_KEYS = {"signal", "op", "value", "exit", "change", "lookback"}
_LOGIC_KEYS = ("all", "any", "not", "regime", "signal")


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _number(raw: Any, what: str, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"{where}: {what} must be a number, got {raw!r}")
    if not np.isfinite(raw):
        raise ValueError(f"{where}: {what} must be finite, got {raw!r}")
    return float(raw)


def _compare(raw: dict[str, Any], where: str) -> Compare:
    extra = set(raw) - _SIGNAL_KEYS
    if extra:
        key = sorted(extra)[0]
        raise ValueError(f"{where}: unknown key {key!r} in a signal condition{did_you_mean(key, sorted(_SIGNAL_KEYS))}")
    name = raw.get("signal")
    sigs = known_signals()
    if not isinstance(name, str) or name not in sigs:
        raise ValueError(f"{where}: unknown signal {name!r}{did_you_mean(str(name), sorted(sigs))}")
    op = raw.get("op")
    if op not in OPS:
        raise ValueError(f"{where}: unknown op {op!r} for signal {name!r} (use one of {', '.join(OPS)})")
    if "value" not in raw:
        raise ValueError(f"{where}: signal {name!r} needs a 'value'")
    value = _number(raw["value"], "value", where)
    exit_ = raw.get("exit")
    if exit_ is not None:
        exit_ = _number(exit_, "exit", where)
        looser = exit_ >= value if op in ("<", "<=") else exit_ <= value
        if not looser:
            side = ">=" if op in ("<", "<=") else "<="
            raise ValueError(
                f"{where}: exit {exit_:g} must be {side} value {value:g} for op {op!r} "
                "(hysteresis keeps the condition on over a wider band)"
            )
    change = raw.get("change", "level")
    if change not in CHANGES:
        raise ValueError(f"{where}: unknown change {change!r} (use one of {', '.join(CHANGES)})")
    lookback = raw.get("lookback", 0)
    if change != "level":
        if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 1:
            raise ValueError(f"{where}: change {change!r} needs an integer lookback >= 1 (trading days)")
    elif lookback:
        raise ValueError(f"{where}: lookback needs change: diff or pct")
    return Compare(name, op, value, exit_, change, int(lookback))


def _regime(raw: Any, where: str) -> RegimeIn:
    labels = [raw] if isinstance(raw, str) else raw
    if not isinstance(labels, list) or not labels:
        raise ValueError(f"{where}: regime must be a label or a non-empty list of labels")
    kinds = known_regimes()
    for lab in labels:
        if lab not in kinds:
            raise ValueError(f"{where}: unknown regime {lab!r}{did_you_mean(str(lab), kinds)} (known: {', '.join(kinds)})")
    return RegimeIn(tuple(dict.fromkeys(labels)))


def _from_string(text: str, where: str) -> Condition:
    m = _REGIME_RE.match(text)
    if m:
        labels = [s.strip().strip("'\"") for s in (m.group(1) or m.group(2)).split(",") if s.strip()]
        return _regime(labels, where)
    m = _CMP_RE.match(text)
    if not m:
        raise ValueError(
            f"{where}: cannot parse condition {text!r} "
            "(expected e.g. 'vix < 25', 'vix < 25 exit 30' or 'regime in [rmp, qe]')"
        )
    name, op, value, exit_ = m.groups()
    spec: dict[str, Any] = {"signal": name, "op": op, "value": float(value)}
    if exit_ is not None:
        spec["exit"] = float(exit_)
    return _compare(spec, where)


#: Parsed conditions by (canonical YAML form, ``where``, signal registry): a tune validates the
#: same ``when`` of every tilt once per variant. Conditions are frozen dataclasses over tuples
#: (immutable), so sharing one parsed object is safe; failures are never cached.
_PARSED: dict[Hashable, Condition] = {}
_PARSED_MAX = 4096
_PLAIN = (str, list, dict)


def _canonical(raw: Any) -> Hashable | None:
    """A hashable form of a YAML condition, or None (not cached).

    ``repr`` of the plain data a condition is made of (dicts, lists, str, int, float, bool,
    None) tells apart whatever parses differently: types (``1``, ``1.0``, ``True``,
    ``'1'``; lists from tuples), float signs and digits, key order.
    """
    return (type(raw), repr(raw)) if type(raw) in _PLAIN else None


def parse_condition(raw: Any, where: str) -> Condition:
    """Parse a condition from its YAML form (memoised: equal inputs share one parsed object).

    Parameters
    ----------
    raw : dict, list or str
        See the module docstring for the grammar.
    where : str
        Prefix of error messages (e.g. ``"tilt 'gold': when"``).

    Raises
    ------
    ValueError
        One line: empty condition, unknown key, signal, regime or op, bad hysteresis band.
    """
    canon = _canonical(raw)
    if canon is None:
        return _parse(raw, where)
    sigs = known_signals()  # read at call time: a signal added (or removed) later changes the key
    key = (canon, where, id(sigs), len(sigs))
    hit = _PARSED.get(key)
    if hit is None:
        hit = _parse(raw, where)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = hit
    return hit


def _parse(raw: Any, where: str) -> Condition:
    """:func:`parse_condition` without the memo."""
    if isinstance(raw, str):
        return _from_string(raw, where)
    if isinstance(raw, list):
        if not raw:
            raise ValueError(f"{where}: condition is empty")
        return AllOf(tuple(_parse(c, where) for c in raw))
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a condition mapping, list or string, got {raw!r}")
    if not raw:
        raise ValueError(f"{where}: condition is empty")
    if "signal" in raw:
        return _compare(raw, where)
    heads = [k for k in raw if k in _LOGIC_KEYS]
    if len(raw) != 1 or not heads:
        key = next((k for k in raw if k not in _LOGIC_KEYS), sorted(raw)[0])
        raise ValueError(
            f"{where}: unknown or extra key {key!r}{did_you_mean(str(key), _LOGIC_KEYS)} "
            "(a condition has one of: all, any, not, regime, signal)"
        )
    head, body = heads[0], raw[heads[0]]
    if head == "regime":
        return _regime(body, where)
    if head == "not":
        return Not(_parse(body, where))
    if not isinstance(body, list) or not body:
        raise ValueError(f"{where}: {head} needs a non-empty list of conditions")
    children = tuple(_parse(c, where) for c in body)
    return AllOf(children) if head == "all" else AnyOf(children)


# ----------------------------------------------------------------------------- hold state


def hold_state(
    cond: np.ndarray,
    force_off: np.ndarray,
    day_pos: np.ndarray,
    min_hold_days: int = 0,
    min_hold_periods: int = 0,
) -> np.ndarray:
    """Causal on/off state of a tilt over decision dates (first axis; trailing axes: batch).

    The tilt turns on at a decision where ``cond`` holds (and ``force_off`` does not); it
    then stays on while ``cond`` holds, and after ``cond`` fails it stays on until it has
    been held ``min_hold_days`` trading days (or ``min_hold_periods`` decisions).
    ``force_off`` switches it off at once, overriding the minimum holding time.

    Parameters
    ----------
    cond, force_off : np.ndarray of bool, shape (T, *batch)
    day_pos : np.ndarray of int, shape (T,)
        Trading-day position of each decision date (for ``min_hold_days``).
    min_hold_days, min_hold_periods : int
        Minimum holding time (use at most one).

    Returns
    -------
    np.ndarray of bool, shape (T, *batch)
    """
    if min_hold_days <= 0 and min_hold_periods <= 0:
        return cond & ~force_off
    shape = cond.shape
    T = shape[0]
    c = np.asarray(cond, dtype=bool).reshape(T, -1)
    off = np.asarray(force_off, dtype=bool).reshape(T, -1)
    n = c.shape[1]
    rows = np.arange(T)

    def next_true(x: np.ndarray) -> np.ndarray:
        """First row >= i where ``x`` holds, per column (T: none); shape (T + 1, n)."""
        nxt = np.minimum.accumulate(np.where(x, rows[:, None], T)[::-1], axis=0)[::-1]
        return np.vstack([nxt, np.full((1, n), T)])

    next_start, next_off, next_fail = next_true(c & ~off), next_true(off), next_true(~c)
    # a holding started at s may end on a failed condition from this row on (both minima served)
    day_pos = np.asarray(day_pos)
    free = np.maximum(np.searchsorted(day_pos, day_pos + min_hold_days, side="left"), rows + min_hold_periods)
    free = np.minimum(np.maximum(free, rows + 1), T)
    col = np.arange(n)
    marks = np.zeros((T + 1, n), dtype=np.int64)
    s = next_start[0]
    while (live := s < T).any():  # one holding episode per column and pass, in date order
        sc = np.minimum(s, T - 1)
        end = np.minimum(next_off[np.minimum(sc + 1, T), col], next_fail[free[sc], col])
        np.add.at(marks, (sc[live], col[live]), 1)
        np.add.at(marks, (end[live], col[live]), -1)
        s = np.where(live, next_start[end, col], T)
    return (np.cumsum(marks[:T], axis=0) > 0).reshape(shape)


# ----------------------------------------------------------------------------- explanation


def condition_text(cond: Condition) -> str:
    """A condition in words, as a user would write it (``vix_term < 0.95 (stays on while < 1)``)."""
    if isinstance(cond, RegimeIn):
        return f"regime in [{', '.join(cond.labels)}]"
    if isinstance(cond, Compare):
        lhs = cond.signal
        if cond.change == "diff":
            lhs = f"{cond.signal} change over {cond.lookback} days"
        elif cond.change == "pct":
            lhs = f"{cond.signal} % change over {cond.lookback} days"
        text = f"{lhs} {cond.op} {cond.value:g}"
        return text if cond.exit is None else f"{text} (stays on while {cond.op} {cond.exit:g})"
    if isinstance(cond, Not):
        return f"not ({condition_text(cond.child)})"
    if isinstance(cond, AllOf | AnyOf):
        word = " and " if isinstance(cond, AllOf) else " or "
        parts = [f"({condition_text(c)})" if isinstance(c, AllOf | AnyOf) else condition_text(c)
                 for c in cond.children]
        return word.join(parts)
    return repr(cond)


def truth_name(x: float) -> str:
    """``"true"``, ``"false"`` or ``"unknown"`` for a three-valued truth value."""
    return "true" if x == TRUE else "false" if x == FALSE else "unknown"


def explain_condition(cond: Condition, ctx: EvalContext, row: int) -> dict[str, Any]:
    """What a condition read at one decision date and what it made of it.

    Parameters
    ----------
    cond : Condition
        A parsed condition.
    ctx : EvalContext
        One history (``ctx.shape == (T,)``).
    row : int
        Position of the decision date (negative counts from the end). Hysteresis is
        evaluated over all dates up to it, as in the run.

    Returns
    -------
    dict
        ``text`` (:func:`condition_text`), ``state`` (``true`` / ``false`` / ``unknown``)
        and ``kind``: ``signal`` nodes add ``signal``, ``value`` (the compared quantity;
        None when missing), ``op``, ``threshold``, ``exit``, ``change``, ``lookback``;
        ``regime`` nodes add ``value`` (the label, None when unknown) and ``labels``;
        ``all`` / ``any`` / ``not`` nodes add ``children``.
    """
    node: dict[str, Any] = {"text": condition_text(cond),
                            "state": truth_name(float(np.asarray(cond.evaluate(ctx))[row]))}
    if isinstance(cond, Compare):
        x = float(np.asarray(cond.series(ctx))[row])
        node.update(kind="signal", signal=cond.signal, value=x if np.isfinite(x) else None, op=cond.op,
                    threshold=cond.value, exit=cond.exit, change=cond.change, lookback=cond.lookback)
    elif isinstance(cond, RegimeIn):
        known = bool(np.asarray(ctx.regime_known)[row])
        node.update(kind="regime", value=str(np.asarray(ctx.regime)[row]) if known else None,
                    labels=list(cond.labels))
    elif isinstance(cond, Not):
        node.update(kind="not", children=[explain_condition(cond.child, ctx, row)])
    elif isinstance(cond, AllOf | AnyOf):
        node.update(kind="all" if isinstance(cond, AllOf) else "any",
                    children=[explain_condition(c, ctx, row) for c in cond.children])
    return node


def deciding_leaves(node: dict[str, Any], negated: bool = False) -> list[dict[str, Any]]:
    """The leaves of an :func:`explain_condition` tree that decided its state.

    A true ``all`` needs every child, a false one is decided by its false children; a true
    ``any`` by its true children, a false one needs every child; ``not`` flips the roles.
    Unknown children are listed where they could have changed the result.

    Returns
    -------
    list of dict
        Leaf nodes (``signal`` / ``regime``), each with ``negated`` (under an odd number of
        ``not``).
    """
    kind = node.get("kind")
    if kind in ("signal", "regime"):
        return [{**node, "negated": negated}]
    if kind == "not":
        return deciding_leaves(node["children"][0], not negated)
    children = node.get("children", [])
    state = node["state"]
    if kind == "all":
        pick = children if state == "true" else [c for c in children if c["state"] != "true"]
    elif kind == "any":
        pick = [c for c in children if c["state"] != "false"] if state != "false" else children
    else:
        pick = []
    return [leaf for c in pick for leaf in deciding_leaves(c, negated)]
