"""Draw random strings from a GBNF grammar, for tests of the grammars Evolve builds (evolve/constrained_edits.py).

A test that "every reply the grammar allows applies and parses" needs replies the grammar allows without a
model in the loop; this samples them. It reads the subset of GBNF the builder writes (rules, alternatives,
sequences, groups, string literals with escapes, character classes with ranges and negation, `?`, `*`, `+`
and `{m,n}`), and refuses anything else, so a grammar drifting beyond it fails loudly instead of silently.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "[": "[", "]": "]", "-": "-", "^": "^"}
_PRINTABLE = [chr(c) for c in range(0x20, 0x7F)] + ["é", "π", "\t"]


@dataclass
class Node:
    kind: str  # alt | seq | lit | cls | ref | rep
    items: list = None  # type: ignore[assignment]
    text: str = ""
    chars: tuple[list[tuple[str, str]], bool] | None = None  # (ranges, negated)
    lo: int = 0
    hi: int = 0


class GBNF:
    def __init__(self, grammar: str) -> None:
        self.rules: dict[str, Node] = {}
        for name, body in re.findall(r"^([\w-]+)\s*::=\s*(.*)$", grammar, flags=re.MULTILINE):
            self._src, self._pos = body, 0
            self.rules[name] = self._alt()
            if body[self._pos:].strip():
                raise ValueError(f"rule {name}: cannot read {body[self._pos:]!r}")
        if "root" not in self.rules:
            raise ValueError("grammar has no root rule")

    # ---- parsing ----------------------------------------------------------------------------------------------
    def _peek(self) -> str:
        while self._pos < len(self._src) and self._src[self._pos] == " ":
            self._pos += 1
        return self._src[self._pos] if self._pos < len(self._src) else ""

    def _alt(self) -> Node:
        options = [self._seq()]
        while self._peek() == "|":
            self._pos += 1
            options.append(self._seq())
        return Node("alt", options)

    def _seq(self) -> Node:
        items = []
        while self._peek() not in ("", "|", ")"):
            items.append(self._postfix(self._atom()))
        return Node("seq", items)

    def _atom(self) -> Node:
        c = self._peek()
        if c == '"':
            return Node("lit", text=self._string())
        if c == "[":
            return Node("cls", chars=self._class())
        if c == "(":
            self._pos += 1
            node = self._alt()
            if self._peek() != ")":
                raise ValueError("unclosed group")
            self._pos += 1
            return node
        m = re.compile(r"[\w-]+").match(self._src, self._pos)
        if not m:
            raise ValueError(f"unexpected {self._src[self._pos:]!r}")
        self._pos = m.end()
        return Node("ref", text=m.group())

    def _postfix(self, node: Node) -> Node:
        c = self._src[self._pos] if self._pos < len(self._src) else ""
        if c and c in "?*+":
            self._pos += 1
            return Node("rep", [node], lo=0 if c != "+" else 1, hi=1 if c == "?" else 8)
        m = re.compile(r"\{(\d+)(,(\d*))?\}").match(self._src, self._pos)
        if m:
            self._pos = m.end()
            lo = int(m.group(1))
            hi = lo if not m.group(2) else int(m.group(3)) if m.group(3) else lo + 8
            return Node("rep", [node], lo=lo, hi=hi)
        return node

    def _char(self) -> str:
        c = self._src[self._pos]
        self._pos += 1
        if c != "\\":
            return c
        e = self._src[self._pos]
        self._pos += 1
        if e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            code = int(self._src[self._pos:self._pos + width], 16)
            self._pos += width
            return chr(code)
        if e not in _ESCAPES:
            raise ValueError(f"unknown escape \\{e}")
        return _ESCAPES[e]

    def _string(self) -> str:
        self._pos += 1
        out = []
        while self._src[self._pos] != '"':
            out.append(self._char())
        self._pos += 1
        return "".join(out)

    def _class(self) -> tuple[list[tuple[str, str]], bool]:
        self._pos += 1
        negated = self._src[self._pos] == "^"
        if negated:
            self._pos += 1
        ranges = []
        while self._src[self._pos] != "]":
            a = self._char()
            if self._src[self._pos] == "-" and self._src[self._pos + 1] != "]":
                self._pos += 1
                ranges.append((a, self._char()))
            else:
                ranges.append((a, a))
        self._pos += 1
        return ranges, negated

    # ---- sampling ---------------------------------------------------------------------------------------------
    def sample(self, rng: random.Random, rule: str = "root") -> str:
        return self._gen(self.rules[rule], rng)

    def _gen(self, node: Node, rng: random.Random) -> str:
        if node.kind == "alt":
            return self._gen(rng.choice(node.items), rng)
        if node.kind == "seq":
            return "".join(self._gen(n, rng) for n in node.items)
        if node.kind == "lit":
            return node.text
        if node.kind == "ref":
            return self._gen(self.rules[node.text], rng)
        if node.kind == "rep":
            return "".join(self._gen(node.items[0], rng) for _ in range(rng.randint(node.lo, node.hi)))
        ranges, negated = node.chars  # type: ignore[misc]
        inside = [chr(c) for a, b in ranges for c in range(ord(a), ord(b) + 1)]
        pool = [c for c in _PRINTABLE if c not in inside] if negated else inside
        return rng.choice(pool)

    def options(self, rule: str) -> int:
        """How many alternatives `rule` has at its top."""
        return len(self.rules[rule].items)

    def sample_option(self, rule: str, index: int, rng: random.Random) -> str:
        return self._gen(self.rules[rule].items[index], rng)
