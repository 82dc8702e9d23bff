"""The child's environment, built from nothing: the engine's own variables (API keys) are never inherited."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

RESULT_FD_VAR = "EVOLVE_RESULT_FD"
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# the only variables taken from the engine: which GPUs a run may use is the user's choice, and no secret
_PASSED_THROUGH = ("CUDA_VISIBLE_DEVICES",)


def minimal_env(workdir: Path, result_fd: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """PATH (this interpreter's bin first), HOME=workdir, UTF-8, reproducible hashing, the engine's choice of
    GPUs, plus ``extra``."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:{_SYSTEM_PATH}",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        # one BLAS/OpenMP thread: per-thread buffers on a many-core host would eat the address-space limit, and
        # concurrent evaluations should not oversubscribe the cores
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    env.update({name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ})
    env.update(extra or {})
    env[RESULT_FD_VAR] = str(result_fd)  # owned by the sandbox: a caller cannot point it elsewhere
    return env
