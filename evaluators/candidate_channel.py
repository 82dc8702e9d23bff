"""The channel between a task's evaluator and a candidate that runs in a *separate* sandboxed process.

Why: if the evaluator imported the candidate (OpenEvolve's `evaluate(program_path)`), the candidate could patch
the evaluator, numpy or builtins, or write its own report, and forge any score. Here the evaluator owns the
report: the candidate runs in its own sandbox (the "worker") and only ever answers calls with plain data, which
the evaluator decodes and checks itself.

Contract for a task's evaluate.py (the `call` interface, the default for task.yaml tasks):

    def evaluate(candidate):                       # also evaluate_stage1(candidate), ... for a cascade
        centers, radii = candidate.call("construct_packing")        # a top-level function of the program
        bins = candidate.call("driver:pack", items, 150)             # driver.pack(program_module, items, 150),
                                                                     # driver.py listed in task.yaml candidate_files
        candidate.source                                             # the program text (for AST checks)
        return {"score": ..., "error": "why it is invalid"}         # floats = metrics, strings = artifacts

    def probes():                                  # optional: inputs for functional hashing
        return [("priority", (3.0, [1.0, 2.0])), ...]

Values that cross: None, bool, int, float (NaN/inf too), str, list, tuple, dict with str keys, numpy arrays of
bool/int/float dtype (numpy is imported only by a process that uses it). Anything else, an exception in the candidate, a crash or a timeout raises
`CandidateError` in the evaluator (its `kind` says which); evaluators normally let it propagate.

Wire format: JSON frames (never pickle: decoding must not run code), each behind a header of its length and a
call id. Every call gets a fresh random id and the worker's reply carries it back; a reader skips, unread and
unparsed, any frame with another id. So frames a candidate writes onto its pipe itself, or a reply nobody read
(the engine's probes stop reading at their budget), can never be taken for the answer to a later call: only the
reply to *this* call counts. (A candidate could still learn an id inside its own process and answer with it;
that is no more than answering the call, which it may do with any value anyway.) Standard library only, numpy
when it is importable, so this file runs in the sandboxed interpreter on both sides.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import select
import struct
import sys
import time
import traceback
import types
from typing import Any


def _numpy():
    """numpy if this process uses it: a value can only be an ndarray if numpy was imported by someone, and a
    process that never needs it should not pay its ~0.1 s import."""
    return sys.modules.get("numpy")

MAX_FRAME = 64 << 20  # bytes per message; a bigger reply is an error, not an allocation
_HEADER = struct.Struct("<IQ")  # body size, call id (0: not a reply to a call, e.g. the worker's "ready")
_ARRAY_KINDS = "biuf"  # bool, int, uint, float


class CandidateError(Exception):
    """A call into the candidate failed. kind: raised | timeout | crashed | bad-value."""

    def __init__(self, kind: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.kind, self.message, self.detail = kind, message, detail


# ---- values -----------------------------------------------------------------------------------------------------
def encode(value: Any, _depth: int = 0) -> Any:
    """Plain data to a JSON-safe tree; raises TypeError for anything else."""
    if _depth > 64:
        raise TypeError("value nested deeper than 64 levels")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 1 << 63 else {"__int__": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    np = _numpy()
    if np is not None:
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in _ARRAY_KINDS:
                raise TypeError(f"numpy array of dtype {value.dtype} (only bool/int/float arrays cross)")
            flat = [encode(x) for x in value.ravel().tolist()]
            return {"__ndarray__": flat, "dtype": value.dtype.str, "shape": list(value.shape)}
        if isinstance(value, np.generic) and value.dtype.kind in _ARRAY_KINDS:
            return encode(value.item(), _depth + 1)
    if isinstance(value, (list, tuple)):
        items = [encode(x, _depth + 1) for x in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("dict keys must be strings")
        if any(k.startswith("__") for k in value):
            raise TypeError("dict keys may not start with '__'")
        return {k: encode(v, _depth + 1) for k, v in value.items()}
    raise TypeError(f"a value of type {type(value).__name__} cannot cross to the evaluator")


def decode(tree: Any) -> Any:
    """Inverse of encode; rejects anything encode would not have produced."""
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, list):
        return [decode(x) for x in tree]
    if isinstance(tree, dict):
        if "__ndarray__" in tree:
            return _decode_array(tree)
        if "__tuple__" in tree:
            return tuple(decode(x) for x in tree["__tuple__"])
        if "__float__" in tree:
            return float(str(tree["__float__"]))
        if "__int__" in tree:
            return int(str(tree["__int__"]))
        return {str(k): decode(v) for k, v in tree.items()}
    raise TypeError(f"unexpected {type(tree).__name__} in a message")


def _decode_array(tree: dict) -> Any:
    dtype, shape, flat = str(tree.get("dtype")), tree.get("shape"), tree.get("__ndarray__")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise TypeError("bad array shape")
    items = [decode(x) for x in flat] if isinstance(flat, list) else None
    if items is None or math.prod(shape) != len(items):
        raise TypeError("array data does not match its shape")
    try:
        import numpy as np
    except ImportError:  # an evaluator without numpy gets nested lists
        return items
    dt = np.dtype(dtype)
    if dt.kind not in _ARRAY_KINDS:
        raise TypeError(f"array dtype {dtype} is not allowed")
    return np.array(items, dtype=dt).reshape(shape)


# ---- frames -----------------------------------------------------------------------------------------------------
def write_frame(fd: int, message: dict, call_id: int = 0) -> None:
    data = json.dumps(message, allow_nan=False, separators=(",", ":")).encode()
    if len(data) > MAX_FRAME:
        raise TypeError(f"message of {len(data)} bytes exceeds the {MAX_FRAME} byte limit")
    write_all(fd, _HEADER.pack(len(data), call_id) + data)


def write_all(fd: int, data: bytes) -> None:
    """All of `data` to `fd` (a pipe takes at most its buffer per write)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_frame(fd: int, deadline: float | None = None, max_bytes: int = MAX_FRAME) -> dict | None:
    """The next message whatever its call id, or None at end of stream; raises TimeoutError past `deadline`
    (time.monotonic()) and ValueError for a message over `max_bytes` (before reading it) or one that is not
    a JSON object."""
    frame = _read_frame(fd, deadline, max_bytes)
    return None if frame is None else _parse(frame[1])


