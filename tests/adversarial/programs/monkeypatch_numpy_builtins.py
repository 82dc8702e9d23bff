# expect: ok crashed
# Patches numpy and builtins the evaluator uses: they are this process's, not the evaluator's.
import builtins

import numpy as np


def run():
    np.array_equal = lambda *a, **k: True
    np.isclose = lambda *a, **k: True
    builtins.float = lambda *a: 1.0
    builtins.int = lambda *a: 42
    builtins.isinstance = lambda *a: True
    return -1
