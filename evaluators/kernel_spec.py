"""What a kernel task declares beside its KernelBench problem file: the sizes, tolerances and guards it uses.

task.yaml carries no kernel section (its schema is shared by every kind), so a kernel task's evaluate.py
builds a `KernelSpec` and hands it to `evaluators.kernel.evaluate_kernel`. The problem file itself stays
unmodified.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

Shape = dict[str, int]  # module-level sizes of the problem file to set, e.g. {"batch_size": 3, "dim": 4097}


@dataclass(frozen=True)
class KernelSpec:
    """One kernel task. `shapes[0]` is the timed shape; every shape is checked for correctness."""

    reference: Path  # the KernelBench-shaped problem file: Model, get_inputs(), get_init_inputs()
    shapes: tuple[Shape, ...] = ({},)  # {} = the sizes the problem file sets itself
    cpu_shapes: tuple[Shape, ...] = ()  # small sizes for the CPU stand-in (Triton's interpreter is slow)
    dtype: str | None = None  # floating inputs and weights are cast to this ("float16"); None: left as made
    seeds_per_shape: int = 2  # fresh secret-seeded inputs per shape
    input_scales: tuple[float, ...] = (1.0, 3.0)  # floating inputs are multiplied by these in turn, per check
    atol: float | None = None  # None = by dtype: 1e-4 for float32, 1e-2 for float16/bfloat16
    rtol: float | None = None
    forbidden_ops: tuple[str, ...] = ()  # aten ops that do the hot op itself ("aten.gelu"): running one fails
    forbidden_kernels: tuple[str, ...] = ()  # regexes of library GPU kernels doing the hot op (profiler pass)
    max_library_share: float = 0.1  # of one call's GPU time, at most this may be spent in library kernels
    flop_scale: float = 1.0  # share of the reference's counted FLOPs a correct kernel must do (causal: 0.5)
    compare_compile: bool = True  # also time torch.compile of the reference
    allow_load_inline: bool = False  # torch.utils.cpp_extension (host C++ runs in-process): only where needed
    min_timing_s: float = 0.1  # at least this much measured time per timed function
    extra_modules: tuple[str, ...] = ()  # more importable modules a candidate may use

    def tolerance(self, dtype_name: str) -> tuple[float, float]:
        """(atol, rtol): the task's own, else KernelBench's per-dtype values."""
        default = 1e-4 if dtype_name in ("float32", "float64") else 1e-2
        atol = self.atol if self.atol is not None else default
        return atol, self.rtol if self.rtol is not None else default
