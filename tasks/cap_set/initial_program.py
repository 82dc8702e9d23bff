"""Priority function for a greedy cap set construction in Z_3^8 (FunSearch's cap set problem)."""
import numpy as np


# EVOLVE-BLOCK-START
def priority(el: tuple[int, ...], n: int) -> float:
    """How early the greedy builder should try to add vector `el` (entries in {0, 1, 2}) to the cap set."""
    return 0.0
# EVOLVE-BLOCK-END
