"""The plain-language reading of a decision: what chooses, what flips it, what cannot be told apart.

Lines, in order: the choice and its margin (± Monte-Carlo noise); "the simulation cannot
separate X and Y" when the margin is within :data:`~.noise.NOISE_Z` standard errors; how
λ sets the choice (its exact segments over ``[0, 2]``) and whether a small change of λ
(:data:`SMALL_LAMBDA`) flips it; whether the scenario probabilities can change it (and a
small change, :data:`SMALL_PROB`); "set by λ, not by the scenarios" when only λ moves it;
the run's minimax-regret choice beside it; P(beat 60/40); the views. The tone is
``good`` (green) when the margin is beyond noise, no small change flips the choice and
the choice is not set by λ alone; else ``neutral`` (amber).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from backtest.synthetic.decide.noise import NOISE_Z

if TYPE_CHECKING:
    from backtest.synthetic.decide.core import Decision

SMALL_LAMBDA = 0.25
"""A λ flip within this distance of the current λ is "a small change"."""
SMALL_PROB = 0.10
"""A probability flip within this distance (absolute) is "a small change"."""


def _pp(x: float) -> str:
    return f"{x * 100:.2f} pp" if abs(x) < 0.1 else f"{x * 100:.1f} pp"


def _them(choice: str) -> str:
    parts = choice.split("|")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _segments_text(segs: list[dict]) -> str:
    out = []
    for i, s in enumerate(segs):
        if i == 0:
            out.append(f"{s['choice']} below λ = {s['to']:.2f}")
        elif i == len(segs) - 1:
            out.append(f"{s['choice']} above {s['from']:.2f}")
        else:
            out.append(f"{s['choice']} {s['from']:.2f}–{s['to']:.2f}")
    return ", ".join(out)


def reading(dec: Decision) -> tuple[list[str], str]:
    """The plain-language lines of a decision and its tone (``good`` / ``neutral``)."""
    lines: list[str] = []
    probs = " / ".join(f"{s} {p:.2f}" for s, p in dec.probs.items())
    stat = dec.statistic + (f" (λ = {dec.cvar_lambda:g})" if dec.statistic == "cvar_penalised" else
                            f" ({dec.summary})" if dec.statistic not in ("cvar_5",) else "")
    fragile = False
    if "|" in dec.choice or not dec.runner_up:
        lines.append(f"Choice ({dec.statistic}, least expected regret, {probs}): {_them(dec.choice)} tie exactly — "
                     "the scenarios cannot separate them; no flip is claimed.")
        return lines + _tail(dec), "neutral"
    noise = (f" ± {_pp(dec.margin_se)} Monte-Carlo noise (paired bootstrap, {dec.resamples} resamples)"
             if np.isfinite(dec.margin_se) else "")
    lines.append(f"Choice by least expected regret of {stat} under {probs}: {dec.choice}; runner-up "
                 f"{dec.runner_up} by {_pp(dec.margin)}{noise}.")
    if np.isfinite(dec.margin_se) and dec.margin < NOISE_Z * dec.margin_se:
        lines.append(f"The simulation cannot separate {dec.choice} and {dec.runner_up}: the margin is under "
                     f"{NOISE_Z:g} standard errors of Monte-Carlo noise.")
        fragile = True
    fl = dec.flips
    lam_rows = fl.loc[(fl["parameter"] == "cvar_lambda") & np.isfinite(fl["threshold"].astype(float))]
    p_rows = fl.loc[(fl["parameter"] != "cvar_lambda") & np.isfinite(fl["threshold"].astype(float))]
    by_lambda = dec.statistic == "cvar_penalised" and len(dec.segments) > 1
    if by_lambda:
        lines.append(f"The choice is set by λ: {_segments_text(dec.segments)} (at these probabilities).")
    if len(lam_rows):
        near = lam_rows.loc[lam_rows["change"].abs().idxmin()]
        if abs(near["change"]) <= SMALL_LAMBDA:
            lines.append(f"A small change of λ flips it: at λ = {near['threshold']:.3g} ({near['change']:+.3g}) "
                         f"the choice becomes {near['new_choice']}.")
            fragile = True
    if len(p_rows):
        bits = []
        for _, r in p_rows.sort_values("change", key=lambda c: c.abs()).iterrows():
            sc = str(r["parameter"]).removeprefix("p_")
            verb = "raising" if r["change"] > 0 else "lowering"
            bits.append(f"{verb} P({sc}) from {r['value']:.2f} to {r['threshold']:.2f} makes it {r['new_choice']}")
        lines.append("Scenario probabilities (the others rescaled): " + "; ".join(bits[:4]) + ".")
        if p_rows["change"].abs().min() <= SMALL_PROB:
            lines.append(f"The choice is sensitive to the scenario probabilities: a change of "
                         f"{p_rows['change'].abs().min():.2f} or less flips it.")
            fragile = True
    elif len(dec.probs) < 2:
        lines.append(f"Only one scenario ({next(iter(dec.probs))}) has a probability: no probability can change "
                     "the choice.")
    else:
        lines.append("No change of one scenario's probability (the others rescaled) changes the choice: "
                     "the scenarios do not decide it.")
        if by_lambda:
            lines.append("The choice is set by λ, not by the scenarios.")
            fragile = True  # the scenarios do not inform it: amber, whatever the margin
    same = "the same" if dec.minimax_choice == dec.choice else "a different choice"
    lines.append(f"The run's rule, minimax regret (the probabilities only say which scenarios count), gives "
                 f"{dec.minimax_choice}: {same}.")
    return lines + _tail(dec), "neutral" if fragile else "good"


def _tail(dec: Decision) -> list[str]:
    out = []
    t = dec.table.set_index("strategy")
    if dec.benchmark and dec.choice in t.index and np.isfinite(t.loc[dec.choice, "prob_beat_6040"]):
        p, se = t.loc[dec.choice, "prob_beat_6040"], t.loc[dec.choice, "prob_beat_6040_se"]
        out.append(f"{dec.choice} beats 60/40 ({dec.benchmark}) on {p:.0%} ± {se:.0%} of the weighted paths.")
    if dec.views:
        met = "; ".join(f"{v['as']} (prior {v['prior']:.3g}, now {v['achieved']:.3g})" for v in dec.views)
        out.append(f"Views by entropy pooling: {met}; effective paths {dec.effective_paths:,.0f} of "
                   f"{dec.effective_paths_prior:,.0f} before the views.")
        if dec.effective_paths < 0.1 * dec.effective_paths_prior:
            out.append("The views rest on few paths (under 10% of the prior's effective paths): read the choice "
                       "with care.")
    out.extend(f"note: {n}" for n in dec.notes)
    return out


def flips_line(dec: Decision) -> str:
    """One line of the flips: ``λ ↓ 0.47 → sixty_forty; P(A) none; P(B) ↑ 0.81 → spy ...``."""
    bits = []
    for param, rows in dec.flips.groupby("parameter", sort=False):
        label = "λ" if param == "cvar_lambda" else f"P({str(param).removeprefix('p_')})"
        hits = [f"{'↑' if r.direction == 'up' else '↓'} {r.threshold:.3g} → {r.new_choice}"
                for r in rows.itertuples() if np.isfinite(r.threshold)]
        bits.append(f"{label} " + (", ".join(hits) if hits else "none"))
    probs = " / ".join(f"{s} {p:.2f}" for s, p in dec.probs.items())
    lam = f", λ = {dec.cvar_lambda:g}" if dec.statistic == "cvar_penalised" else ""
    return f"Flips of the choice {dec.choice} (least expected regret, {probs}{lam}): " + "; ".join(bits) + "."


__all__ = ["SMALL_LAMBDA", "SMALL_PROB", "flips_line", "reading"]
