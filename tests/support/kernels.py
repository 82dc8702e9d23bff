"""Shared by the kernel tests: a small spec of the bias+GELU task and a builder for candidate programs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from textwrap import dedent, indent

from evaluators.kernel import KernelSpec, evaluate_kernel
from evaluators.kernel_device import HAS_CUDA

# Guards are tested on the real device where there is one, else on the CPU stand-in (Triton's interpreter).
DEVICE = "cuda" if HAS_CUDA else "cpu"

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "tasks"
SPEC = KernelSpec(
    reference=TASKS / "kernel_bias_gelu" / "reference.py",
    shapes=({"batch_size": 4, "dim": 96}, {"batch_size": 3, "dim": 257}),
    forbidden_ops=("aten.gelu",),
    seeds_per_shape=2,
)
HONEST = """\
y = x + self.bias
return 0.5 * y * (1.0 + torch.erf(y * 0.7071067811865476))
"""


COMPUTE = """\
def _compute(self, x):
    y = x + self.bias
    return 0.5 * y * (1.0 + torch.erf(y * 0.7071067811865476))
"""


def program(forward: str = HONEST, *, header: str = "", init: str = "", extra: str = "",
            methods: str = "") -> str:
    """A ModelNew for the bias+GELU reference with the given forward body (torch code unless it says so)."""
    return (
        "import torch\nimport torch.nn as nn\n" + dedent(header) + "\n\n" + dedent(extra) + "\n\n"
        "class ModelNew(nn.Module):\n"
        "    def __init__(self, dim):\n"
        "        super().__init__()\n"
        "        self.bias = nn.Parameter(torch.randn(dim))\n"
        + indent(dedent(init), " " * 8) + "\n"
        + indent(dedent(methods), " " * 4) + "\n"
        "    def forward(self, x):\n"
        + indent(dedent(forward), " " * 8)
    )


def evaluate(tmp_path: Path, source: str, **changes) -> dict:
    """Evaluate in this process on DEVICE, checks only (for candidates that leave the process sound)."""
    path = tmp_path / "candidate.py"
    path.write_text(source)
    timed = changes.pop("timed", False)
    return evaluate_kernel(replace(SPEC, **changes), path, device=DEVICE, cache_dir=tmp_path / "cache",
                           timed=timed)


def evaluate_fresh(tmp_path: Path, source: str, task: Path | None = None) -> dict:
    """Evaluate in a fresh process (`python -m evaluators.kernel`): for candidates that tamper with it."""
    path = tmp_path / "candidate.py"
    path.write_text(source)
    task = task or _spec_task(tmp_path)
    argv = [sys.executable, "-m", "evaluators.kernel", str(task), str(path), "--device", "cpu", "--cache-dir",
            str(tmp_path / "cache")]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "TRITON_INTERPRET": "1"}, timeout=240)
    assert done.stdout.strip(), done.stderr[-2000:]
    return json.loads(done.stdout)


def _spec_task(tmp_path: Path) -> Path:
    """A task folder whose evaluate.py holds the small SPEC above (the CLI reads SPEC from there)."""
    task = tmp_path / "task"
    task.mkdir(exist_ok=True)
    (task / "evaluate.py").write_text(
        "from pathlib import Path\nfrom evaluators.kernel import KernelSpec\n"
        f"SPEC = KernelSpec(reference=Path({str(SPEC.reference)!r}), shapes={SPEC.shapes!r}, "
        f"forbidden_ops={SPEC.forbidden_ops!r}, seeds_per_shape={SPEC.seeds_per_shape}, min_timing_s=0.02)\n"
    )
    return task
