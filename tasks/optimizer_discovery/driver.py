"""Runs in the candidate's process: keeps the optimizer's state between the evaluator's calls.

The evaluator owns the training loop (parameters, gradients, losses) and sends one gradient per call, so the
candidate never sees the parameters or the loss and cannot do more work than its update rule does. Only the
state, which is the candidate's own business, lives here.
"""

from __future__ import annotations

import numpy as np

_states: dict[str, dict] = {}


def step(program, run: str, grad: np.ndarray, step: int, lr: float) -> np.ndarray:
    """One optimizer step of training run `run`: program.update(...) with the state it returned last time."""
    if step == 1:
        _states[run] = {}
    delta, _states[run] = program.update(grad, _states[run], step, lr)
    return np.asarray(delta, dtype=float)
