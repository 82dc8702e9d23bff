"""The timing, physics-floor and profiler rules of the kernel harness: synthetic numbers and the CPU clock."""

from __future__ import annotations

import time

import pytest
import torch

from evaluators import kernel_physics as physics
from evaluators.kernel_profile import library_problems, own_kernel_names
from evaluators.kernel_timing import Backend, CrossCheck, Stats, cross_check, interleaved, ratio_stats


def test_stats_report_median_spread_and_cv():
    stats = Stats.of([1.0, 2.0, 3.0, 4.0, 100.0])
    assert stats.median == 3.0 and stats.trials == 5 and stats.total == 110.0
    assert stats.spread == pytest.approx((4.0 - 2.0) / 3.0)
    assert stats.cv > 1.0  # the outlier shows in the CV, not in the median


def test_speedups_come_from_per_round_ratios():
    assert ratio_stats([2.0, 4.0, 6.0], [1.0, 2.0, 3.0]).median == 2.0
    assert ratio_stats([2.0, 4.0, 6.0], [1.0, 2.0, 3.0]).spread == 0.0


def test_interleaved_timing_rotates_and_gives_each_function_its_minimum_time():
    order: list[str] = []
    fns = {name: (lambda n=name, s=delay: (order.append(n), time.sleep(s)))
           for name, delay in (("candidate", 0.001), ("eager", 0.002), ("compile", 0.0015))}
    samples = interleaved(fns, Backend("cpu"), min_total_s=0.03, warmup=1)
    assert {len(s) for s in samples.values()} == {len(samples["candidate"])}
    assert len(samples["candidate"]) >= 10
    assert sum(samples["candidate"]) >= 0.03
    assert Stats.of(samples["eager"]).median > Stats.of(samples["candidate"]).median
    timed = order[-3 * len(samples["candidate"]):]  # the last rounds: each function once per round
    firsts = {tuple(timed[i:i + 3]) for i in range(0, len(timed), 3)}
    assert len(firsts) == 3  # the order rotates from round to round


def test_interleaved_timing_stays_within_its_budget():
    samples = interleaved({"slow": lambda: time.sleep(0.01)}, Backend("cpu"), min_total_s=10.0, budget_s=0.05,
                          min_rounds=2, warmup=0)
    assert len(samples["slow"]) < 10


def test_the_wall_clock_cross_check_flags_work_the_events_missed():
    assert CrossCheck(event_s=0.010, wall_s=0.0102, calls=100).problem() is None  # sync overhead only
    problem = CrossCheck(event_s=0.001, wall_s=0.010, calls=100).problem()  # a side stream did the work
    assert problem and "outside the timed stream" in problem


def test_the_cross_check_runs_on_the_cpu_stand_in():
    check = cross_check(lambda: time.sleep(0.0005), Backend("cpu"), per_call_s=0.0005, min_total_s=0.005)
    assert check.calls >= 3 and check.problem() is None


def test_known_gpus_have_peaks_and_unknown_ones_use_the_measured_bandwidth():
    h100 = physics.peaks_for("NVIDIA H100 80GB HBM3")
    assert h100 is not None and h100.bandwidth >= 3.35e12 and h100.flops["float16"] >= 989e12
    assert physics.peaks_for("NVIDIA H200").name == "H200"
    odd = physics.peaks_for("Some Future GPU", measured_bandwidth=1e12)
    assert odd is not None and odd.bandwidth == 1.5e12 and odd.flops == {}
    assert physics.peaks_for("Some Future GPU") is None


def test_the_physics_floor_is_the_larger_of_memory_and_compute_bounds():
    peaks = physics.Peaks("toy", bandwidth=1e12, flops={"float16": 1e15})
    assert physics.floor_seconds(10**9, 0, torch.float16, peaks) == pytest.approx(1e-3)
    assert physics.floor_seconds(10**3, 4e12, torch.float16, peaks) == pytest.approx(4e-3)
    # no float32 rate known: the memory bound alone
    assert physics.floor_seconds(10**3, 4e12, torch.float32, peaks) == pytest.approx(1e-9)
    assert physics.too_fast(0.5e-3, 1e-3) and "pending review" in physics.too_fast(0.5e-3, 1e-3)
    assert physics.too_fast(0.95e-3, 1e-3) is None


def test_flops_and_bytes_of_a_reference():
    model = torch.nn.Linear(64, 32, bias=False)
    x = torch.randn(16, 64)
    assert physics.flops_of(model, [x]) == 2 * 16 * 64 * 32
    assert physics.bytes_read([x], model) == (16 * 64 + 64 * 32) * 4


def test_own_kernels_are_found_in_triton_and_cuda_sources():
    source = '''
import triton
@triton.jit
def fused_gelu(x):
    pass
CUDA = r"""extern "C" __global__ void __launch_bounds__(256) row_max(float* x) {}"""
'''
    assert own_kernel_names(source) == {"fused_gelu", "row_max"}


def test_library_kernels_doing_the_hot_op_are_flagged():
    kernels = [("ampere_fp16_s16816gemm_fp16_128x128_ldg8_f2f_stages_32x5_nn", 9e-4), ("fused_relu", 1e-5)]
    found = library_problems(kernels, {"fused_relu"}, [r"gemm"], max_share=0.1)
    assert any("for the hot op" in f for f in found) and any("of the GPU time" in f for f in found)


def test_glue_library_kernels_under_the_share_pass_and_own_kernels_are_recognised():
    fill = "void at::native::vectorized_elementwise_kernel<4, FillFunctor>"
    kernels = [("matmul_bias_relu_kernel", 1e-3), (fill, 1e-5)]
    assert library_problems(kernels, {"matmul_bias_relu_kernel"}, [r"gemm"], max_share=0.1) == []


def test_a_call_that_runs_only_library_kernels_is_flagged():
    kernels = [("void at::native::(anonymous namespace)::cunn_SoftMaxForward<4, float>", 1e-4)]
    found = library_problems(kernels, {"softmax_kernel"}, [r"softmax"], max_share=0.1)
    assert any("none of the GPU kernels" in f for f in found) and any("hot op" in f for f in found)


def test_inductor_generated_triton_kernels_count_as_library():
    kernels = [("triton_poi_fused_add_gelu_0", 1e-4), ("my_kernel", 1e-6)]
    assert library_problems(kernels, {"my_kernel"}, [], max_share=0.1)
