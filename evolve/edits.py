"""Turn an LLM reply into a child program: SEARCH/REPLACE diffs or a full rewrite, kept inside EVOLVE-BLOCKs.

Small local models get the reply format wrong often, so parsing and matching are lenient where the intent is
unambiguous (fences, marker lengths, CRLF, shifted indentation, a cut-off last block) and strict where a
guess could corrupt the program (a SEARCH that matches nothing, an edit to fixed code). Every refusal is an
`EditError` whose message is written for the LLM: the controller stores the child as `invalid` and feeds the
message back in the next prompt.

Matching is line-based on purpose: substring matching (OpenEvolve's `str.replace`) lets `x = 1` match inside
`max = 10` and silently corrupts the program.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass, field
from typing import Literal

_MARKER_RE = re.compile(r"^\W*EVOLVE-BLOCK-(START|END)\b")  # after any comment syntax: #, //, /*, --, <!--
_SEARCH_RE = re.compile(r"^\s*<{5,9}\s*SEARCH\b", re.IGNORECASE)
_DIVIDER_RE = re.compile(r"^\s*={5,9}\s*$")
_REPLACE_RE = re.compile(r"^\s*>{5,9}\s*(REPLACE\b.*)?$", re.IGNORECASE)
_FENCE_RE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+#.-]*)[^`]*$")
_CUT_OFF_RE = re.compile(r"^\s*(>{3,}.*|`{3,}\s*|~{3,}\s*)$")  # closing fence or half-written REPLACE marker
_PYTHON = {"python", "python3", "py"}
_ALIASES = {"cuda": {"cuda", "cu", "cpp", "c++", "c"}, "cpp": {"cpp", "c++", "cc", "cxx"}}

# (ignore blank lines, line comparison, note), strictest first; the first level with a match wins.
_LEVELS: list[tuple[bool, str, str]] = [
    (False, "exact", ""),
    (False, "rstrip", "ignoring trailing whitespace"),
    (False, "indent", "ignoring indentation"),
    (True, "indent", "ignoring blank lines and indentation"),
]


class EditError(Exception):
    """A reply that cannot become a child; `str(error)` says what was wrong and is shown to the LLM."""


@dataclass
class Edit:
    """The child of a parent and one reply; `notes` list the leniencies used (kept with the candidate)."""

    source: str
    kind: Literal["diff", "rewrite"]
    # diff: SEARCH/REPLACE blocks applied; rewrite: editable regions replaced (a file without markers is one)
    blocks_applied: int
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------- regions


def find_blocks(source: str) -> list[tuple[int, int]]:
    """0-based, half-open line spans of the content of each EVOLVE-BLOCK (marker lines excluded).

    `lines[start:end]` is what the LLM may change. Raises EditError for unbalanced or nested markers, which
    would make the editable region ambiguous.
    """
    return _regions(_lf(source).split("\n"))


def _regions(lines: list[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate(lines):
        m = _MARKER_RE.match(line)
        if not m:
            continue
        if m.group(1) == "START":
            if start is not None:
                raise EditError(
                    f"EVOLVE-BLOCK-START on line {i + 1} is inside the block opened on line {start}"
                )
            start = i + 1
        elif start is None:
            raise EditError(f"EVOLVE-BLOCK-END on line {i + 1} has no EVOLVE-BLOCK-START before it")
        else:
            spans.append((start, i))
            start = None
    if start is not None:
        raise EditError(f"EVOLVE-BLOCK-START on line {start} has no EVOLVE-BLOCK-END")
    return spans


def _is_marker(line: str) -> bool:
    return bool(_MARKER_RE.match(line))


# ------------------------------------------------------------------------------------------------------ diffs


def parse_diff_blocks(text: str) -> list[tuple[str, str]]:
    """(search, replace) pairs of a reply; prose, fences and marker-length variations are tolerated."""
    return _parse_diff(text)[0]


def _parse_diff(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Blocks plus notes; a block cut off after its ======= line is kept (replies often hit max_tokens)."""
    blocks: list[tuple[str, str]] = []
    search: list[str] | None = None
    replace: list[str] | None = None
    for line in _lf(text).split("\n"):
        n = len(blocks) + 1
        if search is None:
            if _SEARCH_RE.match(line):
                search = []
        elif replace is None:
            if _DIVIDER_RE.match(line):
                replace = []
            elif _SEARCH_RE.match(line) or _REPLACE_RE.match(line):
                raise EditError(f"SEARCH block {n} has no ======= line between its SEARCH and REPLACE parts")
            else:
                search.append(line)
        elif _REPLACE_RE.match(line):
            blocks.append(_block(n, search, replace))
            search = replace = None
        elif _SEARCH_RE.match(line):
            raise EditError(f"SEARCH block {n} is not closed by >>>>>>> REPLACE before the next SEARCH")
        elif _DIVIDER_RE.match(line):
            raise EditError(f"SEARCH block {n} has a second ======= line; use one ======= per block")
        else:
            replace.append(line)
    if search is None:
        return blocks, []
    n = len(blocks) + 1
    if replace is None:
        raise EditError(f"SEARCH block {n} ends without ======= and REPLACE parts (the reply was cut off)")
    cut = next((i for i, line in enumerate(replace) if _CUT_OFF_RE.match(line)), len(replace))
    blocks.append(_block(n, search, replace[:cut]))
    return blocks, [
        f"SEARCH block {n} had no >>>>>>> REPLACE marker; took its replacement to the reply's end"
    ]


