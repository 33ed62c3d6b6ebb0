"""Line styles that stay distinguishable: up to 24 lines as 8 colours x 3 dash patterns.

Line ``i`` gets colour ``COLORS[i % 8]`` and dash ``DASHES[i // 8 % 3]``: the first eight
lines are solid, the next eight dashed, the next eight dotted; beyond 24 styles repeat.
The colours are the Okabe-Ito colour-blind-safe set (black replaced by a dark blue-grey).
Also: staggered positions for text labels placed at nearby x positions.
"""

from __future__ import annotations

COLORS: tuple[str, ...] = (
    "#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#8c6d1f", "#3f4a5a",
)
DASHES: tuple[str, ...] = ("solid", "dash", "dot")
MAX_DISTINCT: int = len(COLORS) * len(DASHES)


def style(i: int) -> tuple[str, str]:
    """Colour and plotly dash pattern of the ``i``-th line (0-based)."""
    return COLORS[i % len(COLORS)], DASHES[(i // len(COLORS)) % len(DASHES)]


def color_map(names: list[str]) -> dict[str, str]:
    """A stable colour per name, in order of appearance (pair with :func:`dash_of`)."""
    return {n: style(i)[0] for i, n in enumerate(dict.fromkeys(names))}


def dash_map(names: list[str]) -> dict[str, str]:
    """A stable dash pattern per name, in order of appearance."""
    return {n: style(i)[1] for i, n in enumerate(dict.fromkeys(names))}


def dash_of(colors: dict[str, str], name: str) -> str:
    """Dash pattern of ``name`` given the colour map it was styled with (its order)."""
    keys = list(colors)
    return style(keys.index(name))[1] if name in colors else DASHES[0]


def line(colors: dict[str, str], name: str, width: float = 1.5) -> dict[str, object]:
    """A plotly ``line`` dict (colour, dash, width) for ``name``."""
    return {"color": colors.get(name), "dash": dash_of(colors, name), "width": width}


def label_y(k: int, levels: int = 4, low: float = 0.02, high: float = 0.8) -> float:
    """Staggered y position (paper units) of the ``k``-th of several nearby labels."""
    step = (high - low) / max(levels - 1, 1)
    return low + step * (k % levels)


__all__ = ["COLORS", "DASHES", "MAX_DISTINCT", "color_map", "dash_map", "dash_of", "label_y", "line", "style"]
