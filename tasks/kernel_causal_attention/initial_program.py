"""Causal attention, float16 in and out, float32 math: one program per query row, online softmax over keys."""

import torch
import torch.nn as nn
import triton
import triton.language as tl


# EVOLVE-BLOCK-START
@triton.jit
def causal_attention_kernel(q_ptr, k_ptr, v_ptr, o_ptr, seq_len, scale,
                            HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr):
    # one query row per program, keys in blocks up to the row itself, no tensor cores: correct, slow
    row = tl.program_id(0)
    base = tl.program_id(1) * seq_len * HEAD_DIM  # (batch, head) slice
    dims = tl.arange(0, HEAD_DIM)
    q = tl.load(q_ptr + base + row * HEAD_DIM + dims).to(tl.float32)
    row_max = tl.max(tl.full((BLOCK_N,), float("-inf"), tl.float32), axis=0)
    row_sum = tl.sum(tl.zeros((BLOCK_N,), tl.float32), axis=0)
    acc = tl.zeros((HEAD_DIM,), tl.float32)
    for start in range(0, row + 1, BLOCK_N):
        keys = start + tl.arange(0, BLOCK_N)
        visible = keys <= row
        k = tl.load(k_ptr + base + keys[:, None] * HEAD_DIM + dims[None, :], mask=visible[:, None], other=0.0)
        scores = tl.sum(k.to(tl.float32) * q[None, :], axis=1) * scale
        scores = tl.where(visible, scores, float("-inf"))
        new_max = tl.maximum(row_max, tl.max(scores, axis=0))
        p = tl.exp(scores - new_max)
        correction = tl.exp(row_max - new_max)
        v = tl.load(v_ptr + base + keys[:, None] * HEAD_DIM + dims[None, :], mask=visible[:, None], other=0.0)
        acc = acc * correction + tl.sum(p[:, None] * v.to(tl.float32), axis=0)
        row_sum = row_sum * correction + tl.sum(p, axis=0)
        row_max = new_max
    tl.store(o_ptr + base + row * HEAD_DIM + dims, (acc / row_sum).to(o_ptr.dtype.element_ty))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, q, k, v):
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        batch, heads, seq_len, head_dim = q.shape
        out = torch.empty_like(q)
        causal_attention_kernel[(seq_len, batch * heads)](q, k, v, out, seq_len, head_dim ** -0.5,
                                                          HEAD_DIM=head_dim, BLOCK_N=32)
        return out
# EVOLVE-BLOCK-END
