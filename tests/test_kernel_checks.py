"""The kernel harness' building blocks on CPU tensors: comparison rules, output structure, the op log, the
problem loader and the tamper snapshot."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from evaluators.kernel_checks import as_tensors, mismatch, shares_memory, structure_problems
from evaluators.kernel_guards import Snapshot, ThreadWatch, digest
from evaluators.kernel_oplog import OpLog
from evaluators.kernel_problem import Problem, reference_float64
from tests.support.kernels import SPEC, TASKS


def test_values_within_tolerance_pass_and_the_first_difference_is_named():
    ref = torch.linspace(-2, 2, 12, dtype=torch.float64).reshape(3, 4)
    assert mismatch(ref.float(), ref, torch.float32, 1e-4, 1e-4) is None
    off = ref.float().clone()
    off[1, 2] += 0.01
    assert "1 of 12 values differ" in mismatch(off, ref, torch.float32, 1e-4, 1e-4) and "(1, 2)" in mismatch(
        off, ref, torch.float32, 1e-4, 1e-4)


def test_nan_and_inf_must_sit_where_the_reference_has_them():
    ref = torch.tensor([1.0, float("nan"), float("inf")], dtype=torch.float64)
    assert mismatch(ref.float(), ref, torch.float32, 1e-4, 1e-4) is None
    nans = torch.tensor([float("nan"), float("nan"), float("inf")])
    assert "non-finite" in mismatch(nans, ref, torch.float32, 1e-4, 1e-4)
    assert "misplaced" in mismatch(torch.tensor([1.0, 0.0, float("inf")]), ref, torch.float32, 1e-4, 1e-4)


def test_shape_and_dtype_are_exact():
    ref = torch.zeros(2, 3, dtype=torch.float64)
    assert "shape (3, 2)" in mismatch(torch.zeros(3, 2), ref, torch.float32, 1e-4, 1e-4)
    narrow = torch.zeros(2, 3, dtype=torch.bfloat16)
    assert "dtype torch.bfloat16" in mismatch(narrow, ref, torch.float32, 1, 1)


def test_outputs_must_be_plain_tensors():
    class Sub(torch.Tensor):
        pass

    assert len(as_tensors((torch.zeros(1), torch.ones(1)), "output")) == 2
    with pytest.raises(ValueError, match="not a plain torch.Tensor"):
        as_tensors(torch.zeros(2).as_subclass(Sub), "output")
    with pytest.raises(ValueError, match="Parameter"):
        as_tensors(torch.nn.Parameter(torch.zeros(2)), "output")
    with pytest.raises(ValueError, match="list"):
        as_tensors([[torch.zeros(1)]], "output")


def test_structure_catches_aliases_broadcasts_and_odd_strides():
    x = torch.randn(4, 6)
    model = torch.nn.Linear(6, 6)
    ref = torch.randn(4, 6)
    assert structure_problems([torch.randn(4, 6)], [ref], [x], model) == []
    assert "shares memory with an input" in structure_problems([x[1:]], [ref[1:]], [x], model)[0]
    weight_view = model.weight.detach()[:4]
    assert "shares memory with an weight" in structure_problems([weight_view], [ref], [x], model)[0]
    assert "broadcast view" in structure_problems([torch.randn(1, 6).expand(4, 6)], [ref], [x], model)[0]
    assert "strides" in structure_problems([torch.randn(6, 4).t()], [ref], [x], model)[0]
    assert "returned 2 tensor(s)" in structure_problems([ref, ref], [ref], [x], model)[0]
    assert shares_memory([x], [x.view(-1)]) and not shares_memory([x], [x.clone()])


def test_the_op_log_poisons_fresh_allocations_and_records_ops():
    with OpLog(forbidden={"aten.gelu"}) as log, torch.no_grad():
        fresh = torch.empty(5)
        ints = torch.empty(3, dtype=torch.int32)
        torch.nn.functional.gelu(torch.ones(2))
        float(torch.ones(1).sum())
    assert bool(torch.isnan(fresh).all()) and bool((ints == torch.iinfo(torch.int32).max).all())
    assert log.hot["aten.gelu"] == 1 and log.host_reads["aten._local_scalar_dense"] == 1
    assert "aten.sum" in log.compute and "aten.empty" not in log.compute
    assert len(log.problems()) == 2


def test_the_problem_file_sizes_can_be_changed_and_restored():
    problem = Problem(SPEC.reference)
    problem.set_shape({"batch_size": 3, "dim": 4097})
    assert problem.inputs("cpu", None, 1.0)[0].shape == (3, 4097)
    problem.set_shape({})
    assert problem.sizes() == {"batch_size": 4096, "dim": 8192}
    with pytest.raises(ValueError, match="not integer sizes"):
        problem.set_shape({"rows": 3})


def test_inputs_are_fresh_and_scaled_every_time():
    problem = Problem(TASKS / "kernel_row_softmax" / "reference.py")
    problem.set_shape({"batch_size": 2, "dim": 64})
    a, b = problem.inputs("cpu", None, 1.0)[0], problem.inputs("cpu", None, 8.0)[0]
    assert not torch.equal(a, b) and 4.0 < float(b.std()) < 12.0


def test_the_float64_reference_leaves_the_model_alone():
    problem = Problem(SPEC.reference)
    problem.set_shape({"batch_size": 2, "dim": 8})
    ref, _ = problem.models(torch.nn.Identity, "cpu", torch.float16, seed=1)
    wide = reference_float64(ref, problem.inputs("cpu", torch.float16, 1.0))
    assert wide.dtype == torch.float64 and ref.bias.dtype == torch.float16


def test_models_share_weights_when_built_alike():
    problem = Problem(SPEC.reference)
    problem.set_shape({"batch_size": 2, "dim": 8})
    ref, twin = problem.models(problem.model_class, "cpu", None, seed=7)
    assert torch.equal(ref.bias, twin.bias)


def test_the_snapshot_sees_replaced_callables_and_rewritten_code_and_restores_them():
    import evaluators.kernel_checks as checks

    snapshot = Snapshot()
    original_sleep, original_code = time.sleep, checks.mismatch.__code__
    try:
        time.sleep = lambda s: None
        checks.mismatch.__code__ = (lambda *a, **k: None).__code__
        torch.set_float32_matmul_precision("medium")
        changes = snapshot.changes()
        assert "time.sleep was replaced" in changes
        assert any("mismatch had its code rewritten" in c for c in changes)
        assert any("float32_matmul_precision" in c for c in changes)
    finally:
        snapshot.restore()
    assert time.sleep is original_sleep and checks.mismatch.__code__ is original_code
    assert torch.get_float32_matmul_precision() == "highest" and snapshot.changes() == []


def test_the_thread_watch_counts_threads_even_when_they_already_ended():
    watch = ThreadWatch()
    with watch:
        worker = threading.Thread(target=lambda: None)
        worker.start()
        worker.join()
    assert watch.problems() and "started a thread" in watch.problems()[0]
    threading.Thread(target=lambda: None).start()  # outside the watch: not counted
    assert len(watch.started) == 1


def test_the_input_digest_changes_with_one_bit():
    x = torch.randn(8)
    before = digest([x, 3])
    x.view(torch.int32)[5] ^= 1
    assert digest([x, 3]) != before
