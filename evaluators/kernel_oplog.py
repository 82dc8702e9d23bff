"""Every torch op a candidate's forward runs, seen through a dispatch mode during the correctness checks.

Three guards in one pass, on any device (so they are tested on the CPU):
- poisoned allocator: each fresh allocation (torch.empty and friends) comes back filled with NaN (or an
  extreme integer), so output a kernel never wrote reads as NaN instead of whatever stale memory held;
- hot op: running one of the task's forbidden ops (the op the kernel is supposed to implement) is recorded;
- host reads: ops that bring tensor values to the host (`.item()`, `bool(t)`, a device-to-host copy) are
  recorded, since a kernel has no reason to branch on input values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import torch

import evaluators.kernel_device  # noqa: F401 - before the imports below, which load triton

# isort: split
from torch.utils._python_dispatch import TorchDispatchMode

_ALLOCATIONS = {"aten.empty", "aten.empty_like", "aten.empty_strided", "aten.new_empty",
                "aten.new_empty_strided"}
_HOST_READS = {"aten._local_scalar_dense", "aten.equal", "aten.is_nonzero"}
_COPIES = {"aten._to_copy", "aten.copy_"}
# ops that move, view, allocate or fill memory without computing: not reported as torch compute
_GLUE = _ALLOCATIONS | _COPIES | {
    "aten.view", "aten._unsafe_view", "aten.reshape", "aten.as_strided", "aten.t", "aten.transpose",
    "aten.permute", "aten.expand", "aten.unsqueeze", "aten.squeeze", "aten.select", "aten.slice",
    "aten.split", "aten.detach", "aten.alias", "aten.lift_fresh", "aten.set_", "aten.clone",
    "aten.contiguous", "aten.zeros",
    "aten.zeros_like", "aten.fill_", "aten.zero_", "aten.sym_size", "aten.sym_stride",
    "aten.sym_numel", "aten.sym_storage_offset", "aten.resize_",
}


class OpLog(TorchDispatchMode):
    """Dispatch mode: poisons fresh allocations; records forbidden ops, host reads and torch compute."""

    def __init__(self, forbidden: Iterable[str] = ()) -> None:
        super().__init__()
        self.forbidden = set(forbidden)
        self.hot: Counter[str] = Counter()
        self.host_reads: Counter[str] = Counter()
        self.compute: Counter[str] = Counter()

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = str(func.overloadpacket)
        out = func(*args, **(kwargs or {}))
        if name in self.forbidden:
            self.hot[name] += 1
        if name in _HOST_READS or (name in _COPIES and _leaves_device(func, args, kwargs or {}, out)):
            self.host_reads[name] += 1
        elif name not in _GLUE:
            self.compute[name] += 1
        if name in _ALLOCATIONS and isinstance(out, torch.Tensor):
            poison(out)
        return out

    def problems(self) -> list[str]:
        """Why the candidate fails these guards (empty when it passes)."""
        found = []
        if self.hot:
            ops = ", ".join(f"{op} x{n}" for op, n in self.hot.items())
            found.append(f"calls torch for the hot op ({ops}): the task is to write that kernel, not call it")
        if self.host_reads:
            ops = ", ".join(f"{op} x{n}" for op, n in self.host_reads.items())
            found.append(f"reads tensor values back to the host during forward ({ops}): kernels must not "
                         "branch on input values")
        return found


def poison(tensor: torch.Tensor) -> None:
    """Fill with what no correct kernel leaves: NaN for floats, the extreme for integers, True for bool."""
    if tensor.numel() == 0:
        return
    if tensor.is_floating_point() or tensor.is_complex():
        tensor.fill_(float("nan"))
    elif tensor.dtype == torch.bool:
        tensor.fill_(True)
    else:
        tensor.fill_(torch.iinfo(tensor.dtype).max)


def _leaves_device(func: Any, args: tuple, kwargs: dict, out: Any) -> bool:
    """A copy from an accelerator tensor into host memory."""
    if str(func.overloadpacket) == "aten.copy_":
        source, target = (args[1] if len(args) > 1 else None), args[0]
    else:
        source, target = (args[0] if args else None), out
    return (isinstance(source, torch.Tensor) and isinstance(target, torch.Tensor)
            and source.device.type != "cpu" and target.device.type == "cpu")
