"""Runtime guards around a kernel candidate that shares the timing process: tampering and threads.

Why: the candidate must run where its kernels are timed, so it could replace the timer, the comparison
functions or the harness's own code, or hide work in a thread. `Snapshot` records the identity of every
callable the harness relies on (and the code objects of the harness's functions, and torch's numeric settings)
before the candidate loads; `changes()` names whatever differs afterwards, and `restore()` puts the originals
back so the report itself is written by untouched code. `ThreadWatch` counts threads the candidate starts
(even ones that end before anyone looks) and child processes it leaves.
"""

from __future__ import annotations

import _thread
import builtins
import hashlib
import json
import math
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

import evaluators.kernel_device  # noqa: F401 - before the imports below, which load triton

# isort: split
import torch._dynamo  # its first import re-wraps torch.manual_seed: it must happen before any Snapshot
import torch.nn.functional

_MISSING = object()


def watched_objects() -> dict[str, object]:
    """The modules and classes whose callables the harness uses: timers, synchronization, comparisons."""
    objects: dict[str, object] = {
        "time": time, "json": json, "os": os, "builtins": builtins, "threading": threading,
        "hashlib": hashlib,
        "math": math, "torch": torch, "torch.Tensor": torch.Tensor, "torch.nn.Module": torch.nn.Module,
        "torch.nn.functional": torch.nn.functional, "torch.testing": torch.testing, "torch.cuda": torch.cuda,
        "torch.cuda.Event": torch.cuda.Event, "torch.cuda.Stream": torch.cuda.Stream,
    }
    for name, module in list(sys.modules.items()):
        if name.startswith("evaluators.kernel") or name in ("harness", "__main__", "candidate_channel"):
            objects[name] = module
    return objects