def _block(n: int, search: list[str], replace: list[str]) -> tuple[str, str]:
    search, replace = _unfence(search), _unfence(replace)
    if not any(line.strip() for line in search):
        raise EditError(f"SEARCH block {n} is empty; copy the exact lines to change from the parent")
    return "\n".join(search), "\n".join(replace)


def _unfence(lines: list[str]) -> list[str]:
    """Drop a code fence the model put just inside the markers."""
    if lines and _FENCE_RE.match(lines[0]):
        lines = lines[1:]
    if lines and _FENCE_RE.match(lines[-1]):
        lines = lines[:-1]
    return lines


def apply_diff(parent: str, blocks: list[tuple[str, str]]) -> Edit:
    """Apply the blocks in order, each to the result of the previous; every SEARCH must match whole lines."""
    if not blocks:
        raise EditError("reply has no SEARCH/REPLACE blocks")
    lines = _lf(parent).split("\n")
    guarded = bool(_regions(lines))
    notes: list[str] = []
    for n, (search, replace) in enumerate(blocks, 1):
        new = replace.split("\n") if replace else []
        lines = _apply_block(lines, n, search.split("\n"), new, guarded, notes)
    child = _like(parent, "\n".join(lines))
    if child == parent:
        raise EditError("no change: the SEARCH/REPLACE blocks leave the parent exactly as it was")
    return Edit(child, "diff", len(blocks), notes)


def _apply_block(
    lines: list[str], n: int, search: list[str], replace: list[str], guarded: bool, notes: list[str]
) -> list[str]:
    search, replace = _drop_shared_markers(search, replace, n, notes)
    for ignore_blank, mode, how in _LEVELS:
        matches = _matches(lines, search, ignore_blank, mode)
        if matches:
            break
    else:
        raise EditError(_not_found(n, lines, search))
    if guarded:
        regions = _regions(lines)
        inside = [m for m in matches if any(a <= m[0] and m[1] <= b for a, b in regions)]
        if not inside:
            raise EditError(
                f"SEARCH block {n} matches line {matches[0][0] + 1}, outside the EVOLVE-BLOCK markers: edit "
                "only code between EVOLVE-BLOCK-START and EVOLVE-BLOCK-END"
            )
        matches = inside
    if any(_is_marker(line) for line in replace):
        raise EditError(f"REPLACE of block {n} adds or moves an EVOLVE-BLOCK marker; leave the markers alone")
    start, end, shift = matches[0]
    if how:
        reindented = f" (re-indented its replacement by {shift:+d})" if shift else ""
        notes.append(f"matched SEARCH block {n} {how}{reindented}")
    if len(matches) > 1:
        notes.append(f"SEARCH block {n} matches {len(matches)} places; replaced the first (line {start + 1})")
    new = _reindent(replace, shift, next(line for line in lines[start:end] if line.strip()))
    if ignore_blank:  # the span starts and ends on non-blank lines: trim the blank edges the SEARCH had too
        new = _trim_blank_edges(new, search)
    return lines[:start] + new + lines[end:]


def _drop_shared_markers(
    search: list[str], replace: list[str], n: int, notes: list[str]
) -> tuple[list[str], list[str]]:
    """Models often copy the marker lines into both halves; that leaves the markers alone, so accept it."""
    inner_search, inner_replace = search, replace
    while inner_search and inner_replace and _same_marker(inner_search[0], inner_replace[0]):
        inner_search, inner_replace = inner_search[1:], inner_replace[1:]
    while inner_search and inner_replace and _same_marker(inner_search[-1], inner_replace[-1]):
        inner_search, inner_replace = inner_search[:-1], inner_replace[:-1]
    if inner_search == search or not any(line.strip() for line in inner_search):
        return search, replace  # nothing to drop, or only markers left to match: the guard will explain
    notes.append(f"ignored EVOLVE-BLOCK marker lines repeated in SEARCH and REPLACE of block {n}")
    return inner_search, inner_replace


