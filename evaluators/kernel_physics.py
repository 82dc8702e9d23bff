"""The fastest any correct kernel could be on this GPU: a floor from memory bandwidth and peak FLOP/s.

A measured time below the floor means the kernel skipped work (or the timing was fooled), so it scores zero
pending review. The floor is deliberately generous (peak numbers, inputs read once, outputs possibly left in
L2, the best tensor-core rate for the dtype) so that no honest kernel is ever caught: it is a lower bound, not
a target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

import evaluators.kernel_device  # noqa: F401 - before the imports below, which load triton

# isort: split
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class Peaks:
    """A device's peak DRAM bandwidth (bytes/s) and dense FLOP/s per dtype (its fastest unit for each)."""

    name: str
    bandwidth: float
    flops: dict[str, float]


def _rates(half: float, single: float, double: float) -> dict[str, float]:
    return {"float16": half, "bfloat16": half, "float32": single, "float64": double}


# Datasheet peaks, dense (no sparsity), of the fastest variant of each family (SXM, NVL): the floor stays low.
# float32 is TF32 tensor-core math, the fastest way any kernel can get through float32 FLOPs.
_KNOWN = (
    ("H200", Peaks("H200", 4.8e12, _rates(989e12, 495e12, 67e12))),
    ("H100", Peaks("H100", 3.9e12, _rates(989e12, 495e12, 67e12))),
    ("B200", Peaks("B200", 8.0e12, _rates(2250e12, 1100e12, 40e12))),
    ("A100", Peaks("A100", 2.04e12, _rates(312e12, 156e12, 19.5e12))),
    ("L40S", Peaks("L40S", 0.864e12, _rates(362e12, 183e12, 1.4e12))),
)


def peaks_for(device_name: str, measured_bandwidth: float | None = None) -> Peaks | None:
    """Known peaks by device name; for an unknown GPU, 1.5x a measured copy bandwidth and no FLOP floor."""
    for key, peaks in _KNOWN:
        if key in device_name.upper():
            return peaks
    if measured_bandwidth:
        return Peaks(device_name, 1.5 * measured_bandwidth, {})
    return None


def bytes_read(inputs: Iterable[Any], model: torch.nn.Module) -> int:
    """Bytes every correct kernel must read from DRAM at least once: the inputs and the weights."""
    tensors = [t for t in inputs if isinstance(t, torch.Tensor)] + [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def flops_of(model: torch.nn.Module, inputs: Iterable[Any]) -> int:
    """FLOPs torch's counter attributes to the reference's forward (matmuls, convolutions, attention)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(*inputs)
    return int(counter.get_total_flops())


def floor_seconds(n_bytes: int, flops: float, dtype: torch.dtype, peaks: Peaks) -> float:
    """The larger of the memory and the compute lower bounds."""
    rate = peaks.flops.get(str(dtype).removeprefix("torch."))
    return max(n_bytes / peaks.bandwidth, flops / rate if rate else 0.0)


def measure_bandwidth(device: str, n_bytes: int = 1 << 30) -> float:
    """Device-to-device copy bandwidth (bytes read + written per second), for GPUs not in the table."""
    src = torch.empty(n_bytes // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(5):
        dst.copy_(src)
    end.record()
    torch.cuda.synchronize()
    return 2 * 5 * n_bytes / (start.elapsed_time(end) / 1e3)


_MARGIN = 0.9  # of the floor: the floor's own measurements are not exact


def too_fast(measured_s: float, floor_s: float) -> str | None:
    """Why a time is physically impossible (below _MARGIN x the floor), or None."""
    if floor_s > 0 and measured_s < _MARGIN * floor_s:
        return (f"{measured_s * 1e6:.2f} us is below the physical floor of {floor_s * 1e6:.2f} us (DRAM "
                "bandwidth and peak FLOP/s of this GPU): scored zero pending review")
    return None
