"""Regimes: liquidity signals, the regime models (calendar, rules, Markov) and their registry, scoring."""
