"""Evaluator of kernel_causal_attention: the shared kernel harness (evaluators/kernel.py), this SPEC."""

from pathlib import Path

from evaluators.kernel import KernelSpec, evaluate_kernel

SPEC = KernelSpec(
    reference=Path(__file__).with_name("reference.py"),
    shapes=({}, {"batch_size": 2, "n_heads": 3, "seq_len": 1031}),
    cpu_shapes=({"batch_size": 1, "n_heads": 2, "seq_len": 24, "head_dim": 16},
                {"batch_size": 1, "n_heads": 1, "seq_len": 37, "head_dim": 16}),
    dtype="float16",
    flop_scale=0.5,  # a causal kernel may skip the masked half of the reference's counted FLOPs
    forbidden_ops=("aten.mm", "aten.bmm", "aten.matmul", "aten.baddbmm", "aten._softmax", "aten.softmax",
                   "aten.scaled_dot_product_attention", "aten._scaled_dot_product_flash_attention",
                   "aten._scaled_dot_product_efficient_attention", "aten._scaled_dot_product_cudnn_attention",
                   "aten._flash_attention_forward", "aten._efficient_attention_forward", "aten.einsum"),
    forbidden_kernels=(r"flash", r"fmha", r"gemm", r"cublas", r"cutlass", r"nvjet", r"xmma", r"softmax"),
)


def evaluate(program_path: str) -> dict:
    return evaluate_kernel(SPEC, program_path)
