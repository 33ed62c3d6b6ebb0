"""Units and kinds of the macro series rmpbt knows, and the roles a series can fill.

One table (:data:`SERIES`) says, for every known series id, its unit (as in the csv layout
and FRED: rates in percent, VIX in index points, Fed balances in USD millions or billions,
CPI as an index), its kind, the plausible range of a value (checked by
:func:`backtest.data.validate.check_macro_values`) and how old its last observation may be
at a run's end (its publication rhythm plus slack; :func:`backtest.data.validate.check_stale_roles`).

A *role* is a place where a series changes numbers: ``cash.rate`` (what idle cash earns),
``curve`` (the Treasury yields that size duration trades) and ``stress`` (the volatility
indexes of the regime rules and the short-vol gates). A role accepts only series of a
fitting kind (:data:`ROLES`): ``cash.rate: VIX`` or ``cash.rate: WALCL`` is a config error.
A series rmpbt does not know must declare its unit in the config (``data.units:
{MYRATE: percent}``) before it can fill a role. See ``docs/config.md``.

This module imports nothing of the project (it sits with ``backtest.errors`` at the bottom
of the layers) so that ``backtest.config`` and ``backtest.data`` both read it.
"""

from __future__ import annotations

from dataclasses import dataclass

RATE_RANGE = (-10.0, 30.0)  # percent: yields, policy rates, T-bills, spreads, OAS
VOL_RANGE = (1.0, 200.0)  # volatility index points (VIX all-time high close: 82.69)
MILLIONS_RANGE = (0.0, 1.0e8)  # USD millions (Fed balance sheet, reserves, TGA): < $100 trn
BILLIONS_RANGE = (0.0, 1.0e5)  # USD billions (RRP, TGA week average)
INDEX_RANGE = (1.0e-3, 1.0e5)  # price-index levels (CPI 1982-84 = 100)

DAILY, WEEKLY, MONTHLY = 14, 21, 75  # calendar days a last observation may be old at a run's end

#: The units a config may declare for a series it names (``data.units``): unit -> (kind, range).
UNITS: dict[str, tuple[str, tuple[float, float] | None]] = {
    "percent": ("rate", RATE_RANGE),
    "index points": ("volatility index", VOL_RANGE),
    "usd millions": ("amount", MILLIONS_RANGE),
    "usd billions": ("amount", BILLIONS_RANGE),
    "index": ("price index", INDEX_RANGE),
    "level": ("level", None),
}


@dataclass(frozen=True)
class SeriesInfo:
    """What rmpbt knows of one macro series.

    Attributes
    ----------
    unit : str
        A key of :data:`UNITS`.
    kind : str
        ``rate``, ``volatility index``, ``amount``, ``price index`` or ``level``.
    range : tuple of float or None
        Plausible values (None: unchecked).
    max_age_days : int
        Calendar days its last observation may precede a run's end (publication rhythm).
    """

    unit: str
    kind: str
    range: tuple[float, float] | None
    max_age_days: int = DAILY


def _info(unit: str, max_age: int = DAILY) -> SeriesInfo:
    kind, rng = UNITS[unit]
    return SeriesInfo(unit, kind, rng, max_age)


SERIES: dict[str, SeriesInfo] = {
    **{k: _info("percent") for k in (
        "DTB3", "DGS3MO", "DGS1", "DGS2", "DGS5", "DGS10", "DGS30", "SOFR", "IORB", "IOER", "EFFR",
        "DFF", "DFEDTARU", "DFEDTARL", "T10Y2Y", "T10Y3M", "BAMLH0A0HYM2", "cash_rate", "policy_rate")},
    **{k: _info("index points") for k in ("VIX", "VIX3M", "VXV", "VIXCLS", "VIX9D")},
    **{k: _info("usd millions", WEEKLY) for k in ("WALCL", "WRESBAL", "TREAST", "WSHOMCB", "WDTGAL", "TGA")},
    "RRPONTSYD": _info("usd billions"),
    "WTREGEN": _info("usd billions", WEEKLY),
    **{k: _info("index", MONTHLY) for k in ("CPIAUCSL", "CPILFESL", "PCEPI")},
}

#: Role -> the kinds of series it accepts.
ROLES: dict[str, tuple[str, ...]] = {
    "cash.rate": ("rate",),
    "curve": ("rate",),
    "stress": ("volatility index",),
}

#: Roles filled by fixed series when they are loaded (``cash.rate`` is the config's choice).
ROLE_SERIES: dict[str, tuple[str, ...]] = {
    "curve": ("DGS3MO", "DGS2", "DGS10", "DGS30"),
    "stress": ("VIX", "VIXCLS", "VIX3M"),
}


def series_info(name: str, declared: dict[str, str] | None = None) -> SeriesInfo | None:
    """The known or declared (``data.units``) unit and kind of series ``name``; None if neither."""
    if declared and name in declared:
        return _info(declared[name])
    return SERIES.get(name) or SERIES.get(name.upper())


def role_error(role: str, name: str, declared: dict[str, str] | None = None) -> str | None:
    """Why series ``name`` cannot fill ``role`` (None when it can).

    Parameters
    ----------
    role : str
        A key of :data:`ROLES`.
    name : str
        The series id.
    declared : dict, optional
        ``data.units`` of the config (series -> unit).

    Returns
    -------
    str or None
        One clause for a message, e.g. ``"VIX is a volatility index (index points), not a
        rate"``.
    """
    info = series_info(name, declared)
    want = " or ".join(ROLES[role])
    if info is None:
        return (f"series {name!r} has no known unit: declare it under data.units "
                f"(e.g. data.units: {{{name}: percent}}) before it can be the {role}")
    if info.kind not in ROLES[role]:
        art = "an" if info.kind[0] in "aeiou" else "a"
        return f"{name} is {art} {info.kind} ({info.unit}), not a {want}"
    return None


__all__ = ["ROLES", "ROLE_SERIES", "SERIES", "UNITS", "SeriesInfo", "role_error", "series_info"]
