"""The book of ``rmpbt now``: checked holdings, their NAV, and the trades to each target.

A holdings file (or the API's DataFrame) has columns ``asset,shares`` or ``asset,weight``
and may carry a ``CASH`` row (dollars with ``shares``, a fraction of NAV with ``weight``;
negative = borrowed). Every input goes through :func:`check_holdings`, so the file and the
DataFrame meet the same one-line errors (:class:`~backtest.errors.DataError`):

- only a regular UTF-8 text file is read (:func:`backtest.safe_io.read_text_file`: no
  FIFOs, devices or folders);
- exactly the columns ``asset`` and one of ``shares`` / ``weight``; no empty or duplicate
  asset; every value a finite number (no booleans, text, NaN or inf) with
  ``|shares| <= MAX_SHARES`` and ``|cash| <= MAX_CASH``;
- with weights and a ``CASH`` row, the weights sum to 1 within :data:`WEIGHT_TOL` (without
  one, the remainder is cash).

:func:`book_from_holdings` values the book at the last closes: NAV = Σ shares × price +
cash. With ``--capital`` as well the two must agree within :data:`NAV_TOL` (0.5 %); with
holdings alone the NAV is the capital; weights need ``--capital``. :func:`check_book`
then applies the config's limits: short positions only in assets the config may short,
gross exposure within ``execution.max_gross_leverage`` (none above 1 when it is 1 or less).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtest.constants import CASH
from backtest.errors import DataError
from backtest.safe_io import read_text_file

#: Largest number of shares a holdings row may state.
MAX_SHARES = 1e12
#: Largest cash amount (dollars) a holdings ``CASH`` row may state.
MAX_CASH = 1e15
#: Tolerance of "weights sum to 1" (with a CASH row) and of the gross limit.
WEIGHT_TOL = 0.005
#: Largest relative gap between the holdings' NAV and ``--capital``.
NAV_TOL = 0.005
KINDS = ("shares", "weight")


@dataclass(frozen=True)
class Holdings:
    """Checked holdings: one number per asset, and the optional ``CASH`` row.

    Attributes
    ----------
    kind : {"shares", "weight"}
        What the numbers are.
    values : pd.Series
        Shares or weights by asset (no cash row), finite.
    cash : float or None
        The ``CASH`` row (dollars for shares, fraction of NAV for weights); None if absent.
    origin : str
        The file (or ``holdings``) for messages.
    """

    kind: str
    values: pd.Series
    cash: float | None
    origin: str


@dataclass(frozen=True)
class Book:
    """The book valued at the last closes.

    Attributes
    ----------
    nav : float
        Net asset value: Σ shares × price + cash (or ``--capital`` when there are no holdings).
    shares : pd.Series
        Shares held per asset (no cash).
    prices : pd.Series
        Last price of each held asset.
    cash : float
        Cash in dollars (negative: borrowed).
    source : str
        ``"holdings"`` (NAV from the file), ``"capital"`` (all cash) or ``"capital+holdings"``
        (weights, or shares reconciled with ``--capital``).
    origin : str
        Holdings file for messages.
    """

    nav: float
    shares: pd.Series
    prices: pd.Series
    cash: float
    source: str
    origin: str = "holdings"

    def weights(self) -> dict[str, float]:
        """Weight of each position and of ``CASH`` (fractions of NAV)."""
        w = {str(a): float(s * self.prices[a] / self.nav) for a, s in self.shares.items()}
        w[CASH] = self.cash / self.nav
        return w

    def to_json(self) -> dict[str, Any]:
        """``now.json``'s ``book`` block."""
        pos = [{"asset": str(a), "shares": float(s), "price": float(self.prices[a]),
                "value": float(s * self.prices[a])} for a, s in self.shares.items()]
        return {"nav": self.nav, "cash": self.cash, "source": self.source, "origin": self.origin,
                "positions": pos, "exposure": exposure(self.weights())}


# ---------------------------------------------------------------------------- holdings


