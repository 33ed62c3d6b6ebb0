"""Golden-equality check for behaviour-preserving refactors.

Produce the reference outputs of a commit, then compare a later tree against them::

    python scripts/golden.py produce /tmp/golden-before            # from the current tree
    python scripts/golden.py produce /tmp/golden-before --commit HEAD~3   # from a git worktree
    python scripts/golden.py produce /tmp/golden-after
    python scripts/golden.py compare /tmp/golden-before /tmp/golden-after

``produce`` runs ``configs/quickstart.yaml`` (sample market), ``configs/historical.yaml`` on
``--data-dir`` (default ``../shared/data``, skipped when absent) and a fixed-grid
``rmpbt tune``, and keeps ``metrics.csv``, ``regime_metrics.csv``, ``weights.parquet`` and
``tune.csv``. ``compare`` requires the CSV files to be byte-identical and the parquet frames
to be equal; it prints one line per file and exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_FILES = ("metrics.csv", "regime_metrics.csv", "weights.parquet")
TUNE_GRID = [
    "--grid", "strategies.playbook.params.overrides.short_vol=0:0.10:0.05",
    "--grid", "strategies.playbook.params.overrides.real_assets.GLD=0:0.08:0.04",
    "--walk-forward", "train=36M,test=12M",
]


def _rmpbt(tree: Path, args: list[str], out: Path) -> Path:
    """Run ``rmpbt`` from ``tree`` (its sources first on the path); return the run folder."""
    env = dict(os.environ, PYTHONPATH=str(tree), MPLBACKEND="Agg")
    cmd = [sys.executable, "-c", "from backtest.cli import main; main()", *args, "--out", str(out)]
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"golden: {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return Path(proc.stdout.strip().splitlines()[-1].strip())


def produce(dest: Path, commit: str | None, data_dir: Path) -> None:
    """Write the reference files of ``commit`` (or of the working tree) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="golden-") as tmpd:
        tmp = Path(tmpd)
        tree = ROOT
        if commit:
            tree = tmp / "tree"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit],
                           check=True, capture_output=True)
        try:
            jobs = {"quickstart": ["run", "configs/quickstart.yaml", "--no-report"]}
            if data_dir.is_dir():
                jobs["historical"] = ["run", "configs/historical.yaml", "--data-dir", str(data_dir),
                                      "--no-report"]
            else:
                print(f"golden: {data_dir} not found, historical skipped")
            for name, args in jobs.items():
                folder = _rmpbt(tree, args, tmp / name)
                for f in RUN_FILES:
                    shutil.copy(folder / f, dest / f"{name}__{f}")
            folder = _rmpbt(tree, ["tune", "configs/tune.yaml", *TUNE_GRID], tmp / "tune")
            shutil.copy(folder / "tune.csv", dest / "tune__tune.csv")
        finally:
            if commit:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
    print(f"golden: wrote {len(list(dest.iterdir()))} files to {dest}")


def compare(a: Path, b: Path) -> int:
    """Compare two golden folders; return the number of differing files."""
    import pandas as pd

    bad = 0
    for fa in sorted(a.iterdir()):
        fb = b / fa.name
        if not fb.exists():
            print(f"MISSING  {fa.name}")
            bad += 1
            continue
        if fa.suffix == ".parquet":
            da, db = pd.read_parquet(fa), pd.read_parquet(fb)
            try:
                pd.testing.assert_frame_equal(da, db, check_exact=True)
                same = True
            except AssertionError:
                same = False
        else:
            same = fa.read_bytes() == fb.read_bytes()
        print(f"{'same    ' if same else 'DIFFERS '} {fa.name}")
        bad += not same
    return bad


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("produce")
    pp.add_argument("dest", type=Path)
    pp.add_argument("--commit", default=None)
    pp.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    pc = sub.add_parser("compare")
    pc.add_argument("a", type=Path)
    pc.add_argument("b", type=Path)
    ns = p.parse_args()
    if ns.cmd == "produce":
        produce(ns.dest, ns.commit, ns.data_dir)
    else:
        sys.exit(1 if compare(ns.a, ns.b) else 0)


if __name__ == "__main__":
    main()
