"""`evolve run` on a shipped prompt task with the embedded model as both optimizer and task model, for real."""

import os
import shutil
import subprocess
import sys

import pytest

from evolve.store import Store
from evolve.task import load_task

pytestmark = [pytest.mark.slow, pytest.mark.local_model]


def test_prompt_sentiment_run_with_the_embedded_model(tmp_path):
    task = tmp_path / "prompt_sentiment"
    shutil.copytree(load_task("prompt_sentiment").root, task)
    for split, keep in (("dev", 6), ("test", 4)):  # a tiny split keeps the run to about a minute on 2 cores
        path = task / "data" / f"{split}.jsonl"
        path.write_text("".join(path.read_text().splitlines(keepends=True)[:keep]))
    (task / "task.yaml").write_text((task / "task.yaml").read_text().replace("minibatch: 6", "minibatch: 3"))
    storage = f"sqlite:///{tmp_path / 'evolve.db'}"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["COLUMNS"] = "200"
    proc = subprocess.run([sys.executable, "-m", "evolve", "run", str(task), "-n", "3", "--seed", "1",
                           "--storage", storage, "-q"], capture_output=True, text=True, timeout=900, env=env,
                          cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "stopped: iterations" in proc.stdout and "task model local:auto" in proc.stdout
    assert "test accuracy" in proc.stdout and "(n=4)" in proc.stdout

    store = Store(storage)
    [run] = store.list_runs()
    assert run["status"] == "finished"
    seed, *kids = list(store.iter_candidates(run["id"]))
    assert seed.status == "ok" and 0.0 <= seed.score <= 1.0 and seed.metrics["task_calls"] == 6
    assert len(kids) == 3
    for kid in kids:
        # whatever the small model wrote, it is stored with its prompt, reply and a status (with a reason)
        calls = store.llm_calls_for(kid.id)
        assert calls and calls[0]["model"] == "local:smollm2-135m" and calls[0]["reply"] is not None
        assert kid.status == "ok" or kid.reason
    scores = {(s.role, s.split): s for s in store.split_scores(run["id"])}
    assert scores["seed", "test"].examples == 4 and scores["best", "test"].examples == 4
    assert scores["seed", "dev"].score == seed.score
