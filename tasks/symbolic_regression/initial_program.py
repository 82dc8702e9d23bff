"""An equation skeleton for the acceleration of a nonlinear damped oscillator; its constants are fitted for you."""
import numpy as np


# EVOLVE-BLOCK-START
def equation(x: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Acceleration for each row of x = [displacement, velocity]; params: 10 constants fitted by the evaluator."""
    displacement, velocity = x[:, 0], x[:, 1]
    return params[0] * displacement + params[1] * velocity + params[2]
# EVOLVE-BLOCK-END
