"""Evaluator of kernel_matmul_epilogue: the shared kernel harness (evaluators/kernel.py), this SPEC."""

from pathlib import Path

from evaluators.kernel import KernelSpec, evaluate_kernel

SPEC = KernelSpec(
    reference=Path(__file__).with_name("reference.py"),
    shapes=({}, {"batch_size": 1031, "in_features": 1000, "out_features": 2049}),
    cpu_shapes=({"batch_size": 64, "in_features": 96, "out_features": 64},
                {"batch_size": 33, "in_features": 70, "out_features": 65}),
    dtype="float16",
    forbidden_ops=("aten.mm", "aten.addmm", "aten.matmul", "aten.bmm", "aten.baddbmm", "aten.linear",
                   "aten._addmm_activation", "aten.dot", "aten.mv", "aten.einsum"),
    forbidden_kernels=(r"gemm", r"cublas", r"cutlass", r"nvjet", r"xmma"),
)


def evaluate(program_path: str) -> dict:
    return evaluate_kernel(SPEC, program_path)