def _same_marker(a: str, b: str) -> bool:
    return _is_marker(a) and a.strip() == b.strip()


def _matches(
    lines: list[str], search: list[str], ignore_blank: bool, mode: str
) -> list[tuple[int, int, int]]:
    """(start, end, indent shift) of every window of `lines` equal to `search` under the comparison `mode`."""
    if ignore_blank:
        index = [i for i, line in enumerate(lines) if line.strip()]
        search = [line for line in search if line.strip()]
    else:
        index = list(range(len(lines)))
    if not search:
        return []
    found = []
    first = search[0].strip()
    for k in range(len(index) - len(search) + 1):
        if lines[index[k]].strip() != first:
            continue
        shift = _window_shift([lines[i] for i in index[k : k + len(search)]], search, mode)
        if shift is not None:
            found.append((index[k], index[k + len(search) - 1] + 1, shift))
    return found


def _window_shift(window: list[str], search: list[str], mode: str) -> int | None:
    """Indentation of the parent minus that of the SEARCH when the lines match under `mode`, else None."""
    if mode == "exact":
        return 0 if window == search else None
    if mode == "rstrip":
        return 0 if all(w.rstrip() == s.rstrip() for w, s in zip(window, search, strict=True)) else None
    if any(w.strip() != s.strip() for w, s in zip(window, search, strict=True)):
        return None
    shifts = {_indent(w) - _indent(s) for w, s in zip(window, search, strict=True) if s.strip()}
    return shifts.pop() if len(shifts) == 1 else None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _reindent(lines: list[str], shift: int, parent_line: str) -> list[str]:
    if shift > 0:
        pad = parent_line[:shift]  # the parent's own indentation characters (spaces or tabs)
        return [pad + line if line.strip() else line for line in lines]
    if shift < 0:
        return [line[min(-shift, _indent(line)) :] for line in lines]
    return lines


def _trim_blank_edges(new: list[str], search: list[str]) -> list[str]:
    lead = next((i for i, line in enumerate(search) if line.strip()), 0)
    trail = next((i for i, line in enumerate(reversed(search)) if line.strip()), 0)
    while lead and new and not new[0].strip():
        new, lead = new[1:], lead - 1
    while trail and new and not new[-1].strip():
        new, trail = new[:-1], trail - 1
    return new


def _not_found(n: int, lines: list[str], search: list[str]) -> str:
    """Name the first SEARCH line the parent lacks and the parent line closest to it."""
    stripped = [line.strip() for line in lines]
    missing = next((s.strip() for s in search if s.strip() and s.strip() not in stripped), None)
    if missing is None:
        first = next(s.strip() for s in search if s.strip())
        return (
            f"SEARCH block {n} not found in the parent: each of its lines exists but not together in this "
            f'order (its first line is parent line {stripped.index(first) + 1}: "{first}")'
        )
    close = difflib.get_close_matches(missing, [s for s in stripped if s], n=1, cutoff=0.0)
    if not close:
        return f'SEARCH block {n} not found in the parent: the parent has no line like "{missing}"'
    return (
        f"SEARCH block {n} not found in the parent; closest line: "
        f'{stripped.index(close[0]) + 1}: "{close[0]}" (the SEARCH has "{missing}")'
    )


# --------------------------------------------------------------------------------------------------- rewrites


def extract_code(text: str, language: str = "python") -> str | None:
    """The best fenced code block of a reply, or the whole reply when it is bare Python; else None."""
    return _extract(text, language)[0]


def _extract(text: str, language: str) -> tuple[str | None, str | None]:
    """(code, note about a leniency used)."""
    text = _lf(text)
    blocks = [(tag, body, closed) for tag, body, closed in _fenced_blocks(text) if body.strip()]
    if blocks:
        lang = language.lower()
        wanted = _PYTHON if lang in _PYTHON else _ALIASES.get(lang, {lang})
        # our language's tag first, then untagged blocks (a `bash` block is not the program), then the longest
        tag, body, closed = max(blocks, key=lambda b: (b[0] in wanted, not b[0], len(b[1])))
        return body, None if closed else "the code block had no closing fence; took it to the reply's end"
    if language.lower() in _PYTHON and _looks_like_python(text):
        return text.strip("\n"), "the reply had no code fence; took the whole reply as code"
    return None, None


