"""The Fed balance-sheet regime calendar as data, and the labelling of trading days.

A regime's label holds from its start (``effective`` or ``announced`` date, by choice)
until the day before the next regime starts; days after a regime's ``end`` and before
the next start are labelled ``plateau`` (balance sheet held flat), with id ``GAP``.
Days before the first regime are ``plateau`` with id ``PRE``.

It lives in the data layer (it is data: the sample market labels its days with it);
the regime models import it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.constants import REGIME_KINDS
from backtest.errors import RegimeError
from backtest.safe_io import load_yaml_text, read_text_file

DEFAULT_CALENDAR = (
    Path(__file__).resolve().parents[2] / "configs" / "regimes" / "fed_balance_sheet.yaml"
)


@dataclass(frozen=True)
class Regime:
    """One Fed balance-sheet regime (a row of the calendar)."""

    id: str
    kind: str
    announced: pd.Timestamp
    effective: pd.Timestamp
    end: pd.Timestamp | None
    notes: str = ""

    def start(self, by: str) -> pd.Timestamp:
        """Start date under the labelling convention ``by`` (``effective``/``announced``)."""
        return self.effective if by == "effective" else self.announced


@dataclass(frozen=True)
class Announcement:
    """A change of pace announced inside a regime (e.g. a QE taper), dated by its announcement."""

    id: str
    kind: str
    date: pd.Timestamp
    regime: str
    notes: str = ""


#: kinds of in-regime announcements (``announcements:`` in the calendar file)
ANNOUNCEMENT_KINDS = ("taper",)


@dataclass(frozen=True)
class RegimeCalendar:
    """An ordered, non-overlapping list of regimes plus stress-event markers and in-regime announcements."""

    regimes: tuple[Regime, ...]
    stress_events: tuple[tuple[pd.Timestamp, str], ...] = ()
    path: str = ""
    announcements: tuple[Announcement, ...] = ()

    def label(self, days: pd.DatetimeIndex, by: str = "effective") -> pd.DataFrame:
        """Label each day with its regime kind and id.

        Parameters
        ----------
        days : pd.DatetimeIndex
            Trading days.
        by : {"effective", "announced"}
            Which date starts a regime.

        Returns
        -------
        pd.DataFrame
            Index ``days``; columns ``regime`` (kind) and ``regime_id``.
        """
        if by not in ("effective", "announced"):
            raise RegimeError(f"regime labelling must be 'effective' or 'announced', not {by!r}")
        days = pd.DatetimeIndex(days)
        kind = np.full(len(days), "plateau", dtype=object)
        rid = np.full(len(days), "PRE", dtype=object)
        # naive days compare as int64 nanoseconds (the same order, without pandas' per-call
        # overhead: labels are computed at every calibration start); tz-aware ones as they are
        vals, at = (days.as_unit("ns").asi8, _ns) if days.tz is None else (days, pd.Timestamp)
        for i, r in enumerate(self.regimes):
            start = r.start(by)
            nxt = self.regimes[i + 1].start(by) if i + 1 < len(self.regimes) else None
            in_reg = np.asarray(vals >= at(start))
            if nxt is not None:
                in_reg &= np.asarray(vals < at(nxt))
            live = in_reg.copy()
            if r.end is not None:
                live &= np.asarray(vals <= at(r.end))
            gap = in_reg & ~live
            kind[live] = r.kind
            rid[live] = r.id
            kind[gap] = "plateau"
            rid[gap] = "GAP"
        return pd.DataFrame({"regime": kind, "regime_id": rid}, index=days)

    def starts(self, by: str = "effective") -> pd.Series:
        """Start date of each regime, indexed by id."""
        return pd.Series({r.id: r.start(by) for r in self.regimes})


def _ns(t: pd.Timestamp) -> int:
    """Nanoseconds since the epoch of a naive timestamp."""
    return int(pd.Timestamp(t).as_unit("ns").value)


def _ts(value: object, where: str) -> pd.Timestamp:
    if isinstance(value, (date, pd.Timestamp)):
        return pd.Timestamp(value)
    try:
        ts = pd.Timestamp(str(value))
    except (ValueError, TypeError, OverflowError):
        raise RegimeError(f"{where}: not a date: {value!r}") from None
    if pd.isna(ts):
        raise RegimeError(f"{where}: not a date: {value!r}")
    return ts


_LOADED: dict[tuple[str, int, int], RegimeCalendar] = {}


def load_calendar(path: str | Path | None = None) -> RegimeCalendar:
    """Load and validate a regime calendar YAML file.

    A calendar is immutable: one loaded earlier from the same unchanged file (path,
    modification time and size) is returned again instead of parsing it anew (a
    calibration backtest resolves its pools at every start date).

    Raises
    ------
    RegimeError
        Unknown regime kind, missing field, unordered or overlapping regimes (one line,
        naming the file and the regime id).
    """
    p = Path(path) if path is not None else DEFAULT_CALENDAR
    try:
        st = p.stat()
    except OSError:  # the reader below says what is wrong
        return _parse_calendar(p)
    key = (str(p), st.st_mtime_ns, st.st_size)
    if key not in _LOADED:
        _LOADED[key] = _parse_calendar(p)
    return _LOADED[key]


def _parse_calendar(p: Path) -> RegimeCalendar:
    """Read and validate the calendar file ``p`` (see :func:`load_calendar`)."""
    raw = load_yaml_text(read_text_file(p, "regime calendar", error=RegimeError), str(p), RegimeError)
    if not isinstance(raw, dict) or "regimes" not in raw:
        raise RegimeError(f"{p}: expected a mapping with a 'regimes' list")
    if not isinstance(raw["regimes"] or [], list):
        raise RegimeError(f"{p}: regimes: expected a list")
    regimes: list[Regime] = []
    for i, row in enumerate(raw["regimes"] or []):
        _check_row(row, f"{p}: regimes[{i}]", ("id", "kind", "announced", "effective"), ("end", "notes"))
        rid = str(row["id"])
        where = f"{p}: regime {rid}"
        if row["kind"] not in REGIME_KINDS:
            raise RegimeError(
                f"{where}: unknown regime kind {row['kind']!r} (expected one of {', '.join(REGIME_KINDS)})"
            )
        ann, eff = _ts(row["announced"], where), _ts(row["effective"], where)
        end = None if row.get("end") is None else _ts(row["end"], where)
        if ann > eff:
            raise RegimeError(f"{where}: announced {ann.date()} after effective {eff.date()}")
        if end is not None and end < eff:
            raise RegimeError(f"{where}: ends {end.date()} before it starts {eff.date()}")
        regimes.append(Regime(rid, str(row["kind"]), ann, eff, end, str(row.get("notes", ""))))
    if not regimes:
        raise RegimeError(f"{p}: no regimes")
    for prev, cur in zip(regimes, regimes[1:], strict=False):
        if cur.effective <= prev.effective:
            raise RegimeError(
                f"{p}: regimes not ordered: {cur.id} ({cur.effective.date()}) starts before {prev.id} ({prev.effective.date()})"
            )
        if prev.end is None or cur.effective <= prev.end:
            end = "open" if prev.end is None else prev.end.date()
            raise RegimeError(
                f"{p}: regimes overlap: {cur.id} starts {cur.effective.date()} before {prev.id} ends ({end})"
            )
    events = tuple(
        (_ts(e["date"], f"{p}: stress_events"), str(e.get("label", "")))
        for e in raw.get("stress_events", []) or []
    )
    return RegimeCalendar(tuple(regimes), events, str(p), _announcements(raw.get("announcements"), regimes, p))


def _check_row(row: object, where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    """A calendar row is a mapping with every required key and no unknown one (one-line RegimeError)."""
    if not isinstance(row, dict):
        raise RegimeError(f"{where}: expected a mapping")
    missing = [k for k in required if k not in row]
    if missing:
        raise RegimeError(f"{where}: missing {', '.join(missing)}")
    unknown = set(row) - set(required) - set(optional)
    if unknown:
        raise RegimeError(f"{where}: unknown key {sorted(unknown)[0]!r}")


def _announcements(rows: object, regimes: list[Regime], p: Path) -> tuple[Announcement, ...]:
    """Validated ``announcements:`` rows: id, kind (taper), date inside the named regime."""
    if rows is None:
        return ()
    if not isinstance(rows, list):
        raise RegimeError(f"{p}: announcements: expected a list")
    by_id = {r.id: r for r in regimes}
    out: list[Announcement] = []
    for i, row in enumerate(rows):
        where = f"{p}: announcements[{i}]"
        _check_row(row, where, ("id", "kind", "date", "regime"), ("notes",))
        if row["kind"] not in ANNOUNCEMENT_KINDS:
            raise RegimeError(f"{where}: unknown kind {row['kind']!r} (expected one of {', '.join(ANNOUNCEMENT_KINDS)})")
        reg = by_id.get(str(row["regime"]))
        if reg is None:
            raise RegimeError(f"{where}: unknown regime {row['regime']!r}")
        d = _ts(row["date"], where)
        if d < reg.announced or (reg.end is not None and d > reg.end):
            raise RegimeError(f"{where}: {d.date()} is outside regime {reg.id}")
        out.append(Announcement(str(row["id"]), str(row["kind"]), d, reg.id, str(row.get("notes", ""))))
    return tuple(out)