def read_holdings(path: str | Path) -> Holdings:
    """Read and check a holdings CSV (``asset,shares`` or ``asset,weight``, optional ``CASH`` row).

    Raises
    ------
    DataError
        One line naming the file: not a regular text file, wrong columns, a bad row.
    """
    p = Path(path)
    text = read_text_file(p, "holdings file", error=DataError)
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (ValueError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{p}: cannot read holdings ({first})") from None
    return check_holdings(df, str(p))


def check_holdings(df: pd.DataFrame, origin: str = "holdings") -> Holdings:
    """Check a holdings table (the file's, or a DataFrame given to the API).

    Parameters
    ----------
    df : pd.DataFrame
        Columns ``asset`` and one of ``shares`` / ``weight`` (names case-insensitive).
    origin : str
        Name for messages.

    Returns
    -------
    Holdings

    Raises
    ------
    DataError
        Wrong columns, an empty or duplicate asset, a value that is not a finite number in
        range, weights with a ``CASH`` row that do not sum to 1.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{origin}: holdings must be a table (DataFrame) with columns asset,shares "
                        f"or asset,weight, got {type(df).__name__}")
    cols = [str(c).strip().lower() for c in df.columns]
    kind = [c for c in KINDS if c in cols]
    if sorted(cols) not in (["asset", "shares"], ["asset", "weight"]):
        raise DataError(f"{origin}: holdings need columns asset,shares or asset,weight "
                        f"(got {','.join(cols) or 'none'})")
    df = df.set_axis(cols, axis=1)
    kind_col = kind[0]
    if df.empty:
        raise DataError(f"{origin}: holdings have no rows")
    assets = [_asset(a, i, origin) for i, a in enumerate(df["asset"])]
    values = [_number(v, a, kind_col, origin) for a, v in zip(assets, df[kind_col], strict=True)]
    seen: set[str] = set()
    for a in assets:
        if a in seen:
            raise DataError(f"{origin}: holdings asset {a} appears twice")
        seen.add(a)
    cash = None
    rows: dict[str, float] = {}
    for a, v in zip(assets, values, strict=True):
        if a == CASH:
            limit = MAX_CASH if kind_col == "shares" else None
            if limit is not None and abs(v) > limit:
                raise DataError(f"{origin}: holdings row CASH: {v:g} is out of range (|cash| <= {limit:g})")
            cash = v
        else:
            if kind_col == "shares" and abs(v) > MAX_SHARES:
                raise DataError(f"{origin}: holdings row {a}: shares {v:g} out of range (|shares| <= {MAX_SHARES:g})")
            rows[a] = v
    if kind_col == "weight" and cash is not None:
        total = sum(rows.values()) + cash
        if abs(total - 1.0) > WEIGHT_TOL:
            raise DataError(f"{origin}: holdings weights sum to {total:.4g} with the CASH row; "
                            f"they must sum to 1 (within {WEIGHT_TOL:g})")
    return Holdings(kind_col, pd.Series(rows, dtype=float), cash, origin)


def _asset(raw: Any, i: int, origin: str) -> str:
    name = "" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else str(raw).strip()
    if not name:
        raise DataError(f"{origin}: holdings row {i + 1}: the asset is empty")
    return CASH if name.upper() == CASH else name


def _number(raw: Any, asset: str, what: str, origin: str) -> float:
    """A finite float from a cell (text or number); booleans are not numbers."""
    shown = raw.strip() if isinstance(raw, str) else raw
    try:
        if isinstance(raw, bool | np.bool_) or (isinstance(raw, str) and "_" in raw):
            raise ValueError
        v = float(shown)
    except (TypeError, ValueError):
        raise DataError(f"{origin}: holdings row {asset}: {what} {shown!r} is not a number") from None
    if not math.isfinite(v):
        raise DataError(f"{origin}: holdings row {asset}: {what} {shown!r} is not finite")
    return v


# ---------------------------------------------------------------------------- the book


def book_from_holdings(
    holdings: Holdings | None, prices: pd.Series, capital: float | None, as_of: str = "last"
) -> Book | None:
    """Value the holdings at ``prices`` and reconcile them with ``capital``.

    Parameters
    ----------
    holdings : Holdings or None
        Checked holdings; None: all cash.
    prices : pd.Series
        Last close per ticker.
    capital : float or None
        ``--capital``.
    as_of : str
        Date of ``prices`` (for messages).

    Returns
    -------
    Book or None
        None without holdings and capital (nothing to trade).

    Raises
    ------
    DataError
        Unknown ticker; weights without capital; a NAV that is not positive; holdings
        worth more or less than ``capital`` by more than :data:`NAV_TOL`.
    """
    if holdings is None:
        if capital is None:
            return None
        return Book(float(capital), pd.Series(dtype=float), pd.Series(dtype=float), float(capital), "capital")
    origin = holdings.origin
    unknown = [a for a in holdings.values.index if not np.isfinite(prices.get(a, np.nan))]
    if unknown:
        raise DataError(f"{origin}: unknown ticker {unknown[0]} (no last price in the loaded data)")
    px = prices.reindex(holdings.values.index).astype(float)
    if holdings.kind == "weight":
        if capital is None:
            raise DataError(f"{origin}: holdings given as weights need --capital (the portfolio value)")
        cash_w = holdings.cash if holdings.cash is not None else 1.0 - float(holdings.values.sum())
        shares = holdings.values * capital / px
        return Book(float(capital), shares, px, float(cash_w * capital), "capital+holdings", origin)
    cash = 0.0 if holdings.cash is None else float(holdings.cash)
    nav = float((holdings.values * px).sum()) + cash
    if not (math.isfinite(nav) and nav > 0):
        raise DataError(f"{origin}: holdings are worth {nav:,.2f} at the {as_of} closes "
                        "(shares x price + CASH); a book needs a positive value")
    if capital is not None:
        gap = abs(nav - capital) / capital
        if gap > NAV_TOL:
            raise DataError(f"{origin}: holdings are worth {nav:,.0f} at the {as_of} closes (shares x price "
                            f"+ CASH) but --capital is {capital:,.0f} ({gap:.1%} apart, more than "
                            f"{NAV_TOL:.1%}); fix one, or drop --capital to use the holdings' value")
        return Book(nav, holdings.values, px, cash, "capital+holdings", origin)
    return Book(nav, holdings.values, px, cash, "holdings", origin)


def check_book(book: Book, max_gross: float, shortable: set[str], origin: str) -> None:
    """The config's limits on a book: shorts only where allowed, gross within the limit.

    Parameters
    ----------
    book : Book
    max_gross : float
        ``execution.max_gross_leverage`` (at most 1: no leverage at all).
    shortable : set of str
        Assets the config may short.
    origin : str
        Holdings file for messages.

    Raises
    ------
    DataError
        A short position in another asset; gross exposure above the limit (at most 1
        when the config allows no leverage: no borrowed cash either).
    """
    w = book.weights()
    for a, x in w.items():
        if a != CASH and x < 0 and a not in shortable:
            allowed = ", ".join(sorted(shortable)) or "none"
            raise DataError(f"{origin}: holdings row {a}: short position, but the config never shorts {a} "
                            f"(assets it may short: {allowed})")
    gross = exposure(w)["gross"]  # borrowed cash needs gross > 1: the gross limit covers it
    if gross > max(float(max_gross), 1.0) + WEIGHT_TOL:
        raise DataError(f"{origin}: holdings have gross exposure {gross:.2f} x NAV, above the config's limit "
                        f"(execution.max_gross_leverage {max_gross:g})")


def plan_trades(
    target: dict[str, float], held: pd.Series, prices: pd.Series, capital: float
) -> list[dict[str, Any]]:
    """Whole-share trades that bring ``held`` to ``target`` weights of ``capital``.

    Each trade is ``round(target_weight * capital / price - held_shares)``, so after it the
    holding is within half a share of the target. Cash is what remains.
    """
    assets = [a for a in dict.fromkeys([*target, *held.index]) if a != CASH]
    trades = []
    for a in assets:
        px = float(prices[a])
        want = target.get(a, 0.0) * capital / px
        qty = round(want - float(held.get(a, 0.0)))
        if qty == 0:
            continue
        trades.append({"asset": a, "shares": int(qty), "price": px, "notional": qty * px})
    return trades


# ---------------------------------------------------------------------------- exposure


def exposure(weights: dict[str, float]) -> dict[str, float]:
    """Gross and net exposure, cash and borrowed cash of a book of weights (fractions of NAV).

    ``CASH`` entries are ignored; cash is what the assets leave, ``max(0, 1 - net)``, and
    borrowed cash ``max(0, net - 1)``: the engine's ``CASH`` and ``CASH:borrow`` legs
    (short proceeds sit in cash, so they fund longs).
    """
    risky = [float(x) for a, x in weights.items() if a != CASH]
    net = float(sum(risky))
    return {"gross": float(sum(abs(x) for x in risky)), "net": net,
            "cash": max(0.0, 1.0 - net), "borrowed": max(0.0, net - 1.0)}
