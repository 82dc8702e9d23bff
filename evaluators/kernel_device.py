"""Where kernels run: CUDA when present, else Triton's interpreter on the CPU, decided before triton loads.

Triton reads TRITON_INTERPRET when a @triton.jit function is defined, its own library functions (tl.max,
tl.sum) included, at `import triton`; torch's dynamo, dispatch modes and FLOP counter import triton. So every
kernel module that imports one of those imports this module first.
"""

import os

import torch

HAS_CUDA = torch.cuda.is_available()
if not HAS_CUDA:
    os.environ.setdefault("TRITON_INTERPRET", "1")  # Triton kernels then run on the CPU, in its interpreter
