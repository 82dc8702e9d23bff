"""Every guard of the kernel harness against a candidate that cheats that way (on the GPU, else the CPU).

Each cheat passes the static screen (or, for threads and tampering, is let past it: `extra_modules`, or
the screen replaced in a fresh process), so the runtime guard named in the test is what stops it. The screen
has its own tests (test_kernel_screen.py).
"""

from __future__ import annotations

import pytest

from tests.support.kernels import COMPUTE, DEVICE, HONEST, evaluate, evaluate_fresh, program


def rejected(result: dict, *needles: str) -> str:
    assert result["speedup"] == 0.0 and result["correct"] == 0.0, result
    for needle in needles:
        assert needle in result["error"], result["error"]
    return result["error"]


def test_an_honest_torch_candidate_passes_every_check(tmp_path):
    result = evaluate(tmp_path, program())
    assert result["correct"] == 1.0 and "error" not in result, result
    assert result["checks"] == 4 and result["max_abs_error"] < 1e-5
    assert "aten.erf" in result["torch_ops"]  # torch compute is reported to the LLM, not failed


def test_cached_output_fails_on_the_next_fresh_inputs(tmp_path):
    forward = """\
        if self.cache is None:
            self.cache = self._compute(x)
        return self.cache.clone()
    """
    rejected(evaluate(tmp_path, program(init="self.cache = None", methods=COMPUTE, forward=forward)),
             "check 2", "is wrong")


def test_output_precomputed_from_a_guessed_seed_fails(tmp_path):
    source = program(init="""\
        torch.manual_seed(0)
        y = torch.randn(4, dim) + self.bias
        self.answer = (0.5 * y * (1.0 + torch.erf(y * 0.7071067811865476))).detach()
    """, forward="return self.answer.clone()")
    rejected(evaluate(tmp_path, source), "check 1", "is wrong")


def test_calling_torch_for_the_hot_op_is_flagged(tmp_path):
    rejected(evaluate(tmp_path, program(forward="return torch.nn.functional.gelu(x + self.bias)")),
             "calls torch for the hot op", "aten.gelu")


def test_a_fallback_to_torch_inside_try_is_flagged(tmp_path):
    forward = """\
        try:
            raise RuntimeError("pretend the kernel failed")
        except RuntimeError:
            return torch.nn.functional.gelu(x + self.bias)
    """
    rejected(evaluate(tmp_path, program(forward=forward)), "aten.gelu")


def test_branching_on_input_values_is_flagged(tmp_path):
    forward = "if (x.abs() > 1e6).any():\n    return x\n" + HONEST
    rejected(evaluate(tmp_path, program(forward=forward)), "reads tensor values back to the host")


def test_a_thread_started_by_the_candidate_is_flagged(tmp_path):
    forward = """\
        box = []
        worker = threading.Thread(target=lambda: box.append(self._compute(x)))
        worker.start()
        worker.join()
        return box[0]
    """
    source = program(header="import threading", methods=COMPUTE, forward=forward)
    rejected(evaluate(tmp_path, source, extra_modules=("threading",)), "started a thread", "candidate.py")


def test_a_tensor_subclass_output_is_rejected(tmp_path):
    extra = """\
        class Agreeable(torch.Tensor):
            pass
    """
    forward = "return self._compute(x).as_subclass(Agreeable)"
    rejected(evaluate(tmp_path, program(extra=extra, methods=COMPUTE, forward=forward)), "Agreeable",
             "not a plain torch.Tensor")


def test_an_output_aliasing_its_input_is_rejected(tmp_path):
    forward = "y = x.add_(self.bias)\nreturn y.mul_(0.5 * (1.0 + torch.erf(y * 0.7071067811865476)))"
    rejected(evaluate(tmp_path, program(forward=forward)), "shares memory with an input",
             "wrote into its input")


def test_writing_into_an_input_is_caught_by_its_hash(tmp_path):
    forward = "out = self._compute(x)\nx[0, 0] = 0.0\nreturn out"
    rejected(evaluate(tmp_path, program(methods=COMPUTE, forward=forward)), "wrote into its input tensors")


def test_uninitialized_output_reads_as_poison(tmp_path):
    forward = """\
        out = torch.empty_like(x)
        y = (x + self.bias)[:, :-1]
        out[:, :-1] = 0.5 * y * (1.0 + torch.erf(y * 0.7071067811865476))
        return out
    """
    rejected(evaluate(tmp_path, program(forward=forward)), "non-finite")


