"""An optimizer: the rule that turns each gradient into a parameter update."""
import numpy as np


# EVOLVE-BLOCK-START
def update(grad: np.ndarray, state: dict, step: int, lr: float) -> tuple[np.ndarray, dict]:
    """Return (delta, state): the parameters move by delta; state is {} at step 1 and is handed back next step."""
    return -lr * grad, state
# EVOLVE-BLOCK-END
