"""Evaluator of kernel_bias_gelu: the shared kernel harness (evaluators/kernel.py) with this task's SPEC."""

from pathlib import Path

from evaluators.kernel import KernelSpec, evaluate_kernel

SPEC = KernelSpec(
    reference=Path(__file__).with_name("reference.py"),
    shapes=({}, {"batch_size": 1023, "dim": 4097}),
    cpu_shapes=({"batch_size": 4, "dim": 512}, {"batch_size": 3, "dim": 4097}),
    forbidden_ops=("aten.gelu",),
    forbidden_kernels=(r"gelu",),
)


def evaluate(program_path: str) -> dict:
    return evaluate_kernel(SPEC, program_path)
