"""A cache eviction policy: which entry to drop when a new key must come in and the cache is full."""
import numpy as np


# EVOLVE-BLOCK-START
def choose_victim(cache: dict, key: int, now: int, state: dict) -> int:
    """Return the slot index (0 <= i < capacity) of the entry to evict; this one is LRU.

    cache: int arrays over the slots: "keys", "last_access" (time of the latest request), "inserted" (time the
    key came in), "count" (requests since it came in). key: the requested key (not in the cache); now: the
    request's time (its index in the trace); state: a dict kept across calls within one trace.
    """
    return int(np.argmin(cache["last_access"]))
# EVOLVE-BLOCK-END
