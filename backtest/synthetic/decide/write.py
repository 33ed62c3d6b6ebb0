"""The decision folder of ``rmpbt decide``, written atomically and never colliding.

``<root>/<UTC time>-decide-<hash6>/`` (default root ``<run_dir>/decisions``) holds
``decision.json``, ``decision_flips.csv``, ``decision_map.csv`` and ``decision.html``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtest.errors import ResultsError
from backtest.report.decision_page import render_decision_page
from backtest.results import atomic_run_dir, make_run_id, write_json

if TYPE_CHECKING:
    from backtest.synthetic.decide.core import Decision

DECISIONS = "decisions"


def decision_record(dec: Decision) -> dict[str, Any]:
    """``decision.json``: the decision plus the exact simplex regions of the page."""
    rec = dec.to_json()
    rec["regions"] = [{"cvar_lambda": float(lm), "choice": name, "vertices": poly.round(12).tolist()}
                      for lm, regs in dec.regions.items() for name, poly in regs]
    return rec


def write_decision(dec: Decision, root: str | Path | None = None, report: bool = True) -> Path:
    """Write the decision folder and return its path.

    Parameters
    ----------
    dec : Decision
        The decision.
    root : str or Path, optional
        Folder to write the new decision folder into (default ``<run_dir>/decisions``).
    report : bool
        Also write ``decision.html``.

    Raises
    ------
    ResultsError
        No root given for a decision made in memory; a root that cannot be written.
    """
    if root is None:
        if dec.run_dir is None:
            raise ResultsError("a decision made in memory needs a folder to be written to (--out)")
        root = Path(dec.run_dir) / DECISIONS
    rec = decision_record(dec)
    key = json.dumps({k: rec[k] for k in ("probs", "cvar_lambda", "statistic", "views", "run_dir")}, sort_keys=True)
    run_id = make_run_id("decide", hashlib.sha256(key.encode()).hexdigest())
    with atomic_run_dir(root, run_id) as tmp:
        write_json(tmp / "decision.json", rec)
        dec.flips.to_csv(tmp / "decision_flips.csv", index=False, float_format="%.10g")
        dec.map.to_csv(tmp / "decision_map.csv", index=False, float_format="%.10g")
        if report:
            render_decision_page(tmp)
        final = tmp.final
    return final


__all__ = ["DECISIONS", "decision_record", "write_decision"]
