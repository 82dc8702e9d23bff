"""Fused bias + GELU: out[r, c] = gelu(x[r, c] + bias[c]), exact erf form, float32."""

import torch
import torch.nn as nn
import triton
import triton.language as tl


# EVOLVE-BLOCK-START
@triton.jit
def bias_gelu_kernel(x_ptr, bias_ptr, out_ptr, n_cols, BLOCK: tl.constexpr):
    # one program per row, walking the row in blocks: simple and correct, not fast
    row = tl.program_id(0)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        mask = cols < n_cols
        x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=0.0)
        b = tl.load(bias_ptr + cols, mask=mask, other=0.0)
        y = x + b
        out = 0.5 * y * (1.0 + tl.math.erf(y * 0.7071067811865476))
        tl.store(out_ptr + row * n_cols + cols, out, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(dim))

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        n_rows, n_cols = x.shape
        bias_gelu_kernel[(n_rows,)](x, self.bias, out, n_cols, BLOCK=256)
        return out
# EVOLVE-BLOCK-END