def _fenced_blocks(text: str) -> list[tuple[str, str, bool]]:
    """(language tag, body, closed) of each fenced block; an unclosed last fence runs to the end."""
    blocks: list[tuple[str, str, bool]] = []
    fence, tag, body = "", "", []
    for line in text.split("\n"):
        if not fence:
            m = _FENCE_RE.match(line)
            if m:
                fence, tag, body = m.group(1), m.group(2).lower(), []
        elif len(line.strip()) >= len(fence) and set(line.strip()) == {fence[0]}:
            blocks.append((tag, "\n".join(body).strip("\n"), True))
            fence = ""
        else:
            body.append(line)
    if fence:
        blocks.append((tag, "\n".join(body).strip("\n"), False))
    return blocks


def _looks_like_python(text: str) -> bool:
    """Parses and holds more than bare expressions: "Sure" parses as a name, but is not a program."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(not isinstance(stmt, ast.Expr) for stmt in tree.body)


def apply_rewrite(parent: str, code: str) -> Edit:
    """Replace the parent's editable regions with the reply's code; the fixed parts stay the parent's own."""
    lines = _lf(parent).split("\n")
    regions = _regions(lines)
    code = _lf(code).strip("\n")
    if not regions:
        child = code + "\n" if parent.endswith("\n") else code
        return _rewrite_edit(parent, child.split("\n"), 1, [])
    reply = code.split("\n")
    notes: list[str] = []
    try:
        marked = bool(_regions(reply))
    except EditError as e:
        raise EditError(f"in the reply's code: {e}") from None
    if marked:
        contents = _contents_from_markers(lines, regions, reply, notes)
    elif (found := _contents_by_fixed_code(lines, regions, reply, notes)) is not None:
        contents = found
        notes.append("took the EVOLVE-BLOCK region(s) from a whole-program reply without markers")
    elif len(regions) == 1:
        _refuse_fixed_redefinitions(lines, regions, code)
        contents = [_fit_indent(reply, lines, regions[0], notes)]
        notes.append("took the reply as the new content of the EVOLVE-BLOCK")
    else:
        raise EditError(
            f"the parent has {len(regions)} EVOLVE-BLOCK regions; a rewrite must keep the "
            "EVOLVE-BLOCK-START/END markers so each region can be placed"
        )
    return _rewrite_edit(parent, _splice(lines, regions, contents), len(regions), notes)


def _rewrite_edit(parent: str, lines: list[str], regions: int, notes: list[str]) -> Edit:
    child = _like(parent, "\n".join(lines))
    if child == parent:
        raise EditError("no change: the rewrite is identical to the parent")
    return Edit(child, "rewrite", regions, notes)


def _contents_from_markers(
    lines: list[str], regions: list[tuple[int, int]], reply: list[str], notes: list[str]
) -> list[list[str]]:
    theirs = _regions(reply)
    if len(theirs) != len(regions):
        raise EditError(
            f"the reply has {len(theirs)} EVOLVE-BLOCK regions but the parent has {len(regions)}; "
            "keep every region"
        )
    outside = [line for i, line in enumerate(reply) if not any(a - 1 <= i <= b for a, b in theirs)]
    _note_discarded(outside, lines, regions, notes)
    return [reply[a:b] for a, b in theirs]


def _contents_by_fixed_code(
    lines: list[str], regions: list[tuple[int, int]], reply: list[str], notes: list[str]
) -> list[list[str]] | None:
    """Find the parent's fixed segments, in order, in the reply; the code between them is the new content."""
    bounds = [0] + [i for a, b in regions for i in (a - 1, b + 1)] + [len(lines)]
    segments = [lines[bounds[i] : bounds[i + 1]] for i in range(0, len(bounds), 2)]
    if not any(line.strip() for seg in segments for line in seg):
        return None
    cuts: list[tuple[int, int]] = []  # span of each fixed segment in the reply
    cursor = 0
    for k, seg in enumerate(segments):
        if not any(line.strip() for line in seg):
            if 0 < k < len(segments) - 1:
                return None  # two adjacent regions: nothing tells where one ends and the next begins
            cuts.append((0, 0) if k == 0 else (len(reply), len(reply)))
            continue
        found = [m for m in _matches(reply, seg, True, "rstrip") if m[0] >= cursor]
        if not found:
            return None
        cuts.append(found[0][:2])
        cursor = found[0][1]
    _note_discarded(reply[: cuts[0][0]] + reply[cuts[-1][1] :], lines, regions, notes)
    return [_strip_blank_edges(reply[cuts[i][1] : cuts[i + 1][0]]) for i in range(len(regions))]


