"""``rmpbt now`` holdings: checked files and frames, NAV = shares x price + cash, reconciliation, limits, ``--today``.

Each refused input is a regression case of issue 25 (one line, exit 2 at the CLI, nothing
written); the NAV figures are worked out by hand.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import assert_clean_error, run_cli  # noqa: E402

from backtest.config import config_from_dict  # noqa: E402
from backtest.errors import DataError  # noqa: E402
from backtest.now import compute_now, known_on, parse_today  # noqa: E402
from backtest.now_book import (  # noqa: E402
    Book,
    book_from_holdings,
    check_book,
    check_holdings,
    exposure,
    read_holdings,
)
from backtest.pipeline import load_market  # noqa: E402

PX = pd.Series({"SPY": 500.0, "IEF": 100.0, "TLT": 80.0})
RAW = {
    "name": "booktest",
    "data": {"source": "sample", "start": "2026-03-02"},
    "execution": {"max_gross_leverage": 1.5},
    "strategies": [{"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
                   {"name": "spy", "kind": "buy_and_hold", "params": {"weights": {"SPY": 1.0}}}],
}


def frame(kind: str, rows: dict) -> pd.DataFrame:
    return pd.DataFrame({"asset": list(rows), kind: list(rows.values())})


# ------------------------------------------------------------------- pure checks, by hand


def test_nav_is_shares_times_price_plus_cash():
    h = check_holdings(frame("shares", {"SPY": 1000, "IEF": 4000, "cash": 100_000}))
    book = book_from_holdings(h, PX, None)
    # 1000 x 500 + 4000 x 100 + 100,000 = 1,000,000: with holdings alone the NAV is the capital
    assert book.nav == 1_000_000 and book.cash == 100_000 and book.source == "holdings"
    assert book.weights() == {"SPY": 0.5, "IEF": 0.4, "CASH": 0.1}
    # --capital within 0.5 % of it: accepted (and the holdings' NAV is used)
    assert book_from_holdings(h, PX, 1_004_000).nav == 1_000_000


def test_capital_and_holdings_must_agree():
    h = check_holdings(frame("shares", {"SPY": 3000}), "book.csv")  # 1,500,000 of SPY
    with pytest.raises(DataError, match=r"book\.csv: holdings are worth 1,500,000 .* --capital is 1,000,000"):
        book_from_holdings(h, PX, 1_000_000)
    with pytest.raises(DataError, match="need --capital"):
        book_from_holdings(check_holdings(frame("weight", {"SPY": 1.0})), PX, None)


def test_weights_book_and_implied_cash():
    book = book_from_holdings(check_holdings(frame("weight", {"SPY": 0.5, "IEF": 0.2})), PX, 200_000)
    assert book.shares.to_dict() == {"SPY": 200.0, "IEF": 400.0}  # 0.5 x 200k / 500, 0.2 x 200k / 100
    assert book.cash == pytest.approx(60_000)  # the remaining 30 %


@pytest.mark.parametrize(("rows", "needle"), [
    ({"SPY": float("nan")}, "SPY: weight nan is not finite"),
    ({"SPY": float("inf")}, "is not finite"),
    ({"SPY": "x"}, "SPY: weight 'x' is not a number"),
    ({"SPY": True}, "SPY: weight True is not a number"),
    ({"SPY": "1_0"}, "is not a number"),
    ({"SPY": 0.5, "CASH": 2.0}, "weights sum to 2.5 with the CASH row"),
    ({"SPY": 0.5, "CASH": 0.2}, "weights sum to 0.7 with the CASH row"),
])
def test_bad_weight_rows(rows, needle):
    with pytest.raises(DataError, match=re.escape(needle)):
        check_holdings(frame("weight", rows))


@pytest.mark.parametrize(("df", "needle"), [
    (pd.DataFrame({"asset": ["SPY"], "qty": [1]}), "asset,shares or asset,weight (got asset,qty)"),
    (pd.DataFrame({"asset": ["SPY"], "shares": [1], "weight": [1]}), "got asset,shares,weight"),
    (pd.DataFrame({"ticker": ["SPY"], "shares": [1]}), "got ticker,shares"),
    (pd.DataFrame({"asset": [], "shares": []}), "no rows"),
    (pd.DataFrame({"asset": ["SPY", "SPY"], "shares": [1, 2]}), "SPY appears twice"),
    (pd.DataFrame({"asset": ["", "SPY"], "shares": [1, 2]}), "row 1: the asset is empty"),
    (pd.DataFrame({"asset": ["SPY"], "shares": [1e308]}), "out of range"),
    (pd.DataFrame({"asset": ["CASH"], "shares": [1e300]}), "CASH: 1e+300 is out of range"),
    ({"SPY": 1}, "must be a table"),
])
def test_bad_frames(df, needle):
    with pytest.raises(DataError, match=re.escape(needle)):
        check_holdings(df)


def test_book_limits():
    shortable = {"TLT"}
    ok = Book(1.0e6, pd.Series({"SPY": 2400.0, "TLT": -1000.0}), PX, 280_000.0, "holdings")
    check_book(ok, 1.5, shortable, "b")  # 120 % SPY, -8 % TLT, 28 % cash: gross 1.28
    short_spy = Book(1.0e6, pd.Series({"SPY": -100.0}), PX, 1_050_000.0, "holdings")
    with pytest.raises(DataError, match="short position, but the config never shorts SPY .*TLT"):
        check_book(short_spy, 1.5, shortable, "b")
    too_big = Book(1.0e6, pd.Series({"SPY": 3200.0}), PX, -600_000.0, "holdings")  # 160 % SPY
    with pytest.raises(DataError, match=r"gross exposure 1.60 x NAV, above .*max_gross_leverage 1.5"):
        check_book(too_big, 1.5, shortable, "b")
    levered = Book(1.0e6, pd.Series({"SPY": 2200.0}), PX, -100_000.0, "holdings")  # 110 %, 10 % borrowed
    check_book(levered, 1.5, shortable, "b")
    with pytest.raises(DataError, match=r"gross exposure 1.10 x NAV.*max_gross_leverage 1\)"):
        check_book(levered, 1.0, shortable, "b")


def test_exposure_by_hand():
    assert exposure({"SPY": 1.2, "TLT": -0.2, "IEF": 0.5, "CASH": -0.5}) == {
        "gross": pytest.approx(1.9), "net": pytest.approx(1.5), "cash": 0.0, "borrowed": pytest.approx(0.5)}
    assert exposure({"SPY": 0.6}) == {"gross": 0.6, "net": 0.6, "cash": pytest.approx(0.4), "borrowed": 0.0}


def test_today_parsing():
    assert parse_today("2026-07-14") == pd.Timestamp("2026-07-14")
    for bad in ("", "   ", "yesterday", "2026-02-30", True, 20260714):
        with pytest.raises(DataError, match="--today .*not a date"):
            parse_today(bad)


# ------------------------------------------------------------------- files


def test_holdings_file_reader(tmp_path):
    p = tmp_path / "book.csv"
    p.write_text("Asset, Shares\nSPY, 10\ncash, 5000\n")
    h = read_holdings(p)
    assert h.kind == "shares" and h.values.to_dict() == {"SPY": 10.0} and h.cash == 5000.0
    with pytest.raises(DataError, match="is a folder"):
        read_holdings(tmp_path)
    with pytest.raises(DataError, match="not found"):
        read_holdings(tmp_path / "nope.csv")
    p.write_bytes(b"asset,shares\nSPY,\x001\n")
    with pytest.raises(DataError, match="binary"):
        read_holdings(p)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "book.csv"
    os.mkfifo(fifo)
    seen: list[BaseException] = []
    t = threading.Thread(target=lambda: seen.append(pytest.raises(DataError, read_holdings, fifo).value))
    t.start()
    t.join(5)
    assert not t.is_alive(), "reading a FIFO blocked"
    assert "not a regular file" in str(seen[0])


# ------------------------------------------------------------------- against data


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("book")
    cfgp = root / "c.yaml"
    cfgp.write_text(yaml.safe_dump(RAW))
    cfg = config_from_dict(RAW, "booktest")
    return root, cfgp, cfg, load_market(cfg)


def test_today_within_span_cuts_the_data(tiny):
    _, _, cfg, md = tiny
    cut, note = known_on(md, pd.Timestamp("2026-06-30"), pd.Timestamp("2026-03-02"))
    assert cut.calendar[-1] == pd.Timestamp("2026-06-30") and "only prices to 2026-06-30" in note
    for ms in cut.macro.values():  # nothing observed or released after that day
        assert (ms.released <= pd.Timestamp("2026-06-30")).all()
        assert (ms.values.index <= pd.Timestamp("2026-06-30")).all()
    assert known_on(md, pd.Timestamp("2026-12-01"), None) == (md, None)
    with pytest.raises(DataError, match="--today 1900-01-01: before the data .*2026-03-02"):
        known_on(md, pd.Timestamp("1900-01-01"), pd.Timestamp("2026-03-02"))
    rep = compute_now(cfg, "booktest", today="2026-06-30", md=md)
    assert rep.as_of == "2026-06-30" and rep.today == "2026-06-30"
    assert rep.strategies["sixty_forty"]["next_decision"] == "2026-07-31"
    assert rep.strategies["spy"]["next_decision"] is None  # buy and hold: no next decision


def test_api_frame_gets_the_file_checks(tiny):
    _, _, cfg, md = tiny
    bad = pd.DataFrame({"asset": ["SPY"], "shares": [float("inf")]})
    with pytest.raises(DataError, match="holdings row SPY: shares inf is not finite"):
        compute_now(cfg, "booktest", holdings=bad, md=md)
    with pytest.raises(DataError, match="asset,shares or asset,weight"):
        compute_now(cfg, "booktest", holdings=pd.DataFrame({"a": [1]}), md=md)
    px = md.prices.ffill().iloc[-1]
    ok = pd.DataFrame({"asset": ["SPY", "CASH"], "shares": [100.0, 10_000.0]})
    rep = compute_now(cfg, "booktest", holdings=ok, md=md)  # holdings alone: NAV = their value
    assert rep.capital == pytest.approx(100 * px["SPY"] + 10_000)
    short = pd.DataFrame({"asset": ["SPY", "IEF", "CASH"], "shares": [100.0, -10.0, 10_000.0]})
    with pytest.raises(DataError, match="never shorts IEF"):
        compute_now(cfg, "booktest", holdings=short, md=md)


@pytest.mark.parametrize(("args", "needles"), [
    (["--today", ""], ("--today ''", "not a date")),
    (["--today", "1900-01-01"], ("--today 1900-01-01", "before the data")),
    (["--capital", "1000000", "--holdings", "{big}"], ("big.csv", "holdings are worth", "--capital is 1,000,000", "50.0% apart")),
    (["--holdings", "{fifo}"], ("fifo.csv", "not a regular file")),
    (["--holdings", "{dir}"], ("is a folder",)),
    (["--strategies", "nope"], ("--strategies", "nope")),
    (["--strategies", ",,"], ("--strategies",)),
])
def test_cli_refusals(tiny, tmp_path, args, needles):
    _, cfgp, _, md = tiny
    big = tmp_path / "big.csv"
    spy = float(md.prices["SPY"].ffill().iloc[-1])
    big.write_text(f"asset,shares\nSPY,{round(1_500_000 / spy)}\n")
    fifo = tmp_path / "fifo.csv"
    if hasattr(os, "mkfifo"):
        os.mkfifo(fifo)
    elif "{fifo}" in args:
        pytest.skip("no FIFOs on this platform")
    args = [a.format(big=big, fifo=fifo, dir=tmp_path) for a in args]
    out = tmp_path / "res"
    res = run_cli("now", str(cfgp), *args, "--out", str(out))
    assert_clean_error(res, out, *needles)
