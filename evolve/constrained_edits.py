"""Edits a small model cannot get wrong: pick an existing line of the EVOLVE-BLOCK, write its replacement.

Why: a 135M-parameter model asked for SEARCH/REPLACE diffs or whole rewrites almost never produces code that
applies and parses. Under a grammar (llama.cpp's GBNF, or a server's guided decoding) it can only write
replies of this form, one edit per line:

    12: g = (np.arange(5) + 0.45) / 5

where 12 is the number of a line of the parent inside an EVOLVE-BLOCK (the grammar lists only those numbers,
so the edit always lands) and the text after it is either

* that line with only its numeric literals changed (the grammar spells the line out and leaves holes for
  the numbers, integers staying integers and floats floats): always valid Python; or
* one new line of code, offered only for a line that is a whole simple statement by itself (an assignment,
  a return, a call), so replacing it cannot break the block structure; the child is parsed before it is
  evaluated.

`EditMenu` is built once per parent from its source: the numbered listing for the prompt, the GBNF grammar,
and `apply(reply)`, which turns a reply (constrained or not: a server that refused the grammar answers
freely) into the child or a `ConstrainedEditError` written for the model.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import io
import re
import tokenize
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

from evolve.edits import EditError, find_blocks

#: Edits one reply may make (each a line). One by default: a small model that writes two usually spoils a good
#: change with a bad one, and each edit costs its tokens (the grammar spells the whole line out).
MAX_EDITS = 1
#: Longest new line the grammar lets the model write (characters after the indentation).
MAX_NEW_LINE = 100
#: Digits a number may have after the point: enough for any constant a program tunes.
_FRAC_DIGITS = 4
_REPLY_LINE = re.compile(r"^\s*L?(\d+)\s*[:|]\s?(.*)$")
_MARKER = re.compile(r"EVOLVE-BLOCK-(START|END)")


class ConstrainedEditError(EditError):
    """A constrained reply that cannot become a child; the message is shown to the model."""


@dataclass(frozen=True)
class EditableLine:
    """One line of the parent the model may change.

    `pieces` is the line's code (no indentation, no trailing comment) split at its numeric literals, so
    `pieces[0] + n1 + pieces[1] + ...` rebuilds it; `kinds` says for each literal whether it is an int or a
    float. `free` is True when the line is a whole simple statement and may become any new line.
    """

    number: int  # 1-based line number in the parent
    text: str  # the line as it is in the parent
    indent: str
    pieces: tuple[str, ...]
    kinds: tuple[str, ...]  # "int" | "float", one per literal
    free: bool
    spans: tuple[tuple[int, int], ...]  # column spans of the literals in `text`

    @property
    def code(self) -> str:
        """The line's code without indentation and trailing comment (what a reply rewrites)."""
        literals = [self.text[a:b] for a, b in self.spans]
        return "".join(p + n for p, n in zip(self.pieces, literals, strict=False)) + self.pieces[-1]

    def numbers_pattern(self) -> re.Pattern[str]:
        """Matches the line with only its literals changed (as the grammar allows them); group i+1 is
        literal i."""
        holes = [f"({_INT_RE if k == 'int' else _FLOAT_RE}|{re.escape(self.text[a:b])})"
                 for k, (a, b) in zip(self.kinds, self.spans, strict=True)]
        body = "".join(re.escape(p) + h for p, h in zip(self.pieces, holes, strict=False))
        return re.compile(body + re.escape(self.pieces[-1]) + r"\Z")


# what `apply` accepts as a number: any decimal (a server that refused the grammar may write any)
_INT_RE = r"(?:0|[1-9][0-9]*)"
_FLOAT_RE = rf"{_INT_RE}\.[0-9]+"


