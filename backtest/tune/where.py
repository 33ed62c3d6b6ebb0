"""The safe ``--where`` parser of ``rmpbt tune``: constraints between grid keys, never ``eval``."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from typing import Any

from backtest.errors import SweepError
from backtest.tune.keys import format_key, parse_key

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<str>'[^']*'|"[^"]*")
    | (?P<op><=|>=|==|!=|<|>|\+|-|\*|/|\(|\))
    | (?P<name>[A-Za-z_][\w]*(?:\[\d+\])*(?:\.(?:[A-Za-z_][\w\-]*|\d+)(?:\[\d+\])*)*)
    )""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "true", "false", "True", "False"}
_CMP = {"<", "<=", ">", ">=", "==", "!="}


class WhereExpr:
    """A constraint between grid keys, parsed once and evaluated per variant (never ``eval``).

    Grammar: numbers, quoted strings, ``true``/``false``, names (grid keys, or any unique
    dotted suffix of one: ``GLD`` for ``strategies.pb.params.overrides.real_assets.GLD``),
    ``+ - * /``, unary ``-``, parentheses, comparisons ``< <= > >= == !=`` (chainable:
    ``0.1 <= x < 0.3``), ``and``, ``or``, ``not``. Numbers compare with a relative
    tolerance of 1e-9, so that ``0.1 + 0.2 <= 0.3`` holds.

    Parameters
    ----------
    text : str
        The expression.
    keys : sequence of str
        Grid keys the names may refer to.

    Raises
    ------
    SweepError
        Syntax error or unknown/ambiguous name.
    """

    MAX_CHARS = 2000
    MAX_TOKENS = 400
    MAX_DEPTH = 40
    MAX_LITERAL = 100  # characters of a number or string literal

    def __init__(self, text: str, keys: Sequence[str]) -> None:
        if len(text) > self.MAX_CHARS:
            raise SweepError(f"--where: expression of {len(text):,} characters (at most {self.MAX_CHARS})")
        self.text = text
        self._keys = list(keys)
        self._tokens = self._lex(text)
        if len(self._tokens) > self.MAX_TOKENS:
            raise self._error(f"{len(self._tokens)} tokens (at most {self.MAX_TOKENS})")
        self._pos = 0
        self._depth = 0
        if not self._tokens:
            raise SweepError("--where: empty expression")
        self.tree = self._or()
        if self._pos != len(self._tokens):
            raise self._error(f"unexpected {self._tokens[self._pos][1]!r}")

    # ---------------------------------------------------------------- lexing / parsing

    def _lex(self, text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise SweepError(f"--where {text}: unexpected character {text[pos:].strip()[:1]!r} at {pos + 1}")
            kind = m.lastgroup or ""
            val = m.group(kind)
            if kind in ("num", "str") and len(val) > self.MAX_LITERAL:
                raise SweepError(f"--where: literal of {len(val)} characters at {pos + 1} "
                                 f"(at most {self.MAX_LITERAL})")
            if kind == "num" and not math.isfinite(float(val)):
                raise SweepError(f"--where: number {val} is not finite")
            if kind == "name" and val in _KEYWORDS:
                kind = "kw"
            out.append((kind, val))
            pos = m.end()
        return out

    def _error(self, msg: str) -> SweepError:
        return SweepError(f"--where {self.text}: {msg}")

    def _peek(self) -> tuple[str, str] | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _take(self, kind: str | None = None, value: str | None = None) -> bool:
        tok = self._peek()
        if tok is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            return False
        self._pos += 1
        return True

    def _or(self) -> tuple:
        node = self._and()
        while self._take("kw", "or"):
            node = ("or", node, self._and())
        return node

    def _and(self) -> tuple:
        node = self._not()
        while self._take("kw", "and"):
            node = ("and", node, self._not())
        return node

    def _not(self) -> tuple:
        if self._take("kw", "not"):
            self._nest()
            return ("not", self._not())
        return self._cmp()

    def _cmp(self) -> tuple:
        first = self._sum()
        ops, rest = [], []
        while (tok := self._peek()) is not None and tok[0] == "op" and tok[1] in _CMP:
            self._pos += 1
            ops.append(tok[1])
            rest.append(self._sum())
        return ("cmp", first, tuple(ops), tuple(rest)) if ops else first

    def _sum(self) -> tuple:
        node = self._term()
        while (tok := self._peek()) in (("op", "+"), ("op", "-")):
            self._pos += 1
            node = (tok[1], node, self._term())
        return node

    def _term(self) -> tuple:
        node = self._unary()
        while (tok := self._peek()) in (("op", "*"), ("op", "/")):
            self._pos += 1
            node = (tok[1], node, self._unary())
        return node

    def _unary(self) -> tuple:
        if self._take("op", "-"):
            self._nest()
            return ("neg", self._unary())
        if self._take("op", "+"):
            self._nest()
            return self._unary()
        return self._atom()

    def _nest(self) -> None:
        self._depth += 1
        if self._depth > self.MAX_DEPTH:
            raise self._error(f"nested deeper than {self.MAX_DEPTH} levels")

    def _atom(self) -> tuple:
        tok = self._peek()
        if tok is None:
            raise self._error("unexpected end of expression")
        kind, val = tok
        self._pos += 1
        if kind == "num":
            return ("const", float(val) if any(c in val for c in ".eE") else int(val))
        if kind == "str":
            return ("const", val[1:-1])
        if kind == "kw" and val in ("true", "True"):
            return ("const", True)
        if kind == "kw" and val in ("false", "False"):
            return ("const", False)
        if kind == "name":
            return ("name", self._resolve(val))
        if tok == ("op", "("):
            self._nest()
            node = self._or()
            if not self._take("op", ")"):
                raise self._error("missing ')'")
            return node
        raise self._error(f"unexpected {val!r}")

    def _resolve(self, name: str) -> str:
        canon = format_key(parse_key(name, "--where"))
        if canon in self._keys:
            return canon
        hits = [k for k in self._keys if k.endswith("." + canon)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise self._error(f"name {name!r} is ambiguous ({', '.join(hits)})")
        close = difflib.get_close_matches(canon, self._keys, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (grid keys: {', '.join(self._keys)})"
        raise self._error(f"unknown name {name!r}{hint}")

    # ---------------------------------------------------------------- evaluation

    @property
    def names(self) -> set[str]:
        """Grid keys the expression refers to."""
        out: set[str] = set()

        def walk(n: Any) -> None:
            if isinstance(n, tuple):
                if n and n[0] == "name":
                    out.add(n[1])
                for c in n[1:]:
                    walk(c)

        walk(self.tree)
        return out

    def __call__(self, env: dict[str, Any]) -> bool:
        """Evaluate on a variant (key -> value).

        Raises
        ------
        SweepError
            Type error or division by zero.
        """
        try:
            return bool(self._eval(self.tree, env))
        except ZeroDivisionError:
            raise self._error(f"division by zero for {env}") from None
        except (TypeError, OverflowError) as exc:
            raise self._error(f"{exc} for {env}") from None

    def _eval(self, n: tuple, env: dict[str, Any]) -> Any:
        op = n[0]
        if op == "const":
            return n[1]
        if op == "name":
            return env[n[1]]
        if op == "neg":
            return -self._eval(n[1], env)
        if op == "not":
            return not self._eval(n[1], env)
        if op == "and":
            return self._eval(n[1], env) and self._eval(n[2], env)
        if op == "or":
            return self._eval(n[1], env) or self._eval(n[2], env)
        if op == "cmp":
            left = self._eval(n[1], env)
            for o, r in zip(n[2], n[3], strict=True):
                right = self._eval(r, env)
                ok = {"<": lambda a, b: a < b and not _eq(a, b), "<=": lambda a, b: a <= b or _eq(a, b),
                      ">": lambda a, b: a > b and not _eq(a, b), ">=": lambda a, b: a >= b or _eq(a, b),
                      "==": _eq, "!=": lambda a, b: not _eq(a, b)}[o](left, right)
                if not ok:
                    return False
                left = right
            return True
        a, b = self._eval(n[1], env), self._eval(n[2], env)
        if isinstance(a, str | bytes) or isinstance(b, str | bytes):  # 'x' * 10**9: no
            raise TypeError(f"arithmetic on a string ({a!r} {op} {b!r})")
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return a / b


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b
