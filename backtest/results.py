"""Run ids, provenance and atomic writing of run folders under the results root.

A run folder is written into a hidden temporary folder next to its final place and
renamed only when complete, so an interrupted or failed run leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from backtest.errors import ResultsError

FORMAT_VERSION = 1
PACKAGES = (
    "rmpbt",
    "vectorbt",
    "pandas",
    "numpy",
    "numba",
    "cvxpy",
    "pydantic",
    "scipy",
    "statsmodels",
    "yfinance",
    "plotly",
    "matplotlib",
)
REQUIRED_FILES = (
    "config.yaml",
    "metrics.csv",
    "regime_metrics.csv",
    "returns.parquet",
    "weights.parquet",
    "provenance.json",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape results."""
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def git_commit(repo: Path | None = None) -> str:
    """Commit hash of the code (``unknown`` outside a git checkout)."""
    here = repo or Path(__file__).resolve().parents[1]
    try:
        res = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        commit = res.stdout.strip() if res.returncode == 0 else "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        if commit != "unknown" and dirty.stdout.strip():
            commit += "-dirty"
        return commit
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def make_run_id(name: str, config_hash: str, now: datetime | None = None) -> str:
    """``<UTC timestamp>-<name>-<hash6>``, unique enough and sortable."""
    now = now or datetime.now(UTC)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40]
    return f"{now:%Y%m%d-%H%M%S}-{safe}-{config_hash[:6]}"


def unique_run_id(root: str | Path, run_id: str) -> str:
    """``run_id``, or ``run_id-N`` if a folder of that name already exists under ``root``."""
    root = Path(root)
    final, n = run_id, 1
    while (root / final).exists():
        final = f"{run_id}-{n}"
        n += 1
    return final


@contextmanager
def atomic_run_dir(root: str | Path, run_id: str) -> Iterator[Path]:
    """Yield a temporary folder; on success rename it to ``root/run_id``, else delete it."""
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"cannot create results folder {root}: {exc.strerror}") from None
    final = root / run_id
    n = 1
    while final.exists():
        final = root / f"{run_id}-{n}"
        n += 1
    tmp = root / f".tmp-{run_id}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # expose final path to the caller through an attribute on the generator is awkward;
    # callers use ``final_path`` below instead.


def final_path(root: str | Path, run_id: str) -> Path:
    """The newest folder for ``run_id`` under ``root`` (after :func:`atomic_run_dir`)."""
    root = Path(root)
    cands = sorted(p for p in root.glob(f"{run_id}*") if p.is_dir())
    return cands[-1] if cands else root / run_id


def write_json(path: Path, obj: dict) -> None:
    """Write JSON with sorted keys and a trailing newline."""
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def check_run_dir(path: str | Path) -> dict:
    """Validate that ``path`` is a complete run folder of a readable format.

    Returns
    -------
    dict
        The provenance record.

    Raises
    ------
    ResultsError
        If it is not a folder, lacks a required file, or has another format version.
    """
    p = Path(path)
    if not p.is_dir():
        raise ResultsError(f"{p}: not a folder")
    missing = [f for f in REQUIRED_FILES if not (p / f).exists()]
    if missing:
        raise ResultsError(f"{p}: not a run folder (missing {', '.join(missing)})")
    try:
        prov = json.loads((p / "provenance.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{p}/provenance.json: unreadable ({exc})") from None
    ver = prov.get("format_version")
    if ver != FORMAT_VERSION:
        raise ResultsError(
            f"{p}: run format version {ver!r} is not supported (expected {FORMAT_VERSION})"
        )
    return prov


def environment() -> dict[str, str]:
    """Interpreter and platform facts for provenance."""
    return {"python": sys.version.split()[0], "platform": platform.platform()}
