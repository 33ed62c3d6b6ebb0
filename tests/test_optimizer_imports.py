"""Import cost of the optimizer package: validating configs never imports cvxpy.

The config models live in the cvxpy-free :mod:`backtest.optimizer.models`; only
:mod:`backtest.optimizer.problem` and :mod:`backtest.optimizer.solve` import cvxpy, and
the package re-exports their names lazily. Each check runs in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_NO_CVXPY = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from backtest.config import load_config
    from backtest.data.regime_calendar import load_calendar
    from backtest.regimes.rules_params import load_rules_params
    from backtest.synthetic.scenarios import load_scenarios
    import backtest.optimizer as opt

    names = []
    for path in sorted(Path("configs").glob("*.yaml")):
        (load_scenarios if path.name == "scenarios.yaml" else load_config)(path)
        names.append(path.name)
    load_calendar(Path("configs/regimes/fed_balance_sheet.yaml"))
    load_rules_params(path=Path("configs/regimes/rules.yaml"))
    opt.OptimizerConfig(objective="min_variance")
    print(",".join(names))
    print("cvxpy" in sys.modules)
    """
)


def _run_python(code: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_validating_every_config_does_not_import_cvxpy():
    names, loaded = _run_python(_NO_CVXPY)
    assert {"optimizer.yaml", "historical.yaml", "quickstart.yaml"} <= set(names.split(","))
    assert loaded == "False"


def test_lazy_reexports_import_cvxpy_on_use():
    out = _run_python(
        "import sys\nfrom backtest.optimizer import make_allocator, CvxAllocator\n"
        "from backtest.optimizer.allocator import CvxAllocator as C\n"
        "print(CvxAllocator is C, 'cvxpy' in sys.modules)"
    )
    assert out == ["True", "True"]
