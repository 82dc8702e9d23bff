"""Time count_pairs_with_sum on a fixed input; print the metrics as one JSON line (Evolve's --score contract)."""

import json
import random
import time

from slowstats import count_pairs_with_sum

rng = random.Random(1)
values = [rng.randint(-500, 500) for _ in range(1500)]
best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    pairs = count_pairs_with_sum(values, 17)
    best = min(best, time.perf_counter() - start)
print(json.dumps({"time_s": best, "pairs": pairs}))
