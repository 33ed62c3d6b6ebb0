"""Dotted config keys of ``rmpbt tune``: parse, format, get and set a path in a config tree."""

from __future__ import annotations

import copy
import re
from typing import Any

from backtest.errors import SweepError

Key = tuple[str | int, ...]



def parse_key(text: str, where: str = "--grid") -> Key:
    """Parse a dotted key with optional list indexes into a path tuple.

    ``a.b[0].c``, ``a.b.0.c`` -> ``("a", "b", 0, "c")``.

    Raises
    ------
    SweepError
        Empty or malformed key.
    """
    key = text.strip()
    if not key:
        raise SweepError(f"{where}: empty key")
    parts: list[str | int] = []
    for seg in key.split("."):
        m = re.fullmatch(r"([^\[\]\s]+)((?:\[\d+\])*)", seg)
        if not m:
            raise SweepError(f"{where} {key}: malformed key (expected dotted.path or path[0].key)")
        name, idx = m.groups()
        parts.append(int(name) if name.isdigit() else name)
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", idx))
    return tuple(parts)


def format_key(path: Key) -> str:
    """Canonical text of a key path (list indexes as ``[i]``)."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + p
    return out


class _Missing(Exception):
    def __init__(self, depth: int, options: list[str]) -> None:
        super().__init__(depth)
        self.depth, self.options = depth, options


def _child(node: Any, part: str | int, parent: Key) -> Any:
    if isinstance(node, list):
        if parent == ("strategies",) and isinstance(part, str):
            for item in node:
                if isinstance(item, dict) and item.get("name") == part:
                    return item
            raise _Missing(len(parent), [str(i.get("name")) for i in node if isinstance(i, dict)])
        if isinstance(part, int) and 0 <= part < len(node):
            return node[part]
        raise _Missing(len(parent), [f"[{i}]" for i in range(len(node))])
    if isinstance(node, dict):
        if part in node:
            return node[part]
        if isinstance(part, int) and str(part) in node:
            return node[str(part)]
        raise _Missing(len(parent), [str(k) for k in node])
    raise _Missing(len(parent), [])


def get_path(tree: Any, path: Key) -> Any:
    """Value at ``path`` in a nested dict/list tree (strategies addressed by name).

    Raises
    ------
    KeyError
        The path does not exist.
    """
    node = tree
    try:
        for i, part in enumerate(path):
            node = _child(node, part, path[:i])
    except _Missing:
        raise KeyError(format_key(path)) from None
    return node


def set_path(tree: Any, path: Key, value: Any, fallback: Any = None) -> None:
    """Set ``path`` in ``tree`` in place; missing nodes are copied from ``fallback`` or created.

    Raises
    ------
    SweepError
        The path walks through a value that is neither a mapping nor a list.
    """
    node = tree
    for i, part in enumerate(path[:-1]):
        try:
            node = _child(node, part, path[:i])
            continue
        except _Missing:
            pass
        if not isinstance(node, dict):
            raise SweepError(f"key {format_key(path)}: {format_key(path[:i]) or 'config'} has no item {part!r}")
        try:
            new = copy.deepcopy(get_path(fallback, path[: i + 1])) if fallback is not None else {}
        except KeyError:
            new = {}
        node[part] = new
        node = new
    last = path[-1]
    if isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        node[last] = value
    elif isinstance(node, dict):
        node[str(last) if isinstance(last, int) and str(last) in node else last] = value
    else:
        raise SweepError(f"key {format_key(path)}: {format_key(path[:-1])} is not a mapping")




def missing_depth(tree: Any, path: Key) -> int | None:
    """Depth of the first part of ``path`` missing from ``tree``, or None when all exist."""
    node = tree
    try:
        for i, part in enumerate(path):
            node = _child(node, part, path[:i])
    except _Missing as m:
        return m.depth
    return None
