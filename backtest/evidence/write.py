"""The ``rmpbt evidence`` folder, written atomically: CSV tables, ``evidence.html``, ``provenance.json``.

``<root>/evidence-<UTC timestamp>-<name>/`` holds ``claims.csv``, ``event_study.csv``,
``event_paths.csv`` (the chart's average paths and placebo bands), ``attribution.csv``,
``attribution_sleeves.csv``, ``episodes.csv``, ``evidence.html`` and ``provenance.json``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from backtest.evidence.build import EvidenceRun
from backtest.report.evidence_page import build_evidence_page
from backtest.results import (
    atomic_run_dir,
    final_path,
    provenance_record,
    unique_run_id,
    write_json,
)


def write_evidence(ev: EvidenceRun, root: str | Path = "results", html: bool = True) -> Path:
    """Write the evidence folder under ``root`` (atomically) and return its path.

    Parameters
    ----------
    ev : EvidenceRun
        The computed evidence.
    root : str or Path
        Results root; one new folder is written inside.
    html : bool
        Also write ``evidence.html``.
    """
    out = ev.run
    cfg = out.cfg
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in cfg.name)[:40]
    run_id = unique_run_id(root, f"evidence-{datetime.now(UTC):%Y%m%d-%H%M%S}-{safe}")
    with atomic_run_dir(root, run_id) as tmp:
        for key, frame in ev.tables.items():
            frame.to_csv(tmp / f"{key}.csv", index=False, float_format="%.10g")
        if html:
            (tmp / "evidence.html").write_text(build_evidence_page(ev))
        h = ev.history
        prov = provenance_record(
            "evidence", tmp.final.name, cfg, out.origin, out.md.provenance(out.days), seed=ev.seed,
            notes=[*out.notes, *ev.notes], timings={**out.timings, **ev.timings},
            instruments={"source": h.source, "synthetic": h.synthetic, "first_date": str(h.days[0].date()),
                         "last_date": str(h.days[-1].date()), "tickers": list(h.returns.columns)},
            data_end=str(ev.data_end.date()),
            settings={**cfg.settings_record(), **ev.settings},
        )
        write_json(tmp / "provenance.json", prov)
    return final_path(root, run_id)
