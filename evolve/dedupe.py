"""Textual dedupe: one hash for programs that differ only in formatting, comments or docstrings.

The controller looks a child's hash up before evaluating it and stores an exact repeat as
`rejected-duplicate`, pointing at the first candidate with that hash. Small models repeat their parent (or an
earlier child) with cosmetic changes very often, so this saves whole evaluations for the price of a parse.

Identifiers are kept on purpose: renaming a variable gives a different hash. Renaming is not always
behaviour-neutral (the evaluator calls functions by name; globals, attributes, keyword arguments and `getattr`
strings are visible to other code), so a safe alpha-renaming normalizer must rename only function-local
bindings. That is a later improvement; the functional hash (outputs on probe inputs) catches most renamed
duplicates meanwhile.

Python hashes depend on the `ast` module of the running Python minor version: a study resumed under another
version may miss some duplicates (it never merges distinct programs).
"""

from __future__ import annotations

import ast
import hashlib
import re

_PYTHON = {"python", "python3", "py"}
_DOCSTRING_OWNERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def code_hash(source: str, language: str = "python") -> str:
    """sha256 hex digest (64 characters) of the normalized program: its AST for Python, else its text."""
    if language.lower() in _PYTHON:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass  # an unparsable child still gets a stable key; the evaluator will report why it fails
        else:
            return _sha256("python-ast", ast.dump(_strip_docstrings(tree), include_attributes=False))
    return _sha256("text", _normalize_text(source))


def _strip_docstrings(tree: ast.Module) -> ast.Module:
    """Drop module, class and function docstrings: they document, they do not run."""
    for node in ast.walk(tree):
        if isinstance(node, _DOCSTRING_OWNERS) and node.body and _is_docstring(node.body[0]):
            node.body = node.body[1:] or [ast.Pass()]  # `def f(): "doc"` is `def f(): pass`
    return tree


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _normalize_text(source: str) -> str:
    """Newlines unified, trailing spaces gone, runs of blank lines collapsed to one, blank edges trimmed."""
    lines = [line.rstrip() for line in source.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _sha256(kind: str, text: str) -> str:
    """The kind is hashed too, so an AST dump and a text can never share a key."""
    return hashlib.sha256(f"{kind}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
