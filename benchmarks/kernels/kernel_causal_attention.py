"""Hand-tuned causal attention: FlashAttention-style query tiles, tensor-core dots, masked blocks skipped."""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def flash_attention_kernel(q_ptr, k_ptr, v_ptr, o_ptr, seq_len, qk_scale, HEAD_DIM: tl.constexpr,
                           BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    start_m = tl.program_id(0)
    base = tl.program_id(1).to(tl.int64) * seq_len * HEAD_DIM
    rows = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, HEAD_DIM)
    tile = rows[:, None] * HEAD_DIM + dims[None, :]
    q = tl.load(q_ptr + base + tile, mask=rows[:, None] < seq_len, other=0.0)
    row_max = tl.full((BLOCK_M,), float("-inf"), tl.float32)
    row_sum = tl.zeros((BLOCK_M,), tl.float32)
    acc = tl.zeros((BLOCK_M, HEAD_DIM), tl.float32)
    # key blocks past the diagonal are skipped
    for start_n in range(0, tl.minimum((start_m + 1) * BLOCK_M, seq_len), BLOCK_N):
        keys = start_n + tl.arange(0, BLOCK_N)
        key_tile = keys[:, None] * HEAD_DIM + dims[None, :]
        k = tl.load(k_ptr + base + key_tile, mask=keys[:, None] < seq_len, other=0.0)
        scores = tl.dot(q, tl.trans(k)) * qk_scale
        scores = tl.where((keys[None, :] <= rows[:, None]) & (keys[None, :] < seq_len), scores, float("-inf"))
        new_max = tl.maximum(row_max, tl.max(scores, axis=1))
        p = tl.exp2(scores - new_max[:, None])
        correction = tl.exp2(row_max - new_max)
        v = tl.load(v_ptr + base + key_tile, mask=keys[:, None] < seq_len, other=0.0)
        acc = acc * correction[:, None] + tl.dot(p.to(v.dtype), v)
        row_sum = row_sum * correction + tl.sum(p, axis=1)
        row_max = new_max
    out = (acc / row_sum[:, None]).to(o_ptr.dtype.element_ty)
    tl.store(o_ptr + base + tile, out, mask=rows[:, None] < seq_len)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, q, k, v):
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        batch, heads, seq_len, head_dim = q.shape
        out = torch.empty_like(q)
        grid = (triton.cdiv(seq_len, 64), batch * heads)
        qk_scale = head_dim ** -0.5 * 1.4426950408889634  # exp2 instead of exp
        flash_attention_kernel[grid](q, k, v, out, seq_len, qk_scale, HEAD_DIM=head_dim, BLOCK_M=64,
                                     BLOCK_N=64, num_warps=4, num_stages=2)
        return out