class EditMenu:
    """The edits offered for one parent program: its listing, grammar, and how a reply applies."""

    def __init__(self, source: str, max_edits: int = MAX_EDITS, new_lines: bool = True,
                 tried: dict[tuple[int, int], set[str]] | None = None) -> None:
        """`new_lines=False` offers only number changes: every reply is then a valid program. `tried` maps
        (line, literal index) to values earlier children of this parent already gave that literal: the grammar
        leaves them out, so a model cannot propose the same child twice by changing that literal."""
        if max_edits < 1:
            raise ValueError("max_edits must be at least 1")
        self.source = source
        self.max_edits = max_edits
        self.new_lines = new_lines
        self.tried = tried or {}
        self._lines = source.split("\n")
        self.lines: dict[int, EditableLine] = {}
        self._docstrings: set[int] = set()
        editable = _editable_lines(source, self._lines, self._docstrings)
        self._numbered = {e.number for e in editable}  # the same listing whatever is offered: a cached prefix
        for e in editable:
            if not new_lines and e.free:
                e = dataclasses.replace(e, free=False)
            if e.kinds or e.free:
                self.lines[e.number] = e
        if not self.lines:
            what = "no numbers and no simple statements" if new_lines else "no numbers"
            raise ConstrainedEditError(f"no line of the EVOLVE-BLOCK can be edited line by line ({what})")

    # ---- what the model sees ------------------------------------------------------------------------------
    def listing(self) -> str:
        """The EVOLVE-BLOCK's code as the prompt shows it: editable lines with their numbers, the others (for
        context) with a blank number column; docstrings left out, they cost prefill time and change nothing.
        It does not depend on `new_lines`, so a local model's cached prompt prefix serves both kinds."""
        width = len(str(max(self._numbered)))
        out = []
        for start, end in find_blocks(self.source):
            for i in range(start, end):
                text = self._lines[i]
                if text.strip() and i + 1 not in self._docstrings:
                    label = f"{i + 1}:" if i + 1 in self._numbered else ""
                    out.append(f"{label:>{width + 1}} {text}")
        return "\n".join(out)

    def offering(self, numbers: list[int]) -> EditMenu:
        """The same menu with only `numbers` offered by the grammar (the listing still numbers every editable
        line, and `apply` still takes any of them: the restriction steers a reply, it is not a rule)."""
        menu = copy.copy(self)
        menu.lines = {n: e for n, e in self.lines.items() if n in numbers}
        if not menu.lines:
            raise ValueError(f"none of lines {numbers} is offered")
        return menu

    def grammar(self) -> str:
        """GBNF: 1..max_edits lines `N: replacement`, N one of the editable lines. A numbers-only replacement
        must change at least one literal (the option names which comes first), so no reply is a no-op, and
        keeps each number's order of magnitude (see `_hole`)."""
        rules = [
            f"root ::= edit{'' if self.max_edits == 1 else '{1,' + str(self.max_edits) + '}'}",
            "edit ::= " + " | ".join(f"{gbnf_literal(f'{n}: ')} line{n} \"\\n\"" for n in self.lines),
        ]
        for n, line in self.lines.items():
            options = []
            for j in range(len(line.kinds)):  # one option per literal: the first one that changes
                originals = [line.text[a:b] for a, b in line.spans]
                other = f"other{n}x{j}"
                tried = self.tried.get((n, j), ())
                rules.append(f"{other} ::= " + _other_literal(originals[j], line.kinds[j], tried))
                holes = [*(gbnf_literal(x) for x in originals[:j]), other,
                         *(f"({_hole(x, k)})" for x, k in zip(originals[j + 1:], line.kinds[j + 1:], strict=True))]
                parts = [x for piece, hole in zip(line.pieces, holes, strict=False)
                         for x in ((gbnf_literal(piece),) if piece else ()) + (hole,)]
                if line.pieces[-1]:
                    parts.append(gbnf_literal(line.pieces[-1]))
                options.append(" ".join(parts))
            if line.free:
                options.append("newline")
            rules.append(f"line{n} ::= " + " | ".join(options))
        if any(e.free for e in self.lines.values()):
            rules.append(f"newline ::= [^ \\t\\n\\r#] [^\\n\\r]{{0,{MAX_NEW_LINE - 1}}}")
        return "\n".join(rules) + "\n"

    def changed(self, child: str) -> tuple[list[int], dict[tuple[int, int], str]]:
        """The lines `child` (made by `apply`) changed, and the new value of each literal it changed, by
        (line, literal index): what a later proposal from the same parent should not offer again."""
        lines, values = [], {}
        for n, (old, new) in enumerate(zip(self._lines, child.split("\n"), strict=True), 1):
            if old == new:
                continue
            lines.append(n)
            line = self.lines.get(n)
            m = line.numbers_pattern().match(new.strip()) if line and line.kinds else None
            for j, value in enumerate(m.groups() if m else ()):
                if value != line.text[slice(*line.spans[j])]:  # type: ignore[union-attr]
                    values[(n, j)] = value
        return lines, values

    def max_reply_tokens(self) -> int:
        """A reply cap that fits max_edits of the longest offered line: a token is at least one character, and a
        line of numbers is about one token per character (a cap of half its length cut such replies mid-number,
        and the cut reply was refused); the grammar ends a reply as soon as its lines are complete."""
        longest = max(max(len(e.code), MAX_NEW_LINE if e.free else 0) for e in self.lines.values())
        return self.max_edits * (longest + 8)

    # ---- applying a reply ---------------------------------------------------------------------------------
    def apply(self, reply: str) -> tuple[str, str]:
        """(child source, edit kind) for a reply; raises ConstrainedEditError saying what was wrong.

        The edit kind is "constrained-numbers" when every edit only changed numbers, else "constrained-line".
        Lines of the reply that are not edits are ignored (a model answering without the grammar may add
        prose); a reply with no edit at all, an edit of a line not offered, or a child that does not parse
        is refused.
        """
        edits: dict[int, str] = {}
        for raw in reply.replace("\r\n", "\n").split("\n"):
            m = _REPLY_LINE.match(raw)
            if not m:
                continue
            n, code = int(m.group(1)), m.group(2).strip().strip("`").strip()
            if n not in self.lines:
                offered = ", ".join(str(k) for k in self.lines)
                raise ConstrainedEditError(f"line {n} cannot be edited; choose one of lines {offered}")
            edits[n] = code
            if len(edits) == self.max_edits:  # edits beyond the allowed number (an unguided reply) are ignored
                break
        if not edits:
            raise ConstrainedEditError(
                "the reply has no edit; write one line `NUMBER: new code` naming a numbered line"
            )
        lines = list(self._lines)
        numbers_only = True
        for n, code in edits.items():
            line = self.lines[n]
            if line.kinds and line.numbers_pattern().match(code):
                pass
            elif line.free and code and not code.startswith("#") and len(code) <= MAX_NEW_LINE:
                numbers_only = False
            else:
                allowed = "only its numbers changed" if not line.free else "its numbers changed or a new statement"
                raise ConstrainedEditError(f"line {n} may be replaced by {allowed}, not by {code[:80]!r}")
            if _MARKER.search(code):
                raise ConstrainedEditError(f"line {n}: an edit may not add an EVOLVE-BLOCK marker")
            lines[n - 1] = line.indent + code
        child = "\n".join(lines)
        if all(code == self.lines[n].code for n, code in edits.items()):
            raise ConstrainedEditError("the edit changed nothing; change at least one number or line")
        try:
            with warnings.catch_warnings():  # the candidate's own warnings (invalid escapes, ...) are not ours
                warnings.simplefilter("ignore")
                ast.parse(child)
        except SyntaxError as exc:
            raise ConstrainedEditError(f"the new line {exc.lineno} is not valid Python: {exc.msg}") from None
        return child, "constrained-numbers" if numbers_only else "constrained-line"


