"""The kernel harness on a real GPU: seeds timed against eager and torch.compile, the physics floor, and the
guards only a GPU can exercise (side streams, library kernels seen by the profiler). Skipped without CUDA."""

from __future__ import annotations

import pytest
import torch

import evaluators.kernel as harness
from evaluators.kernel import evaluate_kernel
from tests.support.kernels import COMPUTE, TASKS, program
from tests.test_kernel_tasks import NAMES, spec_of

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("name", NAMES)
def test_the_seed_is_correct_and_timed_on_the_gpu(name, tmp_path):
    result = evaluate_kernel(spec_of(name), TASKS / name / "initial_program.py", cache_dir=tmp_path)
    assert "error" not in result, result
    assert result["speedup"] > 0 and result["runtime_us"] > 0 and result["eager_us"] > 0
    assert result["runtime_us"] >= result["physics_floor_us"] > 0
    assert result["trials"] >= 10 and result["runtime_cv"] < 0.5


def test_work_on_a_side_stream_is_caught_by_the_wall_clock(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "screen", lambda source, **kwargs: [])  # the screen rejects Stream first
    source = (TASKS / "kernel_bias_gelu" / "initial_program.py").read_text()
    launch = "        bias_gelu_kernel[(n_rows,)](x, self.bias, out, n_cols, BLOCK=256)\n"
    hidden = ("        side = torch.cuda.Stream()\n"
              "        side.wait_stream(torch.cuda.current_stream())\n"
              "        with torch.cuda.stream(side):\n"
              "            for _ in range(20):  # long hidden work, unseen by the current stream's events\n"
              "    " + launch)
    assert launch in source
    path = tmp_path / "candidate.py"
    path.write_text(source.replace(launch, hidden))
    result = evaluate_kernel(spec_of("kernel_bias_gelu"), path, cache_dir=tmp_path)
    assert result["speedup"] == 0.0 and "outside the timed stream" in result["error"], result


def test_a_library_matmul_outside_torch_is_caught_by_the_profiler(tmp_path):
    pytest.importorskip("cupy")  # cuBLAS reached through CuPy: invisible to torch's dispatcher
    source = (TASKS / "kernel_matmul_epilogue" / "initial_program.py").read_text()
    start = source.index("    def forward(self, x):")
    cheat = source[:start] + """    def forward(self, x):
        import cupy
        product = torch.as_tensor(cupy.asarray(x.contiguous()) @ cupy.asarray(self.weight.contiguous()),
                                  device=x.device)
        return torch.relu(product + self.bias)
# EVOLVE-BLOCK-END
"""
    path = tmp_path / "candidate.py"
    path.write_text(cheat)
    result = evaluate_kernel(spec_of("kernel_matmul_epilogue"), path, cache_dir=tmp_path)
    assert result["speedup"] == 0.0 and "profiler" in result["error"], result


def test_unwritten_output_reads_as_nan_on_the_gpu_too(tmp_path):
    forward = """\
        out = torch.empty_like(x)
        out[:, :-1] = self._compute(x)[:, :-1]
        return out
    """
    path = tmp_path / "candidate.py"
    path.write_text(program(methods=COMPUTE, forward=forward))
    result = evaluate_kernel(spec_of("kernel_bias_gelu"), path, cache_dir=tmp_path, timed=False)
    assert "non-finite" in result["error"], result
