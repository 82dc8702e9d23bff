"""A non-negative step function on [-1/4, 1/4] with a small autoconvolution peak (AlphaEvolve's first
autocorrelation inequality)."""
import numpy as np


# EVOLVE-BLOCK-START
def construct() -> np.ndarray:
    """Heights of equal-width steps covering [-1/4, 1/4] (at most 2000, all >= 0, not all 0).

    This seed is the constant function, whose ratio max(f*f) / (integral of f)^2 is exactly 2.
    """
    return np.ones(100)
# EVOLVE-BLOCK-END
