"""Evaluator for the cap_set task: size of the cap set in Z_3^8 built greedily from the candidate's priority.

The greedy builder (driver.py) runs in the candidate's process, so its output is untrusted: this module
re-checks that the returned rows are distinct vectors of Z_3^8 with no three on a line, and counts them
itself.
"""

from __future__ import annotations

import numpy as np

N = 8
BEST_KNOWN = 512  # FunSearch (2023)
_POWERS = 3 ** np.arange(N - 1, -1, -1, dtype=np.int64)
_PAIRS_PER_BLOCK = 1 << 16  # pairs checked per vectorized block: bounds memory, stops early on an invalid set


def check_cap_set(rows) -> tuple[int, str | None]:
    """Return (size, None) for a valid cap set in Z_3^N, else (0, reason)."""
    try:
        a = np.asarray(rows)
    except Exception as exc:  # ragged lists and the like
        return 0, f"the cap set is not an array: {type(exc).__name__}: {exc}"
    if a.size == 0:
        return 0, "the cap set is empty"
    if a.ndim != 2 or a.shape[1] != N:
        return 0, f"the cap set has shape {a.shape}; expected (k, {N})"
    if a.dtype.kind not in "iu":
        return 0, f"the cap set's entries must be integers, got dtype {a.dtype}"
    a = a.astype(np.int64)
    if ((a < 0) | (a > 2)).any():
        row = int(((a < 0) | (a > 2)).any(axis=1).argmax())
        return 0, f"vector {row} {a[row].tolist()} has an entry outside {{0, 1, 2}}"
    index = a @ _POWERS
    member = np.zeros(3**N, dtype=bool)
    member[index] = True
    if member.sum() != len(a):
        return 0, f"the cap set repeats vectors ({len(a) - int(member.sum())} duplicates)"
    # For distinct a, b the only c with a + b + c = 0 (mod 3) is c = -(a + b), and it differs from both.
    chunk = max(1, _PAIRS_PER_BLOCK // len(a))
    for start in range(0, len(a), chunk):
        block = a[start:start + chunk]
        thirds = ((-(block[:, None, :] + a[None, :, :])) % 3) @ _POWERS
        hit = member[thirds]
        hit &= np.arange(len(a))[None, :] > np.arange(start, start + len(block))[:, None]
        if hit.any():
            i, j = np.unravel_index(int(hit.argmax()), hit.shape)
            i = start + int(i)
            c = (-(a[i] + a[j])) % 3
            return 0, f"vectors {a[i].tolist()}, {a[j].tolist()} and {c.tolist()} sum to 0 mod 3 (a line)"
    return len(a), None


def evaluate(candidate) -> dict:
    """Build the cap set in the candidate's process, then validate and count it here."""
    size, reason = check_cap_set(candidate.call("driver:build_cap_set", N))
    if reason is not None:
        return {"error": reason}
    return {"cap_set_size": float(size), "target_ratio": size / BEST_KNOWN}


def probes() -> list[tuple[str, tuple]]:
    """A few fixed vectors: candidates whose priorities agree on them are likely the same heuristic."""
    vectors = [(0,) * N, (1,) * N, (2,) * N,
               (0, 1, 2, 0, 1, 2, 0, 1), (2, 2, 0, 1, 0, 0, 1, 2), (1, 0, 0, 0, 0, 0, 0, 2)]
    return [("priority", (v, N)) for v in vectors]
