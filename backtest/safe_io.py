"""Guarded reading of user files: regular text files of bounded size, strict bounded YAML.

Every problem is one line naming the file (and line/key where known), raised as the
caller's :class:`~backtest.errors.RmpbtError` subclass:

- only regular files are read (not folders, FIFOs, devices, endless streams);
- at most ``max_bytes`` bytes; UTF-8 text without NUL bytes (binary files are refused);
- YAML: duplicate keys are errors (instead of "last wins"), aliases are limited, impossible
  dates (``2015-02-30``) name their line, and the loaded value may not expand to more than
  :data:`MAX_NODES` values or nest deeper than :data:`MAX_DEPTH`;
- numbers anywhere in a loaded tree can be checked for finiteness (:func:`find_non_finite`).
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from backtest.errors import ConfigError, RmpbtError

MAX_TEXT_BYTES = 1_000_000
MAX_ALIASES = 100
MAX_NODES = 100_000
MAX_DEPTH = 50


def read_text_file(
    path: str | Path,
    what: str = "file",
    *,
    max_bytes: int = MAX_TEXT_BYTES,
    error: type[RmpbtError] = ConfigError,
) -> str:
    """Read a regular UTF-8 text file of at most ``max_bytes`` bytes (BOM allowed, no NUL byte).

    Arguments as :func:`read_regular_bytes` (``what`` names the file in messages:
    ``"config file"``, ``"calendar"``...); raises ``error`` also for a binary or non-UTF-8 file.
    """
    p = Path(path)
    data = read_regular_bytes(p, what, max_bytes=max_bytes, error=error)
    if b"\0" in data:
        raise error(f"{p}: {what} is a binary file, expected UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{p}: {what} is not UTF-8 text (bad byte at offset {exc.start})") from None


def read_regular_bytes(
    path: str | Path,
    what: str = "file",
    *,
    max_bytes: int = MAX_TEXT_BYTES,
    error: type[RmpbtError] = ConfigError,
) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` bytes; never blocks on a FIFO or device.

    The file is opened with ``O_NONBLOCK`` (a FIFO without a writer, a terminal or a
    device returns at once) and its type is checked on the open descriptor (``fstat``), so
    a folder, FIFO, socket or device swapped in between is refused as well. Every input
    file of rmpbt (configs, calendars, scenario files, holdings, data CSVs) is read through
    this function or :func:`read_text_file`.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the file is, for messages.
    max_bytes : int
        Size limit.
    error : type
        The error class to raise.

    Raises
    ------
    RmpbtError
        ``error``: not found, not a regular file, unreadable or too large.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error(f"{p}: {what} not found") from None
    except OSError as exc:
        raise error(f"{p}: cannot read {what} ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{p}: is a folder, expected a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{p}: not a regular file, expected a {what}")
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{p}: cannot read {what} ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # replaced by a FIFO/device after the stat above
            raise error(f"{p}: not a regular file, expected a {what}")
        if st.st_size > max_bytes:
            raise error(f"{p}: {what} is {st.st_size:,} bytes, more than the {max_bytes:,} allowed")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{p}: cannot read {what} ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise error(f"{p}: {what} is larger than the {max_bytes:,} bytes allowed")
    return data


class StrictLoader(yaml.SafeLoader):
    """Safe loader: duplicate keys are errors, aliases limited, bad dates located."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                ev = self.peek_event()
                raise yaml.constructor.ConstructorError(
                    None, None, f"more than {MAX_ALIASES} aliases", ev.start_mark
                )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:  # noqa: D102
        if isinstance(node, yaml.MappingNode):
            # Duplicates are looked for among the mapping's own keys only: keys brought in by
            # a merge key (``<<: *base``) may be overridden by an own key, as YAML defines.
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    dup = key in seen
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, "unhashable mapping key", key_node.start_mark
                    ) from None
                if dup:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            self.flatten_mapping(node)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: Any) -> Any:  # noqa: D102
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"impossible date {node.value!r} ({exc})", node.start_mark
            ) from None

    def construct_yaml_int(self, node: Any) -> Any:  # noqa: D102
        _refuse_yaml11_number(node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node: Any) -> Any:  # noqa: D102
        _refuse_yaml11_number(node)
        return super().construct_yaml_float(node)


