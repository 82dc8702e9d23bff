"""The README's first command, for real: `evolve run circle_packing` with the embedded model, no key, no network."""

import os
import subprocess
import sys

import pytest

from evolve.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.local_model]


def test_circle_packing_run_with_the_embedded_model(tmp_path):
    storage = f"sqlite:///{tmp_path / 'evolve.db'}"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    proc = subprocess.run(
        [sys.executable, "-m", "evolve", "run", "circle_packing", "-n", "3", "--seed", "1", "--storage", storage,
         "-q"], capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "stopped: iterations" in proc.stdout

    store = Store(storage)
    [run] = store.list_runs()
    assert run["status"] == "finished"
    assert store.get_run(run["id"])["config"]["models"][0]["provider"] == "local"
    candidates = list(store.iter_candidates(run["id"]))
    seed, children = candidates[0], candidates[1:]
    assert seed.edit_kind == "seed" and seed.score == pytest.approx(2.541421356237309)
    assert len(children) == 3
    for child in children:
        # whatever the small model wrote, it is stored with its prompt and reply and a status with a reason
        calls = store.llm_calls_for(child.id)
        assert calls and calls[0]["model"] == "local:smollm2-135m" and calls[0]["reply"]
        assert child.completion_tokens > 0
        assert child.status == "ok" or child.reason
