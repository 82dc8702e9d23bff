"""Which GPU kernels one call of the candidate ran, and whether they are its own.

The dispatcher (kernel_oplog.py) sees torch ops; it cannot see a library reached another way (CuPy's matmul
calls cuBLAS directly). The profiler sees every kernel on the GPU, by name: a candidate's Triton kernels carry
their function names, NVRTC/CuPy kernels the names in their CUDA source. Library kernels (cuBLAS, CUTLASS,
cuDNN, ATen, Inductor's generated Triton) are allowed only as glue, below a share of the call's GPU time, and
never when they match the task's hot-op patterns.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Sequence

LIBRARY = re.compile(r"at::|cublas|cutlass|cudnn|cub::|thrust::|nvjet|xmma|gemm|gemv|fmha|flash_fwd|"
                     r"flash_bwd|^(ampere|volta|turing|sm\d+)_|^triton_(poi|red|per|tem)_", re.IGNORECASE)


def own_kernel_names(source: str) -> set[str]:
    """Names of the kernels the candidate defines: @triton.jit functions and CUDA `__global__` functions."""
    names = set(re.findall(r"__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s+)?(\w+)", source))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return names
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any("jit" in ast.unparse(d) for d in node.decorator_list):
            names.add(node.name)
    return names


def library_problems(kernels: Sequence[tuple[str, float]], own: Iterable[str], forbidden: Iterable[str],
                     max_share: float) -> list[str]:
    """Problems with the (name, seconds) kernels of one call: the hot op done by a library, or too much
    library time."""
    own = {name for name in own if len(name) >= 3}
    total = sum(s for _, s in kernels)
    library = [(n, s) for n, s in kernels if not any(o in n for o in own) and LIBRARY.search(n)]
    patterns = [re.compile(p, re.IGNORECASE) for p in forbidden]
    found = [f"ran the library kernel {n!r} for the hot op"
             for n, _ in library if any(p.search(n) for p in patterns)]
    share = sum(s for _, s in library) / total if total > 0 else 0.0
    if share > max_share:
        top = max(library, key=lambda k: k[1])[0]
        found.append(f"{share:.0%} of the GPU time went to library kernels (most to {top!r}); at most "
                     f"{max_share:.0%} is allowed")
    if total > 0 and len(library) == len(kernels):  # every kernel that ran is a library's
        found.append("none of the GPU kernels that ran is the candidate's own")
    return found


def kernels_of_one_call(fn: Callable[[], object]) -> list[tuple[str, float]]:
    """(kernel name, GPU seconds) of every kernel `fn` launched, from torch's profiler."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    found = []
    for event in prof.events():
        if getattr(event, "device_type", None) == torch.autograd.DeviceType.CUDA:
            found.append((event.name, event.device_time_total / 1e6))
    return found
