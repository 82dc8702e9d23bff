"""Two `evolve batch resume` of one batch at once: both read the batch as free, exactly one may drive it (two
drivers would run every unfinished run twice, in two worker processes writing the same run)."""

import socket

import psutil
import pytest
from typer.testing import CliRunner

from evolve.batch.driver import BatchDriver, BatchSettings
from evolve.cli import app
from evolve.errors import EvolveError
from evolve.store import Store
from tests.support.report_store import add_batch


def test_only_one_of_two_drivers_that_read_the_batch_together_claims_it(storage, monkeypatch):
    store = Store(storage)
    add_batch(store, "b1", "claim")  # a stopped-or-finished batch with no live driver: free to resume
    seen = store.get_batch("b1")  # what the second driver read before the first one claimed the batch
    first = BatchDriver(store, "b1", BatchSettings(max_concurrent=1))
    first._claim()
    driver = store.get_batch("b1")["settings"]["driver"]
    assert store.get_batch("b1")["status"] == "running"

    second = BatchDriver(store, "b1", BatchSettings(max_concurrent=1))
    monkeypatch.setattr("evolve.batch.driver.find_batch", lambda _store, _ref: seen)
    with pytest.raises(EvolveError, match="claimed by another process"):
        second._claim()
    assert store.get_batch("b1")["settings"]["driver"] == driver  # the first driver's record stands
    assert not store.claim_batch("b1", {}, seen["updated_at"])
    store.close()


def test_status_says_when_a_running_batch_has_lost_its_driver(storage):

    store = Store(storage)
    add_batch(store, "b1", "orphan")
    store.set_batch_status("b1", "running")
    dead = psutil.Popen(["true"])
    dead.wait()  # a pid that has ended: the driver was killed
    store.update_batch_settings("b1", {"max_concurrent": 1, "driver": {
        "host": socket.gethostname(), "pid": dead.pid, "started": 0.0}})
    result = CliRunner().invoke(app, ["batch", "status", "b1", "--storage", storage], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "no process drives this batch any more" in result.output
    me = psutil.Process()
    store.update_batch_settings("b1", {"max_concurrent": 1, "driver": {
        "host": socket.gethostname(), "pid": me.pid, "started": me.create_time()}})
    result = CliRunner().invoke(app, ["batch", "status", "b1", "--storage", storage], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "no process drives" not in result.output
    store.close()


def test_resuming_one_run_of_a_batch_that_is_driving_it_is_refused(storage, tmp_path):
    from tests.support.report_store import add_run, make_task_folder

    store = Store(storage)
    add_batch(store, "b1", "live")
    run_id = add_run(store, task="alpha", task_path=str(make_task_folder(tmp_path, "alpha", 20.0)), batch_id="b1",
                     cell="c1", gain=0.5, params={"task": "alpha", "seed": 1})
    BatchDriver(store, "b1", BatchSettings(max_concurrent=1))._claim()  # this process drives the batch now
    result = CliRunner().invoke(app, ["resume", run_id, "--storage", storage], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "belongs to batch b1, which is running" in result.output, result.output
    assert store.get_run(run_id)["status"] == "finished"  # untouched
    store.close()