def _strip_blank_edges(lines: list[str]) -> list[str]:
    """The blank lines around a region belong to the fixed segments next to it, which the parent keeps."""
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _note_discarded(
    outside: list[str], lines: list[str], regions: list[tuple[int, int]], notes: list[str]
) -> None:
    fixed = {line.strip() for i, line in enumerate(lines) if not any(a <= i < b for a, b in regions)}
    extra = [line for line in outside if line.strip() and line.strip() not in fixed]
    if extra:
        notes.append(f"discarded {len(extra)} line(s) the reply changed outside the EVOLVE-BLOCK markers")


def _refuse_fixed_redefinitions(lines: list[str], regions: list[tuple[int, int]], code: str) -> None:
    """Bare block content must not redefine fixed Python functions: spliced in, it would shadow them."""
    try:
        parent_tree, reply_tree = ast.parse("\n".join(lines)), ast.parse(code)
    except (SyntaxError, ValueError):
        return  # not Python (or not parsable): nothing reliable to compare
    fixed = {
        node.name
        for node in parent_tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and not any(a < node.lineno <= b for a, b in regions)
    }
    clash = sorted(fixed & {node.name for node in reply_tree.body if hasattr(node, "name")})
    if clash:
        raise EditError(
            f"the rewrite redefines {', '.join(clash)}, which is outside the EVOLVE-BLOCK markers; return "
            "only the code between EVOLVE-BLOCK-START and EVOLVE-BLOCK-END, or the whole program with the "
            "fixed parts unchanged"
        )


def _fit_indent(reply: list[str], lines: list[str], region: tuple[int, int], notes: list[str]) -> list[str]:
    """Indent bare block content like the block it replaces (a block may sit inside a function body)."""
    start, end = region
    old = [line for line in lines[start:end] if line.strip()] or [lines[start - 1]]
    new = [line for line in reply if line.strip()]
    shift = min(map(_indent, old)) - min(map(_indent, new), default=0)
    if shift:
        notes.append(f"re-indented the block content by {shift:+d}")
    return _reindent(reply, shift, old[0])


def _splice(lines: list[str], regions: list[tuple[int, int]], contents: list[list[str]]) -> list[str]:
    out: list[str] = []
    prev = 0
    for (start, end), new in zip(regions, contents, strict=True):
        out += lines[prev:start] + new
        prev = end
    return out + lines[prev:]


# ------------------------------------------------------------------------------------------------ entry point


def apply_reply(parent: str, reply_text: str, mode: str = "auto", language: str = "python") -> Edit:
    """The child of a reply: diff blocks when present (mode "auto"), else a rewrite; Python must parse."""
    if mode not in ("auto", "diff", "rewrite"):
        raise ValueError(f"edit mode must be auto, diff or rewrite, not {mode!r}")
    text = _lf(reply_text or "")
    if not text.strip():
        raise EditError("reply is empty")
    blocks, notes = _parse_diff(text) if mode != "rewrite" else ([], [])
    if blocks:
        edit = apply_diff(parent, blocks)
    elif mode == "diff":
        raise EditError(
            "reply has no SEARCH/REPLACE blocks "
            "(<<<<<<< SEARCH, old lines, =======, new lines, >>>>>>> REPLACE)"
        )
    else:
        code, note = _extract(text, language)
        if code is None:
            raise EditError(_no_code_reason(text))
        edit = apply_rewrite(parent, code)
        notes = [note] if note else []
    edit.notes[:0] = notes
    if language.lower() in _PYTHON:
        _check_parses(edit.source)
    return edit


def _no_code_reason(text: str) -> str:
    if re.search(r"^@@ .* @@", text, re.MULTILINE) and re.search(r"^\+\+\+ ", text, re.MULTILINE):
        return "reply is a unified diff (---/+++/@@); use SEARCH/REPLACE blocks or a full rewrite"
    return "reply has no code block (```...```) and no SEARCH/REPLACE diff"


def _check_parses(source: str) -> None:
    try:
        ast.parse(source)
    except SyntaxError as e:
        where = f': "{e.text.strip()}"' if e.text and e.text.strip() else ""
        raise EditError(f"result does not parse: SyntaxError line {e.lineno}: {e.msg}{where}") from None
    except ValueError as e:  # e.g. null bytes in the source
        raise EditError(f"result does not parse: {e}") from None


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _like(parent: str, text: str) -> str:
    """Give the child the parent's line endings."""
    return text.replace("\n", "\r\n") if "\r\n" in parent else text
