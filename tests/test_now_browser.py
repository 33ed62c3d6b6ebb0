"""``now.html`` in headless Chromium at 1,400 px: every column visible without horizontal scrolling.

The widest page the memo makes: both return columns (regime start != RMP start), trades for
every strategy, an 11-asset playbook, a long strategy name and seven-figure notionals.
Skipped (with the reason) when Playwright or Chromium is not available.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report_browser import browser, open_page  # noqa: E402,F401  (the fixture)

from backtest.config import config_from_dict  # noqa: E402
from backtest.now import compute_now  # noqa: E402
from backtest.report.now_page import render_now_html  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OVERFLOW = """
() => ({page: document.documentElement.scrollWidth - window.innerWidth,
        boxes: Array.from(document.querySelectorAll('.scroll'))
                    .filter(d => d.scrollWidth > d.clientWidth + 1)
                    .map(d => d.querySelector('th') ? d.querySelector('th').innerText : '?')})
"""


def test_now_page_fits_1400px(browser, tmp_path):  # noqa: F811
    raw = {"name": "widest", "data": {"source": "sample", "start": "2025-09-01"},
           "strategies": [{"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
                          {"name": "rmp_playbook_with_a_rather_long_name", "kind": "rmp_playbook"}]}
    hold = pd.DataFrame({"asset": ["SPY", "IEF", "GLD", "CASH"], "weight": [0.5, 0.3, 0.1, 0.1]})
    rep = compute_now(config_from_dict(raw, "widest"), "widest", today="2026-12-01", capital=98_765_432,
                      holdings=hold)
    rec = {**rep.to_json(), "regime_start": "2026-01-05"}  # forces the second return column
    path = tmp_path / "now.html"
    path.write_text(render_now_html(rec))
    page, requests, errors = open_page(browser, path, ready="document.readyState === 'complete'")
    try:
        page.set_viewport_size({"width": 1400, "height": 900})
        page.wait_for_timeout(100)
        assert not errors, errors
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
        heads = page.locator("th").all_inner_texts()
        for col in ("since RMP", "since regime", "financing /yr", "borrow /yr", "fees /yr", "trades today",
                    "drifted", "notional"):
            assert col in heads
        over = page.evaluate(OVERFLOW)
        assert over["page"] <= 0 and over["boxes"] == [], over
        from PIL import Image, ImageStat

        img = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("L")
        assert ImageStat.Stat(img).stddev[0] > 15, "screenshot looks blank"
        # the check can fail: at 700 px the same tables no longer fit
        page.set_viewport_size({"width": 700, "height": 900})
        page.wait_for_timeout(100)
        assert page.evaluate(OVERFLOW)["boxes"] != []
    finally:
        page.close()
