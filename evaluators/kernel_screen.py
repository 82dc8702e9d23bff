"""Static screen of a kernel candidate's source, run before any of its code executes.

Why: the candidate runs in the timing process (it must: its kernels are timed there), so Python-level reach
into the harness has to be cut before it starts. The screen rejects what a kernel never needs and a cheat
always does: imports beyond the kernel toolkits, dynamic code and attribute tricks, stream and timer objects,
reading tensor values back to the host, precision switches. The runtime guards (kernel_guards.py) catch the
same cheats by their effect; the screen makes the ones a runtime check cannot see (a raw write to the report's
file descriptor, say) unreachable from plain Python.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

# Roots a candidate may import; a dotted import must start with one of these.
ALLOWED_IMPORTS = ("torch", "triton", "math", "typing", "functools", "numbers", "dataclasses", "itertools",
                   "operator", "__future__", "numpy", "cupy", "cuda.core", "cuda.bindings")
_LOAD_INLINE_NAMES = ("cpp_extension", "load_inline")
_NO_LOAD_INLINE = "host C++ extensions are not allowed in this task (use Triton, NVRTC or CuPy)"
_BUILTINS = {"exec", "eval", "compile", "__import__", "open", "globals", "locals", "vars", "setattr",
             "delattr", "getattr", "breakpoint", "input", "exit", "quit", "__builtins__", "__loader__",
             "__spec__"}
_DUNDERS_ALLOWED = {"__init__", "__name__"}
# attribute name -> why a kernel has no use for it
_ATTRIBUTES = {
    "Stream": "creates a CUDA stream (work on another stream escapes the timer)",
    "ExternalStream": "creates a CUDA stream (work on another stream escapes the timer)",
    "stream": "switches CUDA streams (work on another stream escapes the timer)",
    "set_stream": "switches CUDA streams (work on another stream escapes the timer)",
    "Event": "uses timing events (the harness owns timing)",
    "backends": "changes torch's numeric settings (TF32, reduced-precision reductions)",
    "set_float32_matmul_precision": "changes torch's matmul precision",
    "compile": "compiles with torch.compile (a library code generator, not the candidate's kernel)",
    "ops": "calls torch.ops (library kernels, outside the dispatcher checks)",
    "library": "registers torch library ops",
    "profiler": "uses the profiler (the harness owns it)",
    "item": "reads a tensor value back to the host (value-dependent shortcuts)",
    "tolist": "reads tensor values back to the host (value-dependent shortcuts)",
    "numpy": "reads tensor values back to the host (value-dependent shortcuts)",
    "cpu": "copies tensors to the host (value-dependent shortcuts)",
}


def screen(source: str, *, allow_load_inline: bool = False, extra_modules: Iterable[str] = ()) -> list[str]:
    """Reasons the source is rejected, each with its line; empty when it passes."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"line {exc.lineno}: syntax error: {exc.msg}"]
    allowed = (*ALLOWED_IMPORTS, *extra_modules)
    modules: set[str] = set()  # names bound by imports: private attributes of these are off limits
    problems: list[str] = []

    def bad(node: ast.AST, why: str) -> None:
        problems.append(f"line {getattr(node, 'lineno', '?')}: {why}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                _check_import(alias.name, allowed, allow_load_inline, node, bad)
                modules.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                bad(node, "relative import (a candidate is a single file)")
            _check_import(base, allowed, allow_load_inline, node, bad)
            for alias in node.names:
                if alias.name == "*":
                    bad(node, f"`from {base} import *` hides what is imported")
                elif alias.name.startswith("_"):
                    bad(node, f"imports the private name `{base}.{alias.name}`")
                elif alias.name in _LOAD_INLINE_NAMES and not allow_load_inline:
                    bad(node, f"imports `{alias.name}`: {_NO_LOAD_INLINE}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Name) and node.id in _BUILTINS:
            bad(node, f"uses `{node.id}` (no dynamic code or attribute access in a kernel candidate)")
        elif isinstance(node, ast.Attribute):
            _check_attribute(node, modules, allow_load_inline, bad)
    return problems


def _check_import(name: str, allowed: tuple[str, ...], allow_load_inline: bool, node: ast.AST, bad) -> None:
    if not any(name == root or name.startswith(root + ".") for root in allowed):
        bad(node, f"imports `{name}`; a kernel candidate may import only {', '.join(ALLOWED_IMPORTS)}")
    elif any(part.startswith("_") and part != "__future__" for part in name.split(".")):
        bad(node, f"imports the private module `{name}`")
    elif name.startswith("torch.utils.cpp_extension") and not allow_load_inline:
        bad(node, f"imports `{name}`: {_NO_LOAD_INLINE}")


def _check_attribute(node: ast.Attribute, modules: set[str], allow_load_inline: bool, bad) -> None:
    attr = node.attr
    if attr.startswith("__") and attr.endswith("__") and attr not in _DUNDERS_ALLOWED:
        bad(node, f"touches `{attr}` (object internals)")
    elif attr in _ATTRIBUTES:
        bad(node, f"`.{attr}`: {_ATTRIBUTES[attr]}")
    elif attr in _LOAD_INLINE_NAMES and not allow_load_inline:
        bad(node, f"`.{attr}`: {_NO_LOAD_INLINE}")
    elif attr == "load" and isinstance(node.value, ast.Name) and node.value.id == "torch":
        bad(node, "`torch.load` unpickles (runs arbitrary code)")
    elif attr.startswith("_") and _root(node) in modules:
        bad(node, f"`.{attr}`: private internals of an imported module")


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None
