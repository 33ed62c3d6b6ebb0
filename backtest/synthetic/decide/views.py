"""``--view`` statements: a scenario's probability or an expected horizon return, as a linear view.

Grammar (spaces allowed; ``=`` may be written ``==``; a value may end in ``%``)::

    P(B) >= 0.5          probability of scenario B (0 … 1)
    E[spy] = 0.08        expected horizon return of strategy spy (−1 … 10)
    E[SPY] <= 8%         ... of asset SPY (a name that is no strategy; case-insensitive)
    E[asset:SPY] = 0.08  force the asset (or ``strategy:NAME``)

Each view is linear in the path weights: ``P(s) = Σ_{i in s} w_i`` and
``E[x] = Σ_i w_i x_i``, so entropy pooling (:mod:`.pooling`) can impose it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from backtest.errors import ScenarioError
from backtest.synthetic.decide.outcomes import Outcomes

OPS = ("=", ">=", "<=")
E_RANGE = (-1.0, 10.0)
"""Allowed targets of an ``E[...]`` view (horizon returns as fractions)."""
_VIEW = re.compile(r"^\s*(?:P\s*\(\s*(?P<scen>[^()]*?)\s*\)|E\s*\[\s*(?P<name>[^\[\]]*?)\s*\])\s*"
                   r"(?P<op>>=|<=|==|=)\s*(?P<value>\S+?)\s*$")


@dataclass(frozen=True)
class View:
    """One parsed view.

    Attributes
    ----------
    text : str
        As typed.
    kind : str
        ``P`` (scenario probability) or ``E`` (expected horizon return).
    target : str
        The scenario, or ``strategy:NAME`` / ``asset:TICKER``.
    op : str
        ``=``, ``>=`` or ``<=``.
    value : float
        The target value (a fraction).
    """

    text: str
    kind: str
    target: str
    op: str
    value: float

    def describe(self) -> str:
        """The view in canonical form, e.g. ``P(B) >= 0.5`` or ``E[strategy:spy] = 0.08``."""
        t = f"P({self.target})" if self.kind == "P" else f"E[{self.target}]"
        return f"{t} {self.op} {self.value:g}"


def _number(text: str, view: str) -> float:
    pct = text.endswith("%")
    try:
        v = float(text[:-1] if pct else text)
    except ValueError:
        raise ScenarioError(f"--view {view!r}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise ScenarioError(f"--view {view!r}: the value must be finite")
    return v / 100.0 if pct else v


def parse_view(text: str, out: Outcomes, scenarios: list[str]) -> View:
    """Parse and resolve one view against a run's scenarios, strategies and assets.

    Parameters
    ----------
    text : str
        The ``--view`` argument.
    out : Outcomes
        The run (names of strategies and assets).
    scenarios : list of str
        Scenarios of the decision's probability vector.

    Raises
    ------
    ScenarioError
        Bad syntax, an unknown scenario, strategy or asset, a value out of range.
    """
    m = _VIEW.match(text or "")
    if m is None:
        raise ScenarioError(f"--view {text!r}: expected P(SCENARIO) or E[NAME], then =, >= or <=, then a number "
                            "(e.g. \"P(B)>=0.5\", \"E[spy]=0.08\")")
    op = "=" if m["op"] == "==" else m["op"]
    value = _number(m["value"], text)
    if m["scen"] is not None:
        sc = m["scen"]
        if sc not in scenarios:
            known = ", ".join(scenarios)
            extra = "" if sc not in out.scenarios else " (it has no probability: give it one with --probs)"
            raise ScenarioError(f"--view {text!r}: no scenario {sc!r} in the decision (scenarios: {known}){extra}")
        if not 0.0 <= value <= 1.0:
            raise ScenarioError(f"--view {text!r}: a probability must be in [0, 1]")
        return View(text, "P", sc, op, value)
    name = m["name"]
    if not E_RANGE[0] <= value <= E_RANGE[1]:
        raise ScenarioError(f"--view {text!r}: an expected horizon return must be in [{E_RANGE[0]:g}, {E_RANGE[1]:g}] "
                            "(a fraction: 0.08 or 8%)")
    return View(text, "E", resolve_name(name, out, text), op, value)


def resolve_name(name: str, out: Outcomes, text: str) -> str:
    """``strategy:NAME`` or ``asset:TICKER`` for the name inside ``E[...]``.

    A strategy of that exact name wins; else an asset (case-insensitive); ``asset:`` or
    ``strategy:`` forces one.
    """
    low = {a.lower(): a for a in out.assets}
    kind, _, bare = name.partition(":")
    if bare and kind in ("asset", "strategy"):
        if kind == "strategy" and bare in out.strategies:
            return f"strategy:{bare}"
        if kind == "asset" and bare.lower() in low:
            return f"asset:{low[bare.lower()]}"
    elif name in out.strategies:
        return f"strategy:{name}"
    elif name.lower() in low:
        return f"asset:{low[name.lower()]}"
    assets = ", ".join(out.assets) or "none saved"
    raise ScenarioError(f"--view {text!r}: no strategy or asset named {name!r} (strategies: "
                        f"{', '.join(out.strategies)}; assets: {assets})")


def view_row(view: View, out: Outcomes, scenarios: list[str]) -> np.ndarray:
    """The view's coefficients on every path of ``scenarios`` (concatenated in that order).

    Raises
    ------
    ScenarioError
        The named outcome is missing (NaN) on some path.
    """
    parts = []
    for sc in scenarios:
        n = out.paths(sc)
        if view.kind == "P":
            parts.append(np.full(n, 1.0 if sc == view.target else 0.0))
            continue
        kind, _, name = view.target.partition(":")
        if kind == "strategy":
            x = out.values["horizon_return"][sc][:, out.strategies.index(name)]
        else:
            x = out.asset_hr[sc][:, out.assets.index(name)]
        parts.append(np.asarray(x, dtype=float))
    row = np.concatenate(parts)
    if view.kind == "E" and not np.isfinite(row).all():
        raise ScenarioError(f"--view {view.text!r}: {view.target.partition(':')[2]} has no horizon return on some "
                            "paths")
    return row


__all__ = ["E_RANGE", "OPS", "View", "parse_view", "resolve_name", "view_row"]
