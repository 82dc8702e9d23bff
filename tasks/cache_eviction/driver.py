"""Runs in the candidate's process: the cache's bookkeeping, and the calls to the candidate's policy.

The evaluator sends the trace in pieces that end at a request needing an eviction, so the policy never sees a
request before its decision is due (it cannot read the future, as Belady's offline optimum does). What this
module reports back is only the victim; the evaluator keeps its own copy of the cache and checks every one.
"""

from __future__ import annotations

import numpy as np

_cache: dict = {}


def start(program, capacity: int) -> None:
    """An empty cache of `capacity` slots and a fresh policy state, for a new trace."""
    _cache.clear()
    _cache.update(slot_of={}, state={}, keys=np.full(capacity, -1, dtype=np.int64),
                  last_access=np.zeros(capacity, dtype=np.int64), inserted=np.zeros(capacity, dtype=np.int64),
                  count=np.zeros(capacity, dtype=np.int64))


def advance(program, now: int, requests: list[int]) -> int | None:
    """Serve `requests` (the first at time `now`); return the key evicted for the last one, if any."""
    slot_of, keys = _cache["slot_of"], _cache["keys"]
    victim = None
    for key in requests:
        slot = slot_of.get(key)
        if slot is not None:
            _cache["last_access"][slot] = now
            _cache["count"][slot] += 1
        else:
            if len(slot_of) < len(keys):
                slot = len(slot_of)
            else:
                slot = _choose(program, key, now)
                victim = int(keys[slot])
                del slot_of[victim]
            slot_of[key] = slot
            keys[slot] = key
            _cache["last_access"][slot] = _cache["inserted"][slot] = now
            _cache["count"][slot] = 1
        now += 1
    return victim


def _choose(program, key: int, now: int) -> int:
    view = {name: _cache[name].copy() for name in ("keys", "last_access", "inserted", "count")}
    slot = program.choose_victim(view, key, now, _cache["state"])
    if isinstance(slot, (bool, np.bool_)) or not isinstance(slot, (int, np.integer)) or not 0 <= slot < len(view["keys"]):
        raise ValueError(f"choose_victim() must return a slot index in [0, {len(view['keys'])}); got {slot!r}")
    return int(slot)