def gbnf_literal(text: str) -> str:
    """`text` as a GBNF string literal: quotes, backslashes and control characters escaped, anything beyond
    ASCII as \\u/\\U escapes (so the grammar is plain ASCII whatever the program holds)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02X}")
        elif code < 0x7F:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04X}")
        else:
            out.append(f"\\U{code:08X}")
    out.append('"')
    return "".join(out)


def _editable_lines(source: str, lines: list[str], docstrings: set[int]) -> list[EditableLine]:
    """The EVOLVE-BLOCK lines that hold a numeric literal or are a whole simple statement; the numbers of
    the lines that are docstrings are added to `docstrings`."""
    blocks = find_blocks(source)
    inside = {i + 1 for a, b in blocks for i in range(a, b)}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        tree = ast.parse(source)
    except (tokenize.TokenError, SyntaxError, IndentationError) as exc:
        raise ConstrainedEditError(f"the parent does not parse, so no line edit can be offered: {exc}") from None
    numbers: dict[int, list[tuple[int, int, str]]] = {}
    comments: dict[int, int] = {}
    multiline: set[int] = set()  # lines a token spans beyond its first (strings), or continued statements
    logical_start: int | None = None
    for tok in tokens:
        (r0, c0), (r1, c1) = tok.start, tok.end
        if r1 > r0:
            multiline.update(range(r0, r1 + 1))
        if tok.type == tokenize.NUMBER and r0 == r1:
            kind = _literal_kind(tok.string)
            if kind:
                numbers.setdefault(r0, []).append((c0, c1, kind))
        elif tok.type == tokenize.COMMENT:
            comments[r0] = c0
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
            if tok.type == tokenize.NEWLINE and logical_start is not None and logical_start != r0:
                multiline.update(range(logical_start, r0 + 1))
            if tok.type == tokenize.NEWLINE:
                logical_start = None
            continue
        if logical_start is None:
            logical_start = r0
    simple = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or isinstance(node, _COMPOUND):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            docstrings.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        elif node.lineno == node.end_lineno:
            simple.add(node.lineno)
    out = []
    for n in sorted(inside):
        text = lines[n - 1]
        if not text.strip() or _MARKER.search(text):
            continue
        end = comments.get(n, len(text))
        code_end = len(text[:end].rstrip())
        indent = text[: len(text) - len(text.lstrip())]
        spans = [(a, b, k) for a, b, k in numbers.get(n, []) if b <= code_end]
        free = n in simple and n not in multiline and ";" not in text[:code_end]
        if not spans and not free:
            continue
        cuts = [len(indent)] + [x for a, b, _ in spans for x in (a, b)] + [code_end]
        pieces = tuple(text[cuts[i]:cuts[i + 1]] for i in range(0, len(cuts), 2))
        out.append(EditableLine(n, text, indent, pieces, tuple(k for *_, k in spans), free,
                                tuple((a, b) for a, b, _ in spans)))
    return out


_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
             ast.With, ast.AsyncWith, ast.Try, ast.Match, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))


def _hole(literal: str, kind: str) -> str:
    """GBNF for a number of `kind` on the scale of `literal`: an int keeps its number of digits (26 stays two
    digits), a float its whole part (0.4 stays 0.something), so a small model tunes the constant instead of
    replacing it by something of another order of magnitude, which in practice breaks the program."""
    whole, _ = _split(literal)
    if kind == "float":
        return f"{gbnf_literal(whole + '.')} [0-9]{{1,{_FRAC_DIGITS}}}"
    return f"[{'0-9' if len(whole) == 1 else '1-9'}]" + (f" [0-9]{{{len(whole) - 1}}}" if len(whole) > 1 else "")


def _other_literal(literal: str, kind: str, tried: Iterable[str] = ()) -> str:
    """GBNF for the numbers `_hole` allows except `literal` and the `tried` ones, as the model would spell
    them (a float's trailing zeros spell the same value, so they are excluded with it)."""
    whole, frac = _split(literal)
    if kind == "float":
        same = {f for t in (literal, *tried) if _split(t)[0] == whole for f in _spellings(_split(t)[1])}
        other = _digits_except(same, 1, _FRAC_DIGITS, "0123456789") or _digits_except(_spellings(frac), 1,
                                                                                     _FRAC_DIGITS, "0123456789")
        return f"{gbnf_literal(whole + '.')} ({other})"
    first = "123456789" if len(whole) > 1 else "0123456789"
    excluded = {_split(t)[0] for t in tried} | {whole}
    return _digits_except(excluded, len(whole), len(whole), first) or _digits_except({whole}, len(whole),
                                                                                      len(whole), first)


def _spellings(frac: str) -> set[str]:
    """The fractional digit strings (1.._FRAC_DIGITS long) that spell the same value as `frac`."""
    core = frac.rstrip("0")
    return {core + "0" * k for k in range(_FRAC_DIGITS + 1) if 1 <= len(core) + k <= _FRAC_DIGITS}


def _digits_except(excluded: set[str], shortest: int, longest: int, first: str) -> str:
    """GBNF for the digit strings of length shortest..longest, first digit in `first`, that are not in
    `excluded`: walk the prefixes of the excluded strings; at each, allow any digit that leaves them (then
    anything), or stopping there when that is long enough and not excluded. Empty when nothing is left."""
    prefixes = {e[:i] for e in excluded for i in range(len(e) + 1)}
    options = []
    for p in sorted(prefixes):
        if len(p) >= longest:
            continue
        taken = {e[len(p)] for e in prefixes if len(e) == len(p) + 1 and e.startswith(p)}
        allowed = "".join(d for d in (first if not p else "0123456789") if d not in taken)
        if allowed:
            lo, hi = max(0, shortest - len(p) - 1), longest - len(p) - 1
            tail = "" if hi == 0 else f" [0-9]{{{lo}}}" if lo == hi else f" [0-9]{{{lo},{hi}}}"
            options.append((gbnf_literal(p) + " " if p else "") + f"[{allowed}]" + tail)
    options += [gbnf_literal(p) for p in sorted(prefixes) if shortest <= len(p) and p not in excluded]
    return " | ".join(options)


def _split(literal: str) -> tuple[str, str]:
    """Whole and fractional digits of a decimal literal ("0.5" -> "0", "5"; ".5" -> "0", "5"; "1_000" -> "1000")."""
    whole, _, frac = literal.replace("_", "").partition(".")
    return whole.lstrip("0") or "0", frac


def _literal_kind(token: str) -> str | None:
    """"int" or "float" for a plain decimal literal; None for hex, octal, binary, complex and exponent forms,
    which stay as they are (a decimal in their place could change the program's meaning or type)."""
    t = token.replace("_", "")
    if t.isdigit():
        return "int"
    if re.fullmatch(r"\d*\.\d*", t) and t != ".":
        return "float"
    return None