def call(request_fd: int, reply_fd: int, request: dict, deadline: float | None = None,
         max_bytes: int = MAX_FRAME) -> dict | None:
    """Send `request` under a fresh call id and return the reply that carries it (None at end of stream).
    Frames with other ids are skipped without being read into memory; all frames together, skipped or not,
    may take `max_bytes` (ValueError beyond)."""
    call_id = int.from_bytes(os.urandom(8), "little") | 1  # never 0
    write_frame(request_fd, request, call_id)
    budget = max_bytes
    while True:
        header = _read_exact(reply_fd, _HEADER.size, deadline)
        if header is None:
            return None
        size, frame_id = _HEADER.unpack(header)
        budget -= size
        if budget < 0:
            raise ValueError(f"replies of more than {max_bytes} bytes")
        if frame_id == call_id:
            return _parse(_read_body(reply_fd, size, deadline))
        _skip(reply_fd, size, deadline)


def _read_frame(fd: int, deadline: float | None, max_bytes: int) -> tuple[int, bytes] | None:
    """(call id, body) of the next frame, or None at end of stream."""
    header = _read_exact(fd, _HEADER.size, deadline)
    if header is None:
        return None
    size, call_id = _HEADER.unpack(header)
    if size > max_bytes:
        raise ValueError(f"message of {size} bytes exceeds the {max_bytes} byte limit")
    return call_id, _read_body(fd, size, deadline)


def _parse(body: bytes) -> dict:
    try:
        message = json.loads(body)
    except RecursionError:  # a few hundred KB of brackets: hostile, and no reason to crash the reader
        raise ValueError("message nested too deeply") from None
    if not isinstance(message, dict):
        raise ValueError("a message must be a JSON object")
    return message


def _skip(fd: int, size: int, deadline: float | None) -> None:
    while size > 0:
        size -= len(_read_body(fd, min(size, 1 << 20), deadline))


def _read_body(fd: int, size: int, deadline: float | None) -> bytes:
    """`size` bytes of a message whose header has been read: an end of stream now is an error."""
    body = _read_exact(fd, size, deadline)
    if body is None:
        raise EOFError("stream ended inside a message")
    return body


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    """`size` bytes, or None at an end of stream before the first of them."""
    chunks, got = [], 0
    while got < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(size - got, 1 << 20))
        if not chunk:
            if got:
                raise EOFError("stream ended inside a message")
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# ---- the evaluator's side ---------------------------------------------------------------------------------------
class Candidate:
    """What `evaluate(candidate)` receives: calls go to the candidate's worker process over two pipes."""

    Error = CandidateError

    def __init__(self, source: str, request_fd: int, reply_fd: int, deadline: float | None = None) -> None:
        self.source = source
        self._request_fd, self._reply_fd, self._deadline = request_fd, reply_fd, deadline
        self._dead: CandidateError | None = None

    def call(self, function: str, *args: Any, timeout_s: float | None = None) -> Any:
        """Run `function(*args)` in the candidate's process and return its (decoded, plain-data) result."""
        if self._dead is not None:
            raise self._dead
        try:
            request = {"call": str(function), "args": encode(list(args))}
        except TypeError as exc:
            raise TypeError(f"cannot send the arguments of {function}: {exc}") from None
        deadline = self._deadline
        if timeout_s is not None:
            deadline = min(deadline or math.inf, time.monotonic() + timeout_s)
        try:
            reply = call(self._request_fd, self._reply_fd, request, deadline)
        except TimeoutError:
            self._dead = CandidateError("timeout", f"{function}() did not return in time")
            raise self._dead from None
        except (OSError, EOFError, ValueError) as exc:
            self._dead = CandidateError("crashed", f"the candidate's process ended during {function}() ({exc})")
            raise self._dead from None
        if reply is None:
            self._dead = CandidateError("crashed", f"the candidate's process ended during {function}()")
            raise self._dead
        return _result(function, reply)


