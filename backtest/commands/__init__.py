"""The ``rmpbt`` commands, one module each, loaded only when invoked.

:data:`COMMANDS` maps each command name to ``(module, one-line help)``. ``backtest.cli``
lists commands from this table (so ``rmpbt --help`` imports no command module) and
imports a command's module only when that command runs. Each module exposes
``register(app)`` adding its command (or sub-app) named like the key.
``tests/test_layers.py`` checks the help texts against the real commands.
"""

from __future__ import annotations

COMMANDS: dict[str, tuple[str, str]] = {
    "run": (
        "backtest.commands.run_cmd",
        "Run a config-driven backtest and write a run folder (its path is the last line printed).",
    ),
    "strategies": ("backtest.commands.strategies_cmd", "List the registered strategy kinds."),
    "regimes": (
        "backtest.commands.regimes_cmd",
        "Show the regime timeline and its agreement with the Fed calendar; write CSV + PNG.",
    ),
    "compare": (
        "backtest.commands.compare_cmd",
        "Compare strategies from several runs on one page (the page's path is the last line printed).",
    ),
    "scenarios": (
        "backtest.commands.scenarios_cmd",
        "Score every strategy of CONFIG on simulated RMP scenarios (A, B, C, mix).",
    ),
    "tune": (
        "backtest.commands.tune_cmd",
        "Sweep config keys of one strategy; rank in-sample, report out-of-sample (folder path printed last).",
    ),
    "data": ("backtest.commands.data_cmd", "Download and cache market data."),
    "decide": (
        "backtest.commands.decide_cmd",
        "Re-score a saved scenario run: the choice, its flips in λ and probabilities, views (entropy pooling).",
    ),
    "now": ("backtest.commands.now_cmd", "Today's regime, targets, drifted weights, why, costs a year, returns since the regime began and trades."),
    "evidence": (
        "backtest.commands.evidence_cmd",
        "Test the article's claims on history: claims, event studies, regime attribution, episodes (evidence.html).",
    ),
}