def numeric_settings() -> dict[str, object]:
    """torch's global switches that change the precision of library math (TF32, reduced precision sums)."""
    matmul = torch.backends.cuda.matmul
    return {
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "cuda.matmul.allow_tf32": matmul.allow_tf32,
        "cuda.matmul.allow_fp16_reduced_precision_reduction": matmul.allow_fp16_reduced_precision_reduction,
        "cuda.matmul.allow_bf16_reduced_precision_reduction": matmul.allow_bf16_reduced_precision_reduction,
        "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
        "default_dtype": torch.get_default_dtype(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
    }


class Snapshot:
    """Identity of the harness's callables and of its functions' code, taken before the candidate loads."""

    def __init__(self) -> None:
        self._objects = watched_objects()
        self._values: dict[tuple[str, str], object] = {}
        self._code: dict[str, tuple[Callable[..., Any], types.CodeType]] = {}
        for label, obj in self._objects.items():
            for attr, value in _callables(obj):
                self._values[(label, attr)] = value
                code = getattr(value, "__code__", None)
                if isinstance(code, types.CodeType) and _is_harness(value):
                    self._code[f"{label}.{attr}"] = (value, code)
        self._settings = numeric_settings()

    def changes(self) -> list[str]:
        """What was replaced, deleted or rewritten since the snapshot (empty when untouched)."""
        found = []
        for (label, attr), value in self._values.items():
            now = _lookup(self._objects[label], attr)
            if now is not value:
                found.append(f"{label}.{attr} was {'deleted' if now is _MISSING else 'replaced'}")
        found += [f"{name} had its code rewritten"
                  for name, (fn, code) in self._code.items() if fn.__code__ is not code]
        settings = numeric_settings()
        found += [f"torch setting {key} changed from {value!r} to {settings[key]!r}"
                  for key, value in self._settings.items() if settings[key] != value]
        return found

    def restore(self) -> None:
        """Put every original back: the rest of the evaluation and the report run on the harness's code."""
        for (label, attr), value in self._values.items():
            if _lookup(self._objects[label], attr) is not value:
                _force_set(self._objects[label], attr, value)
        for fn, code in self._code.values():
            fn.__code__ = code
        torch.set_float32_matmul_precision(str(self._settings["float32_matmul_precision"]))
        matmul = torch.backends.cuda.matmul
        matmul.allow_tf32 = bool(self._settings["cuda.matmul.allow_tf32"])
        matmul.allow_fp16_reduced_precision_reduction = bool(
            self._settings["cuda.matmul.allow_fp16_reduced_precision_reduction"])
        matmul.allow_bf16_reduced_precision_reduction = bool(
            self._settings["cuda.matmul.allow_bf16_reduced_precision_reduction"])
        torch.backends.cudnn.allow_tf32 = bool(self._settings["cudnn.allow_tf32"])
        torch.set_default_dtype(self._settings["default_dtype"])  # type: ignore[arg-type]
        torch.use_deterministic_algorithms(bool(self._settings["deterministic"]))


def _callables(obj: object) -> Iterable[tuple[str, object]]:
    names = vars(obj) if isinstance(obj, (types.ModuleType, type)) else {}
    for attr in list(names):
        value = _lookup(obj, attr)
        if value is not _MISSING and (callable(value) or isinstance(value, (staticmethod, classmethod))):
            yield attr, value


def _lookup(obj: object, attr: str) -> object:
    """The attribute as stored (class dicts hold descriptors, which `getattr` would bind anew each time)."""
    if isinstance(obj, type):
        return obj.__dict__.get(attr, _MISSING)
    return vars(obj).get(attr, _MISSING)


def _force_set(obj: object, attr: str, value: object) -> None:
    try:
        setattr(obj, attr, value)
    except (TypeError, AttributeError):  # a builtin type's slot: only type.__setattr__ on heap types works
        type.__setattr__(obj, attr, value)  # type: ignore[arg-type]


def _is_harness(fn: object) -> bool:
    """Functions defined in this package's files (their code is what a candidate could rewrite)."""
    code = getattr(fn, "__code__", None)
    return isinstance(code, types.CodeType) and Path(code.co_filename).parent == Path(__file__).parent


class ThreadWatch:
    """Counts threads started while armed (by wrapping the thread-start primitives), and child processes."""

    _PRIMITIVES = ((_thread, "start_new_thread"), (_thread, "start_joinable_thread"),
                   (threading, "_start_new_thread"), (threading, "_start_joinable_thread"))

    def __init__(self) -> None:
        self.started: list[str] = []
        self._originals = [(mod, name, getattr(mod, name))
                           for mod, name in self._PRIMITIVES if hasattr(mod, name)]
        self._children = _children()

    def __enter__(self) -> ThreadWatch:
        for module, name, original in self._originals:
            setattr(module, name, self._counting(original))
        return self

    def __exit__(self, *exc: object) -> None:
        for module, name, original in self._originals:
            setattr(module, name, original)

    def _counting(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def start(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            self.started.append(_thread_origin(function))
            return original(function, *args, **kwargs)
        return start

    def problems(self) -> list[str]:
        """Threads started by candidate code and child processes it left running."""
        found = [f"started a thread ({origin})" for origin in self.started if not _library_origin(origin)]
        new_children = _children() - self._children
        if new_children:
            found.append(f"left {len(new_children)} child process(es) running")
        return found


def _thread_origin(function: Callable[..., Any]) -> str:
    """Where a thread's code lives: the `target` of a threading.Thread, else the function itself."""
    owner = getattr(function, "__self__", None)
    target = getattr(owner, "_target", None) or function
    code = getattr(target, "__code__", None)
    return code.co_filename if code is not None else repr(target)


def _library_origin(origin: str) -> bool:
    """Threads that torch or Triton start for themselves (their code lives in those packages)."""
    parts = Path(origin).parts
    installed = "site-packages" in parts or "dist-packages" in parts
    return installed and any(p in parts for p in ("torch", "triton"))


def _children() -> set[int]:
    pids: set[int] = set()
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as f:
                pids.update(int(p) for p in f.read().split())
    except OSError:
        pass
    return pids


def digest(values: Iterable[object]) -> str:
    """sha256 over the bytes of every tensor (the repr of anything else): inputs before and after a call."""
    h = hashlib.sha256()
    for value in values:
        if isinstance(value, torch.Tensor):
            raw = value.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8)
            h.update(str((tuple(value.shape), value.dtype, value.stride())).encode())
            h.update(raw.numpy().tobytes())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()
