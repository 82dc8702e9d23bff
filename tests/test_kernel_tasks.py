"""The five kernel tasks: they load, their seeds pass every check on the CPU (Triton's interpreter), the
reference's own torch code is flagged as calling the hot op, and without a GPU the engine is told
`skipped: no CUDA device`."""

from __future__ import annotations

import pytest
import torch

from evaluators.kernel import evaluate_kernel
from evaluators.kernel_problem import load_module
from evolve.task import load_task
from tests.support.kernels import DEVICE, ROOT, TASKS
from tests.support.tasks import evaluate_in_sandbox

NAMES = ["kernel_bias_gelu", "kernel_row_softmax", "kernel_layer_norm", "kernel_matmul_epilogue",
         "kernel_causal_attention"]


def spec_of(name: str):
    return load_module(TASKS / name / "evaluate.py", f"{name}_evaluate_under_test").SPEC


@pytest.mark.parametrize("name", NAMES)
def test_the_task_loads_as_a_kernel_task(name):
    task = load_task(TASKS / name)
    assert task.spec.kind == "kernel" and task.spec.interface == "path" and task.spec.objective == "speedup"
    assert task.spec.run["eval_concurrency"] == 1  # timings need the GPU to themselves
    assert (task.root / "README.md").is_file() and (task.root / "reference.py").is_file()
    spec = spec_of(name)
    assert len(spec.shapes) >= 2 and len(spec.cpu_shapes) >= 2
    assert spec.forbidden_ops and spec.forbidden_kernels
    odd = [v for shape in spec.shapes for v in shape.values() if v % 16]
    assert odd, "a checked size must not be a multiple of a block"


def test_kernel_tasks_cap_data_memory_so_cuda_can_start_in_the_sandbox():
    """CUDA reserves far more address space than any memory limit: kernel tasks cap RLIMIT_DATA instead (see
    tests/test_sandbox.py for the mechanism), unless the task or the run says otherwise."""
    from evaluators.program import ProgramEvaluator
    from evolve.config import LimitsSpec
    from sandbox import get_sandbox

    box = get_sandbox("process")
    kernel, program = load_task(TASKS / NAMES[0]), load_task(ROOT / "tasks" / "circle_packing")
    assert ProgramEvaluator.for_task(kernel, box).limits.address_space is False
    assert ProgramEvaluator.for_task(program, box).limits.address_space is True
    forced = LimitsSpec(memory_mb=4096, address_space=True)
    assert ProgramEvaluator.for_task(kernel, box, forced).limits.address_space is True


@pytest.mark.parametrize("name", NAMES)
def test_the_seed_passes_every_check(name, tmp_path):
    result = evaluate_kernel(spec_of(name), TASKS / name / "initial_program.py", device=DEVICE,
                             cache_dir=tmp_path, timed=False)
    assert "error" not in result, result
    spec = spec_of(name)
    assert result["correct"] == 1.0
    shapes = spec.shapes if DEVICE == "cuda" else spec.cpu_shapes
    assert result["checks"] == spec.seeds_per_shape * len(shapes)
    assert "torch_ops" not in result  # the seeds do all their math in their own kernels


@pytest.mark.parametrize("name", NAMES)
def test_the_hand_tuned_benchmark_kernel_passes_every_check(name, tmp_path):
    result = evaluate_kernel(spec_of(name), ROOT / "benchmarks" / "kernels" / f"{name}.py", device=DEVICE,
                             cache_dir=tmp_path, timed=False)
    assert "error" not in result and result["correct"] == 1.0, result


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_code_itself_is_flagged_as_calling_torch_for_the_hot_op(name, tmp_path):
    cheat = (TASKS / name / "reference.py").read_text().replace("class Model(", "class ModelNew(")
    path = tmp_path / "candidate.py"
    path.write_text(cheat)
    result = evaluate_kernel(spec_of(name), path, device=DEVICE, cache_dir=tmp_path, timed=False)
    assert result["speedup"] == 0.0 and "calls torch for the hot op" in result["error"], result


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU stand-in runs where CUDA is absent")
def test_the_seed_gets_cpu_stand_in_timings_when_asked(tmp_path):
    result = evaluate_kernel(spec_of("kernel_bias_gelu"), TASKS / "kernel_bias_gelu" / "initial_program.py",
                             device="cpu", cache_dir=tmp_path)
    assert result["correct"] == 1.0 and result["speedup"] > 0 and result["runtime_us"] > 0
    assert "say nothing about a GPU" in result["timing"] and "physics_floor_us" not in result


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_without_cuda_the_task_says_skipped_after_checking_on_the_cpu(tmp_path):
    seed = TASKS / "kernel_row_softmax" / "initial_program.py"
    result = evaluate_kernel(spec_of("kernel_row_softmax"), seed, cache_dir=tmp_path)
    assert result["skipped"] == "no CUDA device" and result["speedup"] == 0.0 and result["correct"] == 1.0
    assert "error" not in result and "correctness passed on the CPU" in result["detail"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_without_cuda_a_candidate_that_fails_the_cpu_checks_is_invalid_not_skipped(tmp_path):
    seed = (TASKS / "kernel_row_softmax" / "initial_program.py").read_text()
    wrong = tmp_path / "wrong.py"
    wrong.write_text(seed.replace("class ModelNew", "class _Unused", 1))
    result = evaluate_kernel(spec_of("kernel_row_softmax"), wrong, cache_dir=tmp_path / "cache")
    assert "skipped" not in result and result["error"].startswith("the CPU checks failed")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_in_the_sandbox_without_cuda_the_engine_gets_a_clear_skip():
    result = evaluate_in_sandbox(TASKS / "kernel_bias_gelu")
    assert result.status == "skipped", (result.reason, result.artifacts)
    assert result.reason.startswith("skipped: no CUDA device")
    assert result.artifacts["skipped"] == "no CUDA device"


def test_in_the_sandbox_a_screened_candidate_is_rejected_before_it_runs():
    seed = (TASKS / "kernel_bias_gelu" / "initial_program.py").read_text()
    source = seed.replace("import torch\n", "import torch\nimport os\n", 1)
    result = evaluate_in_sandbox(TASKS / "kernel_bias_gelu", source)
    assert result.status == "invalid" and "imports `os`" in result.reason, (result.reason, result.artifacts)


def test_a_kernel_run_without_cuda_stops_at_the_seed_with_a_clear_error(tmp_path):
    """`evolve run kernel_row_softmax` on a machine without a GPU: one line saying why, no LLM call made."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "evolve", "run", "kernel_row_softmax", "-n", "1", "-q",
                           "--model", "scripted:random-edits", "--storage",
                           f"sqlite:///{tmp_path / 'k.db'}"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr
    assert "cannot be evaluated on this machine" in proc.stderr and "no CUDA device" in proc.stderr
    assert "Traceback" not in proc.stderr
