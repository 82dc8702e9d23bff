"""Evaluator of kernel_row_softmax: the shared kernel harness (evaluators/kernel.py) with this task's SPEC."""

from pathlib import Path

from evaluators.kernel import KernelSpec, evaluate_kernel

SPEC = KernelSpec(
    reference=Path(__file__).with_name("reference.py"),
    shapes=({}, {"batch_size": 1031, "dim": 4097}),
    cpu_shapes=({"batch_size": 4, "dim": 512}, {"batch_size": 3, "dim": 4097}),
    input_scales=(1.0, 8.0),  # 8: peaked rows, where an unstabilized exp overflows
    forbidden_ops=("aten._softmax", "aten.softmax", "aten._log_softmax"),
    forbidden_kernels=(r"softmax",),
)


def evaluate(program_path: str) -> dict:
    return evaluate_kernel(SPEC, program_path)
