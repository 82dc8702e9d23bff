"""Is a candidate's output the reference's output? Structure first (type, aliasing, layout), then values.

Values are compared against the reference computed in float64, elementwise |out - ref| <= atol + rtol * |ref|
(KernelBench's rule, with the exact reference instead of a float32 one), after NaN/Inf placement, shape and
dtype. Structure catches outputs that would compare equal while not being a real result: a tensor subclass
(which can redefine comparison), an alias of an input or of a weight (e.g. an in-place op returning its
input), a broadcast (stride 0) view standing for a full tensor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch


def as_tensors(output: Any, what: str) -> list[torch.Tensor]:
    """The output as a list of tensors (a tensor, or a tuple/list of tensors); ValueError saying why not."""
    items = list(output) if isinstance(output, (tuple, list)) else [output]
    for i, item in enumerate(items):
        if type(item) is not torch.Tensor:  # exact: a subclass (or nn.Parameter) can override comparisons
            label = f"{what}[{i}]" if isinstance(output, (tuple, list)) else what
            raise ValueError(f"{label} is a {type(item).__module__}.{type(item).__qualname__}, not a plain "
                             "torch.Tensor")
    return items


def structure_problems(outs: Sequence[torch.Tensor], refs: Sequence[torch.Tensor],
                       inputs: Iterable[Any], model: torch.nn.Module) -> list[str]:
    """Type/count/layout/aliasing problems of the candidate's outputs, given the reference's outputs."""
    if len(outs) != len(refs):
        return [f"returned {len(outs)} tensor(s); the reference returns {len(refs)}"]
    found = []
    owned = [("input", t) for t in inputs if isinstance(t, torch.Tensor)]
    owned += [("weight", t) for t in [*model.parameters(), *model.buffers()]]
    for i, (out, ref) in enumerate(zip(outs, refs)):
        label = "output" if len(outs) == 1 else f"output[{i}]"
        if out.device != ref.device:
            found.append(f"{label} is on {out.device}; the reference's is on {ref.device}")
        for kind, other in owned:
            if _overlaps(out, other):
                found.append(f"{label} shares memory with an {kind} (return a new tensor, do not alias or "
                             "write in place)")
                break
        if out.shape == ref.shape:
            found += _layout_problems(label, out, ref)
    return found


def _layout_problems(label: str, out: torch.Tensor, ref: torch.Tensor) -> list[str]:
    broadcast = _broadcast_dims(out)
    if broadcast and broadcast != _broadcast_dims(ref):
        return [f"{label} is a broadcast view (stride 0 in dim {broadcast[0]}): the result must be "
                "materialized"]
    if not out.is_contiguous() and out.stride() != ref.stride():
        return [f"{label} has strides {out.stride()}; expected contiguous or the reference's {ref.stride()}"]
    return []


def _overlaps(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.device != b.device or a.numel() == 0 or b.numel() == 0:
        return False
    sa, sb = a.untyped_storage(), b.untyped_storage()
    start_a, start_b = sa.data_ptr(), sb.data_ptr()
    return start_a < start_b + sb.nbytes() and start_b < start_a + sa.nbytes()


def shares_memory(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> bool:
    """Whether any tensor of `a` overlaps any of `b` (two calls returning the same buffer, say)."""
    return any(_overlaps(x, y) for x in a for y in b)


def _broadcast_dims(t: torch.Tensor) -> list[int]:
    return [d for d, (size, stride) in enumerate(zip(t.shape, t.stride())) if size > 1 and stride == 0]


def mismatch(out: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype, atol: float,
             rtol: float) -> str | None:
    """Why `out` is not `ref` (the float64 reference) within tolerance; None when it is."""
    if out.shape != ref.shape:
        return f"shape {tuple(out.shape)}; expected {tuple(ref.shape)}"
    if out.dtype != dtype:
        return f"dtype {out.dtype}; expected {dtype} (lower precision than the task's is not allowed)"
    got = out.detach().to(torch.float64)
    want = ref.detach().to(device=got.device, dtype=torch.float64)
    finite_want, finite_got = torch.isfinite(want), torch.isfinite(got)
    bad_special = (finite_want & ~finite_got) | (~finite_want & ~_same_special(got, want))
    if bool(bad_special.any()):
        index = _first(bad_special)
        return (f"{int(bad_special.sum())} non-finite or misplaced NaN/Inf values, first at {index}: "
                f"got {got[index].item()}, expected {want[index].item()}")
    err = (got - want).abs().where(finite_want, torch.zeros_like(got))
    limit = atol + rtol * want.abs().where(finite_want, torch.zeros_like(want))
    over = err > limit
    if bool(over.any()):
        index = _first(over)
        return (f"{int(over.sum())} of {out.numel()} values differ beyond atol={atol:g}, rtol={rtol:g}; "
                f"max abs error {err.max().item():.3g}, first at {index}: got {got[index].item():.6g}, "
                f"expected {want[index].item():.6g}")
    return None


def _same_special(got: torch.Tensor, want: torch.Tensor) -> torch.Tensor:
    """Where the reference is NaN/Inf, the candidate must be the same NaN/Inf."""
    return (torch.isnan(got) & torch.isnan(want)) | (got == want)


def _first(mask: torch.Tensor) -> tuple[int, ...]:
    flat = int(torch.nonzero(mask.reshape(-1))[0])
    return tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), mask.shape))


def max_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """Largest absolute difference over finite reference values (for the report)."""
    got, want = out.detach().to(torch.float64), ref.detach().to(device=out.device, dtype=torch.float64)
    finite = torch.isfinite(want) & torch.isfinite(got)
    return float((got - want).abs()[finite].max()) if bool(finite.any()) else 0.0
