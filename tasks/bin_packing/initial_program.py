"""Priority function for online 1-D bin packing (FunSearch's bin packing problem)."""
import numpy as np


# EVOLVE-BLOCK-START
def priority(item: float, bins: np.ndarray) -> np.ndarray:
    """Score each candidate bin for `item`; the item goes to the highest score.

    `bins` holds the remaining capacities of the open bins that can take the item, followed by one empty bin.
    This seed is best fit: prefer the bin that the item leaves with the least room.
    """
    return -(bins - item)
# EVOLVE-BLOCK-END