_YAML11_OCTAL = re.compile(r"[-+]?0[0-7_]+")
_YAML11_BINARY = re.compile(r"[-+]?0b[01_]+")


def _refuse_yaml11_number(node: Any) -> None:
    """Refuse the YAML 1.1 number forms that YAML 1.2 reads otherwise (see docs/config.md).

    ``010`` is 8 in YAML 1.1 (octal) but 10 in YAML 1.2; ``1:30`` is 90 (base 60); ``0b11``
    is 3. Such a number is an error at its line rather than a silent guess.
    """
    text = str(node.value).strip()
    if _YAML11_OCTAL.fullmatch(text) or _YAML11_BINARY.fullmatch(text):
        form = "octal" if "b" not in text else "binary"
        raise yaml.constructor.ConstructorError(
            None, None, f"ambiguous number {text!r} (YAML 1.1 {form}): write it without the leading zero, "
            "or quote it for text", node.start_mark)
    if ":" in text:
        raise yaml.constructor.ConstructorError(
            None, None, f"ambiguous number {text!r} (YAML 1.1 base-60): quote it for text", node.start_mark)


# Booleans as YAML 1.2 reads them: only true/false. YAML 1.1's yes/no/on/off/y/n are text
# (the ticker NO stays "NO"; ``html: yes`` is then an error naming the key, not a guess).
StrictLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
# Floats in exponent form as YAML 1.2 reads them (``1e3``, ``1.0e3``; YAML 1.1 reads text):
# after the int resolver, so integers stay integers.
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)[eE][-+]?[0-9]+$"), list("-+0123456789."))
StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", StrictLoader.construct_yaml_timestamp)
StrictLoader.add_constructor("tag:yaml.org,2002:map", StrictLoader.construct_yaml_map)
StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_yaml_float)


def load_yaml_text(text: str, origin: str, error: type[RmpbtError] = ConfigError) -> Any:
    """Parse YAML with :class:`StrictLoader`, then bound its expanded size and depth.

    Raises
    ------
    RmpbtError
        ``error`` naming ``origin`` and the line of the problem.
    """
    try:
        raw = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, yaml.constructor.ConstructorError):  # well-formed, but not allowed
            raise error(f"{origin}:{where.replace(' at', '')}: {problem}") from None
        raise error(f"{origin}: malformed YAML{where}: {problem}") from None
    except RecursionError:
        raise error(f"{origin}: YAML nested too deeply") from None
    _check_size(raw, origin, error)
    return raw


def _check_size(obj: Any, origin: str, error: type[RmpbtError]) -> None:
    """Count values as if aliases were expanded; refuse huge or deeply nested trees."""
    count = 0
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        cur, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise error(f"{origin}: YAML expands to more than {MAX_NODES:,} values (alias bomb?)")
        if depth > MAX_DEPTH:
            raise error(f"{origin}: YAML nested deeper than {MAX_DEPTH} levels")
        if isinstance(cur, dict):
            stack.extend((v, depth + 1) for v in cur.values())
            stack.extend((k, depth + 1) for k in cur)
        elif isinstance(cur, list | tuple):
            stack.extend((v, depth + 1) for v in cur)


def find_non_finite(obj: Any, path: str = "") -> tuple[str, float] | None:
    """The dotted path and value of the first NaN/inf number in a loaded tree, if any.

    Items of a list of mappings with a ``name`` are addressed by that name
    (``strategies.sixty_forty.params.weights.SPY``).
    """
    if isinstance(obj, float) and not math.isfinite(obj):
        return path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            hit = find_non_finite(v, f"{path}.{k}" if path else str(k))
            if hit:
                return hit
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            label = v.get("name") if isinstance(v, dict) and isinstance(v.get("name"), str) else i
            hit = find_non_finite(v, f"{path}.{label}" if path else str(label))
            if hit:
                return hit
    return None
