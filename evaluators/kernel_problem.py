"""A KernelBench problem file, loaded unmodified: reference `Model`, `get_inputs()` and `get_init_inputs()`.

Shape variants set the file's module-level sizes (e.g. `dim = 4097`) before its functions run, so a
KernelBench file is checked at sizes its author never wrote, including ones that are not multiples of a block.
Inputs are fresh for every check (a secret seed, then scaled), so no output can be computed in advance.
"""

from __future__ import annotations

import copy
import importlib.util
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from evaluators.kernel_spec import Shape


def load_module(path: Path, name: str) -> ModuleType:
    """Import a file as a fresh module under `name` (registered, so Triton's `inspect` finds its source)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Problem:
    """The reference side of a kernel task, at one shape at a time."""

    def __init__(self, path: Path) -> None:
        self.module = load_module(path, "evolve_kernel_reference")
        for name in ("Model", "get_inputs", "get_init_inputs"):
            if not hasattr(self.module, name):
                raise ValueError(f"{path.name} defines no `{name}` (a KernelBench problem file needs Model, "
                                 "get_inputs and get_init_inputs)")
        self.model_class = self.module.Model
        self._defaults = {k: v for k, v in vars(self.module).items()
                          if isinstance(v, int) and not isinstance(v, bool) and not k.startswith("_")}

    def set_shape(self, shape: Shape) -> None:
        """Restore the file's own sizes, then apply `shape`'s."""
        unknown = sorted(set(shape) - set(self._defaults))
        if unknown:
            raise ValueError(f"shape sets {unknown}, which are not integer sizes of the problem file "
                             f"(it has {sorted(self._defaults)})")
        for name, value in {**self._defaults, **shape}.items():
            setattr(self.module, name, value)

    def sizes(self) -> dict[str, int]:
        """The problem file's integer sizes as they are now."""
        return {name: getattr(self.module, name) for name in self._defaults}

    def build(self, cls: type, device: str, dtype: torch.dtype | None, seed: int) -> torch.nn.Module:
        """`cls` built from the init inputs under `seed`: KernelBench's convention, so a ModelNew that creates
        its parameters like Model holds the same weights as a Model built with the same seed."""
        torch.manual_seed(seed)
        model = cls(*self.module.get_init_inputs()).to(device)
        return _cast(model, dtype).eval()

    def models(self, candidate_class: type, device: str, dtype: torch.dtype | None,
               seed: int) -> tuple[torch.nn.Module, torch.nn.Module]:
        """(reference, candidate) built with the same seed."""
        return (self.build(self.model_class, device, dtype, seed),
                self.build(candidate_class, device, dtype, seed))

    def inputs(self, device: str, dtype: torch.dtype | None, scale: float) -> list[Any]:
        """Fresh inputs: get_inputs() under a secret seed, floating tensors cast and multiplied by `scale`."""
        torch.manual_seed(secrets.randbits(62))
        made = []
        for value in self.module.get_inputs():
            if isinstance(value, torch.Tensor):
                value = value.to(device)
                if value.is_floating_point():
                    value = (value.to(dtype or value.dtype) * scale).contiguous()
                    if value.numel() and not bool(value.any()):
                        raise ValueError("get_inputs() made an all-zero tensor: checks need random inputs")
            made.append(value)
        return made


def _cast(model: torch.nn.Module, dtype: torch.dtype | None) -> torch.nn.Module:
    return model if dtype is None else model.to(dtype)


def reference_float64(model: torch.nn.Module, inputs: Sequence[Any]) -> Any:
    """The reference's output computed in float64 (from a copy of the model and of the inputs)."""
    wide = copy.deepcopy(model).to(torch.float64)
    args = [x.to(torch.float64) if isinstance(x, torch.Tensor) and x.is_floating_point() else x
            for x in inputs]
    with torch.no_grad():
        return wide(*args)


def dtype_of(name: str | None) -> torch.dtype | None:
    """torch dtype from its name ("float16"), or None."""
    if name is None:
        return None
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {name!r}")
    return value
