"""The static screen of kernel candidates: what it rejects before any candidate code runs, what it lets by."""

from __future__ import annotations

import pytest

from evaluators.kernel_screen import screen
from tests.support.kernels import TASKS, program

SEEDS = sorted(TASKS.glob("kernel_*/initial_program.py"))


def test_there_are_five_kernel_seeds_and_each_passes_the_screen():
    assert len(SEEDS) >= 5
    for seed in SEEDS:
        assert screen(seed.read_text()) == [], seed


@pytest.mark.parametrize("code,needle", [
    ("import os", "imports `os`"),
    ("import threading", "imports `threading`"),
    ("from concurrent.futures import ThreadPoolExecutor", "imports `concurrent.futures`"),
    ("import ctypes", "imports `ctypes`"),
    ("import evaluators.kernel_checks", "imports `evaluators.kernel_checks`"),
    ("from torch.utils._python_dispatch import TorchDispatchMode", "private module"),
    ("from torch.utils.cpp_extension import load_inline", "cpp_extension"),
    ("from torch import *", "hides what is imported"),
    ("x = __import__('os')", "`__import__`"),
    ("f = getattr(torch, 'allclose')", "`getattr`"),
    ("eval('1')", "`eval`"),
    ("open('/proc/self/fd/3', 'w')", "`open`"),
    ("torch._C._cuda_synchronize()", "private internals"),
    ("g = (lambda: 0).__globals__", "`__globals__`"),
    ("s = torch.cuda.Stream()", "creates a CUDA stream"),
    ("torch.cuda.set_stream(None)", "switches CUDA streams"),
    ("e = torch.cuda.Event(enable_timing=True)", "timing events"),
    ("torch.backends.cuda.matmul.allow_tf32 = True", "numeric settings"),
    ("torch.set_float32_matmul_precision('medium')", "matmul precision"),
    ("f = torch.compile(torch.nn.functional.gelu)", "torch.compile"),
    ("y = torch.ops.aten.gelu", "torch.ops"),
    ("v = torch.zeros(1).item()", "reads a tensor value back to the host"),
    ("v = torch.zeros(1).tolist()", "host"),
    ("w = torch.load('weights.pt')", "unpickles"),
])
def test_the_screen_rejects(code, needle):
    problems = screen(program(header=code))
    assert any(needle in p for p in problems), problems


def test_load_inline_is_allowed_only_where_the_task_allows_it():
    source = program(header="from torch.utils.cpp_extension import load_inline")
    assert screen(source)
    assert screen(source, allow_load_inline=True) == []


def test_extra_modules_widen_the_import_list():
    source = program(header="import threading")
    assert screen(source) and screen(source, extra_modules=("threading",)) == []


def test_ordinary_kernel_code_passes():
    source = program(header="import math\nimport functools\nimport triton\nimport triton.language as tl\n"
                            "import numpy as np\nfrom typing import Optional", init="self._cache = {}")
    assert screen(source) == []


def test_a_syntax_error_is_reported_with_its_line():
    assert screen("def broken(:\n")[0].startswith("line 1: syntax error")
