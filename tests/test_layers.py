"""Architecture checks: import layers, private names, light interactive commands.

* the import-linter contracts of ``pyproject.toml`` (``[tool.importlinter]``) hold, and every
  top-level unit of ``backtest/`` sits in a row of the ``layers`` contract;
* the module table of ``docs/architecture.md`` is what ``scripts/module_table.py`` writes
  (every module of ``backtest/`` and ``strategies/``, with its layer and docstring line);
* no module imports a ``_private`` name of another module (``from x import _y`` or
  ``mod._y`` on an imported module); today's known cases are listed below;
* ``rmpbt --help``, ``--version`` and ``strategies`` import no heavy library
  (checked with ``sys.modules`` in a subprocess, not with a clock: timings are in
  ``benchmarks/bench_cli.py``);
* the static tables that keep those commands light (``backtest.commands.COMMANDS`` and
  ``strategies.KINDS``) agree with the real commands and the real strategy registry, and the
  regime models' catalogue (``backtest.constants.REGIME_MODELS``, read by the config) with
  their registry.

See docs/architecture.md.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("backtest", "strategies", "scripts", "benchmarks")

# Heavy libraries the interactive commands must not import.
HEAVY = (
    "vectorbt",
    "cvxpy",
    "numba",
    "plotly",
    "matplotlib",
    "yfinance",
    "dask",
    "distributed",
    "statsmodels",
    "scipy",
    "pandas",
    "numpy",
)

# Known private-name imports across modules, as "path: name" (a new one fails the test).
KNOWN_PRIVATE_IMPORTS: set[str] = set()  # none: every cross-module helper is public


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    return env


# ---------------------------------------------------------------------------- contracts


def test_import_contracts_hold() -> None:
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "broken" in r.stdout and "0 broken" in r.stdout


def _layer_names(layers: list[str]) -> set[str]:
    """Every module named in a ``layers`` list (``"a | b"`` and ``"a : b"`` name two)."""
    return {name.strip() for row in layers for name in row.replace(":", "|").split("|")}


def units_outside_layers(units: list[str], layers: list[str]) -> list[str]:
    """The units that no row of ``layers`` names, in order.

    Parameters
    ----------
    units : list of str
        Dotted names of the top-level units (``backtest.api``, ``backtest.tune``, ``strategies``).
    layers : list of str
        The rows of a ``layers`` contract, top first.

    Returns
    -------
    list of str
        The units missing from every row.
    """
    named = _layer_names(layers)
    return [u for u in units if u not in named]


def top_level_units() -> list[str]:
    """``backtest.X`` for every module and sub-package directly under ``backtest/``, and ``strategies``."""
    units = []
    for path in sorted((ROOT / "backtest").iterdir()):
        if path.suffix == ".py" and path.name != "__init__.py":
            units.append(f"backtest.{path.stem}")
        elif path.is_dir() and (path / "__init__.py").is_file():
            units.append(f"backtest.{path.name}")
    return units + ["strategies"]


def test_unit_check_finds_a_unit_in_no_layer() -> None:
    layers = ["backtest.cli", "backtest.tune | backtest.synthetic", "backtest.a : backtest.b"]
    units = ["backtest.cli", "backtest.synthetic", "backtest.b", "backtest.new", "strategies"]
    assert units_outside_layers(units, layers) == ["backtest.new", "strategies"]


def test_every_top_level_unit_sits_in_a_layer() -> None:
    """A new module or package directly under ``backtest/`` must be given a row of the contract."""
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in cfg["contracts"] if c["id"] == "layers")["layers"]
    units = top_level_units()
    assert "backtest.api" in units and "backtest.synthetic" in units
    missing = units_outside_layers(units, layers)
    assert not missing, "in no row of the layers contract (pyproject.toml): " + ", ".join(missing)
    stale = sorted(_layer_names(layers) - set(units))
    assert not stale, "layers contract names modules that do not exist: " + ", ".join(stale)


def _module_table_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("module_table", ROOT / "scripts" / "module_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_module_table_is_current() -> None:
    """docs/architecture.md lists every module of backtest/ and strategies/ (``scripts/module_table.py``)."""
    mt = _module_table_script()
    doc = (ROOT / "docs" / "architecture.md").read_text()
    table = mt.render(ROOT)
    assert "| `backtest.synthetic.runner` | 3 |" in table and "| `strategies.base` | 9 |" in table
    assert mt.replace_table(doc, table) == doc, "module table stale: run python scripts/module_table.py"


def test_module_table_sees_a_new_module(tmp_path: Path) -> None:
    mt = _module_table_script()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.importlinter]\n[[tool.importlinter.contracts]]\nid = "layers"\n'
        'layers = ["backtest.top", "strategies | backtest.low"]\n'
    )
    for pkg in ("backtest", "strategies"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text('"""The package."""\n')
    (tmp_path / "backtest" / "top.py").write_text('"""Top | first.\n\nMore."""\n')
    before = mt.render(tmp_path)
    assert "| `backtest.top` | 1 | Top \\| first. |" in before and "| `strategies` | 2 | The package. |" in before
    (tmp_path / "backtest" / "new.py").write_text("x = 1\n")
    after = mt.render(tmp_path)
    assert after != before and "| `backtest.new` | — |  |" in after


def test_contracts_cover_the_heavy_dependencies() -> None:
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    forbidden = {m for c in cfg["contracts"] if c["type"] == "forbidden" for m in c["forbidden_modules"]}
    for lib in ("vectorbt", "cvxpy", "yfinance", "dask", "plotly", "matplotlib"):
        assert lib in forbidden
    kinds = {c["type"] for c in cfg["contracts"]}
    assert {"layers", "forbidden", "independence", "acyclic_siblings"} <= kinds
    layers = next(c for c in cfg["contracts"] if c["type"] == "layers")["layers"]
    assert layers[0] == "backtest.cli"  # nothing imports the CLI
    assert "backtest.commands" in _layer_names(layers[1:2])  # only the CLI imports the commands


# ---------------------------------------------------------------------------- private names


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_local_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _resolve(node: ast.ImportFrom, module: str, is_pkg: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_pkg else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports(source: str, module: str, is_pkg: bool = False) -> set[str]:
    """Private names one module takes from another module.

    Parameters
    ----------
    source : str
        The module's source.
    module : str
        Its dotted name (to resolve relative imports and skip self-references).
    is_pkg : bool
        Whether it is a package ``__init__``.

    Returns
    -------
    set of str
        ``"other.module._name"`` for each ``from other.module import _name`` and each
        ``alias._name`` where ``alias`` is bound to a module by an import.
    """
    tree = ast.parse(source)
    found: set[str] = set()
    module_aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    module_aliases[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    module_aliases[top] = top
        elif isinstance(node, ast.ImportFrom):
            src = _resolve(node, module, is_pkg)
            if src == "__future__" or src == module:
                continue
            for a in node.names:
                if _is_private(a.name):
                    found.add(f"{src}.{a.name}")
                elif _is_local_module(f"{src}.{a.name}"):
                    module_aliases[a.asname or a.name] = f"{src}.{a.name}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in module_aliases
            and _is_private(node.attr)
            and module_aliases[node.value.id] != module
        ):
            found.add(f"{module_aliases[node.value.id]}.{node.attr}")
    return found


def scan_private_imports() -> set[str]:
    """``"path: other.module._name"`` for every private import in the scanned folders."""
    out: set[str] = set()
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            mod = _module_name(path)
            for name in private_imports(path.read_text(), mod, path.name == "__init__.py"):
                out.add(f"{path.relative_to(ROOT).as_posix()}: {name}")
    return out


def test_private_import_detector() -> None:
    src = (
        "import numpy as np\n"
        "import backtest.kernel\n"
        "from backtest import engine\n"
        "from backtest.metrics import _ann, public\n"
        "from . import _sibling\n"
        "from __future__ import annotations\n"
        "x = np._core\n"
        "y = engine._simulate\n"
        "z = backtest.kernel\n"
        "w = self._cache\n"
        "v = engine.__doc__\n"
    )
    got = private_imports(src, "backtest.report.figures")
    assert got == {
        "backtest.metrics._ann",
        "backtest.report._sibling",
        "numpy._core",
        "backtest.engine._simulate",
    }
    # A module using its own private names is fine.
    assert private_imports("from backtest.metrics import _ann\n", "backtest.metrics") == set()


def test_no_new_private_imports() -> None:
    new = sorted(scan_private_imports() - KNOWN_PRIVATE_IMPORTS)
    assert not new, "private names imported from another module:\n" + "\n".join(new)


# ---------------------------------------------------------------------------- light commands


def _modules_after(args: list[str]) -> tuple[list[str], str]:
    code = (
        "import json, sys\n"
        f"sys.argv = ['rmpbt', *{args!r}]\n"
        "from backtest.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "sys.stderr.write('HEAVY=' + json.dumps(heavy))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120
    )
    line = [x for x in r.stderr.splitlines() if x.startswith("HEAVY=")]
    assert line, r.stderr[-2000:]
    return json.loads(line[-1].removeprefix("HEAVY=")), r.stdout


@pytest.mark.parametrize("args", [["--help"], ["strategies"], ["--version"]])
def test_interactive_commands_stay_light(args: list[str]) -> None:
    heavy, out = _modules_after(args)
    assert heavy == [], f"rmpbt {' '.join(args)} imported {heavy}"
    assert out.strip()


def test_help_lists_every_command_and_option() -> None:
    from backtest.commands import COMMANDS

    _heavy, out = _modules_after(["--help"])
    for name in COMMANDS:
        assert name in out
    for opt in ("--version", "--debug"):
        assert opt in out


def test_version_prints_name_and_version() -> None:
    import backtest

    _heavy, out = _modules_after(["--version"])
    assert out.strip() == f"rmpbt {backtest.__version__}"


def test_command_table_matches_the_commands() -> None:
    from backtest.cli import load_command
    from backtest.commands import COMMANDS

    for name, (_module, help_text) in COMMANDS.items():
        cmd = load_command(name)
        assert cmd.name == name
        assert " ".join((cmd.help or "").split()) == help_text, name


def test_strategy_catalogue_matches_the_registry() -> None:
    import strategies
    from strategies.base import load_all

    real = {kind: (spec.cls.__module__, spec.doc) for kind, spec in load_all().items()}
    assert strategies.KINDS == real


def test_regime_model_catalogue_matches_the_registry() -> None:
    from backtest.constants import REGIME_MODELS
    from backtest.regimes.models import load_models

    real = {name: (spec.cls.__module__, spec.doc) for name, spec in load_models().items()}
    assert REGIME_MODELS == real