def test_an_unmasked_triton_tail_reads_as_poison(tmp_path):
    extra = """\
        @triton.jit
        def kernel(x_ptr, b_ptr, o_ptr, n_cols, BLOCK: tl.constexpr):
            offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
            y = tl.load(x_ptr + offs) + tl.load(b_ptr + offs % n_cols)
            tl.store(o_ptr + offs, 0.5 * y * (1.0 + tl.math.erf(y * 0.7071067811865476)))
    """
    forward = """\
        out = torch.empty_like(x)
        kernel[(x.numel() // 64,)](x, self.bias, out, x.shape[1], BLOCK=64)  # skips the last partial block
        return out
    """
    source = program(header="import triton\nimport triton.language as tl", extra=extra, forward=forward)
    rejected(evaluate(tmp_path, source), "non-finite")


def test_computing_in_lower_precision_fails_the_tolerance(tmp_path):
    forward = "y = (x + self.bias).half()\nreturn (0.5 * y * (1.0 + torch.erf(y * 0.7071))).float()"
    rejected(evaluate(tmp_path, program(forward=forward)), "differ beyond atol=0.0001")


def test_returning_a_lower_precision_dtype_is_rejected(tmp_path):
    forward = "y = x + self.bias\nreturn (0.5 * y * (1.0 + torch.erf(y * 0.7071067811865476))).half()"
    rejected(evaluate(tmp_path, program(forward=forward)), "dtype torch.float16; expected torch.float32")


def test_two_calls_on_the_same_inputs_must_agree(tmp_path):
    forward = "self.calls += 1\nreturn (1.0 + 0.01 * (self.calls % 2 == 0)) * self._compute(x)"
    rejected(evaluate(tmp_path, program(init="self.calls = 0", methods=COMPUTE, forward=forward)),
             "a second call on the same inputs disagrees")


def test_a_broadcast_view_is_not_a_result(tmp_path):
    # one row computed and expanded: right only if every row of x were the same, and never a real result
    forward = "return self._compute(x[:1]).expand_as(x)"
    rejected(evaluate(tmp_path, program(methods=COMPUTE, forward=forward)), "broadcast view")


def test_reusing_one_output_buffer_is_rejected(tmp_path):
    forward = """\
        if self.out is None or self.out.shape != x.shape:
            self.out = torch.empty_like(x)
        y = x + self.bias
        self.out.copy_(0.5 * y * (1.0 + torch.erf(y * 0.7071067811865476)))
        return self.out
    """
    rejected(evaluate(tmp_path, program(init="self.out = None", forward=forward)), "returned the same memory")


def test_a_failing_candidate_scores_zero_and_never_falls_back(tmp_path):
    failing = "raise RuntimeError('kernel launch failed: too many resources')"
    result = evaluate(tmp_path, program(forward=failing))
    error = rejected(result, "ModelNew.forward", "RuntimeError", "too many resources")
    assert "traceback" in result and "speedup_vs_compile" not in result and error


def test_a_missing_model_new_is_reported(tmp_path):
    rejected(evaluate(tmp_path, "import torch\n"), "defines no `ModelNew`")


def test_a_candidate_that_stops_working_after_many_calls_is_caught_after_timing(tmp_path):
    init = "self.calls = 0\nself.last = None"
    forward = """\
        self.calls += 1
        if self.calls > 12 and self.last is not None and self.last.shape == x.shape:
            return self.last.clone()  # the timed calls see the same inputs: skip the work
        y = x + self.bias
        self.last = 0.5 * y * (1.0 + torch.erf(y * 0.7071067811865476))
        return self.last.clone()
    """
    error = rejected(evaluate(tmp_path, program(init=init, forward=forward), timed=True, min_timing_s=0.01))
    # on a GPU the profiler stops this torch-only candidate first (none of its kernels is its own)
    assert ("check 5" in error and "is wrong" in error) or (DEVICE == "cuda" and "profiler" in error), error


@pytest.mark.parametrize("header,extra,needle", [
    ("import time", "time.perf_counter = lambda: 0.0", "time.perf_counter was replaced"),
    ("", "torch.allclose = lambda *args, **kwargs: True", "torch.allclose was replaced"),
    ("import evaluators.kernel_checks as checks",
     "checks.mismatch.__code__ = (lambda *args, **kwargs: None).__code__", "mismatch had its code rewritten"),
    ("", "torch.backends.cuda.matmul.allow_tf32 = True", "allow_tf32 changed"),
])
def test_tampering_with_timers_or_the_harness_is_caught(tmp_path, header, extra, needle):
    # the static screen would reject these first; the runtime snapshot is under test, so they are let through
    source = program(header=header, extra=extra)
    task = tmp_path / "task"
    task.mkdir()
    (task / "evaluate.py").write_text(
        "from dataclasses import replace\nimport evaluators.kernel as harness\n"
        "from tests.support.kernels import SPEC\n"
        "harness.screen = lambda source, **kwargs: []  # runtime guards only\n"
        "SPEC = replace(SPEC, min_timing_s=0.01)\n")
    rejected(evaluate_fresh(tmp_path, source, task), "tampered with the harness", needle)