def _result(function: str, reply: dict) -> Any:
    if "error" in reply:
        raise CandidateError(str(reply.get("kind", "raised")), str(reply["error"])[:2000],
                             str(reply.get("traceback", ""))[-4000:])
    try:
        return decode(reply.get("value"))
    except (TypeError, ValueError, OverflowError) as exc:
        raise CandidateError("bad-value", f"{function}() returned an unusable value: {exc}") from None


class InProcessCandidate:
    """The same interface with the program loaded in *this* process, for unit tests of an evaluator's logic.

    Values still go through encode/decode, so a test sees the same types and errors the sandbox would give.
    Never use it on untrusted code: it has no isolation at all.
    """

    Error = CandidateError

    def __init__(self, source: str, task_dir: str | os.PathLike | None = None) -> None:
        self.source = source
        self._worker = Worker(source, str(task_dir) if task_dir else None)

    def call(self, function: str, *args: Any, timeout_s: float | None = None) -> Any:
        return _result(function, json.loads(json.dumps(self._worker.handle({"call": function,
                                                                            "args": encode(list(args))}))))


# ---- the candidate's side ---------------------------------------------------------------------------------------
class Worker:
    """Loads the program (and the task's driver modules beside it) and answers calls."""

    def __init__(self, source: str, module_dir: str | None, filename: str = "program.py") -> None:
        self.module_dir = module_dir
        self.program = types.ModuleType("program")
        self.program.__file__ = filename
        self._drivers: dict[str, types.ModuleType] = {}
        self._load_error: dict | None = None
        try:
            exec(compile(source, filename, "exec"), self.program.__dict__)
        except BaseException as exc:  # noqa: BLE001 - a program that fails to import answers every call so
            self._load_error = _error_reply(exc, "raised", prefix="importing the program: ")

    def handle(self, request: dict) -> dict:
        if self._load_error is not None:
            return self._load_error
        name = str(request.get("call", ""))
        try:
            fn, lead = self._resolve(name)
            args = decode(request.get("args", []))
        except (LookupError, TypeError, ValueError) as exc:
            return {"error": str(exc), "kind": "raised"}
        try:
            value = fn(*lead, *args)
        except BaseException as exc:  # noqa: BLE001 - the candidate's failures are the evaluator's to judge
            return _error_reply(exc, "raised")
        try:
            return {"value": encode(value)}
        except (TypeError, RecursionError) as exc:
            return {"error": f"{name}() returned an unusable value: {exc}", "kind": "bad-value"}

    def _resolve(self, name: str) -> tuple[Any, tuple]:
        if ":" in name:
            module_name, _, fn_name = name.partition(":")
            return getattr(self._driver(module_name), fn_name), (self.program,)
        fn = self.program.__dict__.get(name)
        if not callable(fn):
            raise LookupError(f"the program defines no function {name}()")
        return fn, ()

    def _driver(self, module_name: str) -> types.ModuleType:
        if module_name not in self._drivers:
            path = os.path.join(self.module_dir or ".", f"{module_name}.py")
            if not module_name.isidentifier() or not os.path.isfile(path):
                raise LookupError(f"no driver module {module_name}.py (list it in task.yaml candidate_files)")
            spec = importlib.util.spec_from_file_location(f"driver_{module_name}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._drivers[module_name] = module
        return self._drivers[module_name]


def _error_reply(exc: BaseException, kind: str, prefix: str = "") -> dict:
    return {"error": f"{prefix}{type(exc).__name__}: {exc}"[:2000], "kind": kind,
            "traceback": traceback.format_exc(limit=-6)[-4000:]}


def serve(program_path: str, request_fd: int, reply_fd: int) -> None:
    """The worker's main loop: answer requests until the evaluator closes its end.

    It says "ready" before loading the program, so the engine knows the fds have arrived (and may close its
    copies) however long the program's import-time code takes."""
    write_frame(reply_fd, {"ready": True})
    with open(program_path, encoding="utf-8") as f:
        source = f.read()
    worker = Worker(source, os.path.dirname(os.path.abspath(program_path)), os.path.basename(program_path))
    while (frame := _read_frame(request_fd, None, MAX_FRAME)) is not None:
        call_id, body = frame
        write_frame(reply_fd, worker.handle(_parse(body)), call_id)


if __name__ == "__main__":  # python -I candidate_channel.py PROGRAM REQUEST_FD REPLY_FD
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
