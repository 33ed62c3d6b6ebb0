"""Write the module table of ``docs/architecture.md`` from the tree.

Every module under ``backtest/`` and ``strategies/`` gets one row: its dotted name, the row
of the ``layers`` import contract (``pyproject.toml``) its top-level unit sits in (1 = top),
and the first line of its docstring. The table sits between the markers
``<!-- module-table:start -->`` and ``<!-- module-table:end -->``; ``tests/test_layers.py``
fails when it is not what this script writes.

Usage::

    python scripts/module_table.py          # rewrite the table in docs/architecture.md
    python scripts/module_table.py --check  # exit 1 if the table is stale
"""

from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("backtest", "strategies")
START = "<!-- module-table:start -->"
END = "<!-- module-table:end -->"


def layer_rows(pyproject: Path) -> list[list[str]]:
    """The rows of the ``layers`` contract, top first, each as the module names it holds."""
    cfg = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]
    layers = next(c for c in cfg["contracts"] if c["id"] == "layers")["layers"]
    return [[name.strip() for name in row.replace(":", "|").split("|")] for row in layers]


def module_name(root: Path, path: Path) -> str:
    """Dotted module name of ``path`` (a package's ``__init__.py`` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def first_line(path: Path) -> str:
    """First line of the module docstring ('' when there is none), with ``|`` escaped."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    line = doc.strip().splitlines()[0].strip() if doc.strip() else ""
    return line.replace("|", "\\|")


def layer_of(module: str, rows: list[list[str]]) -> int | None:
    """1-based row of the layers contract naming ``module`` or its longest named ancestor."""
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        name = ".".join(parts[:k])
        for i, row in enumerate(rows, start=1):
            if name in row:
                return i
    return None


def modules(root: Path) -> list[Path]:
    """Every ``.py`` file under the packages, in dotted-name order."""
    files = [p for pkg in PACKAGES for p in (root / pkg).rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(files, key=lambda p: module_name(root, p))


def render(root: Path = ROOT) -> str:
    """The table (Markdown), markers included.

    Parameters
    ----------
    root : Path
        The repository (holds ``pyproject.toml``, ``backtest/``, ``strategies/``).

    Returns
    -------
    str
        ``START``, a note, the table rows, ``END``, one line each.
    """
    rows = layer_rows(root / "pyproject.toml")
    lines = [
        START,
        "<!-- written by `python scripts/module_table.py` from the modules' docstrings; do not edit by hand -->",
        "",
        "| module | layer | what it holds |",
        "|---|---|---|",
    ]
    for path in modules(root):
        name = module_name(root, path)
        layer = layer_of(name, rows)
        lines.append(f"| `{name}` | {layer if layer is not None else '—'} | {first_line(path)} |")
    lines.append(END)
    return "\n".join(lines)


def replace_table(text: str, table: str) -> str:
    """``text`` with the part between the markers (markers included) replaced by ``table``."""
    if START not in text or END not in text:
        raise ValueError(f"{DOC.name}: markers {START} / {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + table + tail


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or, with ``--check``, check) the module table; the exit code says whether it was current."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when the table is stale, write nothing")
    args = ap.parse_args(argv)
    text = DOC.read_text()
    new = replace_table(text, render(ROOT))
    if args.check:
        if new != text:
            print(f"{DOC.relative_to(ROOT)}: module table is stale; run python scripts/module_table.py",
                  file=sys.stderr)
            return 1
        return 0
    if new != text:
        DOC.write_text(new)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
