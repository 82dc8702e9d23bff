"""The dashboard over HTTP: real runs in real SQLite stores, the real application (Starlette's test client), and
the `evolve ui` / `evolve run --ui` commands as subprocesses. The browser tests are in test_ui_browser.py."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import block, make_toy_task
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from benchmarks.ui_pages import generate
from evolve.candidate import Candidate
from evolve.errors import EvolveError
from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.runner import resume_run
from evolve.store import EvaluationRecord, Store
from evolve.ui.app import create_app
from evolve.ui.grid import GridCache
from evolve.ui.queries import MAX_BUCKETS, Reader, batch_summary
from evolve.ui.readonly import open_readonly
from tests.support.chat_server import ChatServer
from tests.support.ui_runs import make_run

LOCAL = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    storage = f"sqlite:///{root / 'evolve.db'}"
    run_id = make_run(make_toy_task(root / "toy"), storage)
    return storage, run_id


@pytest.fixture
def client(toy_run):
    return TestClient(create_app(open_readonly(toy_run[0])), base_url=LOCAL)


def _hostile(storage: str, run_id: str) -> Candidate:
    return next(c for c in Store(storage).iter_candidates(run_id) if "__pwned" in c.source)


def test_every_response_carries_the_security_headers(client, toy_run):
    for url in ["/", f"/runs/{toy_run[1]}", "/api/runs", "/static/run.js", "/static/plotly.min.js", "/nowhere",
                f"/api/runs/{toy_run[1]}/grid"]:
        response = client.get(url)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp, url
        assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert response.headers["x-content-type-options"] == "nosniff", url
    assert client.get("/nowhere").status_code == 404


def test_runs_and_run_data_aggregate_the_stored_run(client, toy_run):
    run_id = toy_run[1]
    [run] = client.get("/api/runs").json()["runs"]
    assert run["id"] == run_id and run["children"] == 10 and run["best"] == 10.0 and run["seed_score"] == 1.0
    data = client.get(f"/api/runs/{run_id}").json()
    t = data["timeline"]
    assert t["x"] == sorted(t["x"]) and t["best"][0] == 1.0 and t["best"][-1] == 10.0
    assert t["failures"]["invalid"] and t["failures"]["crashed"] and sum(t["failures"]["rejected-duplicate"]) == 1
    assert data["run"]["models"] == ["scripted-ui"]
    assert sum(t["tokens"]["scripted-ui"][-1:]) == run["tokens"] > 0


def test_grid_is_the_archive_the_run_itself_rebuilds(toy_run, tmp_path):
    storage, run_id = toy_run
    copy = tmp_path / "copy.db"  # resume_run writes (status); the module's store stays as the run left it
    source = Store(storage)
    with source.engine.connect() as conn:
        conn.exec_driver_sql(f"VACUUM INTO '{copy}'")
    engine = open_readonly(str(copy))
    run = Reader(engine).run(run_id)
    grid = GridCache(engine).grid(run)
    ctl = resume_run(run_id, str(copy), {}, ensemble=LLMEnsemble([(ScriptedProvider(["unused"]), 1.0)])).controller
    ctl._restore()
    for island in grid["islands"]:
        expected = {c.id for c in ctl.archive.filled_cells(island["island"]).values()}
        shown = {cid for row in island["ids"] for cid in row if cid}
        assert shown == expected
    assert len(grid["islands"]) == 2


def test_candidate_page_shows_hostile_text_as_text(client, toy_run):
    storage, run_id = toy_run
    cand = _hostile(storage, run_id)
    page = client.get(f"/candidates/{cand.id}").text
    assert "&lt;script&gt;window.__pwned = 1" in page and "<script>window" not in page
    assert "<img src=x" not in page and 'href="javascript:' not in page
    assert "&lt;a id=&#34;evil&#34; href=&#34;javascript:" in page or "&lt;a id=&#34;evil&#34;" in page
    assert re.findall(r"<script[^>]*>", page) == []  # the candidate page runs no script at all
    assert "Markup in the reply" in page  # the model's reply is shown, escaped
    response = client.get(f"/candidates/{cand.id}/source")
    assert response.text == cand.source and "attachment" in response.headers["content-disposition"]


def test_control_characters_are_shown_as_escapes(toy_run, tmp_path):
    storage, run_id = toy_run
    copy = tmp_path / "copy.db"
    with Store(storage).engine.connect() as conn:
        conn.exec_driver_sql(f"VACUUM INTO '{copy}'")
    writer = Store(str(copy))
    cand = writer.add_candidate(Candidate(run_id=run_id, source="print('\x1b]0;owned\x07')", status="crashed",
                                          edit_kind="diff", reason="\x1b[2Kall tests passed"),
                                evaluation=EvaluationRecord("crashed", 1, 1, "\x1b[31mred\u202e", "", 0.1, 0.1, 1))
    page = TestClient(create_app(open_readonly(str(copy))), base_url=LOCAL).get(f"/candidates/{cand.id}").text
    assert "\x1b" not in page and "\u202e" not in page
    assert "\\x1b[2Kall tests passed" in page and "\\x1b[31mred\\u202e" in page


def test_the_dashboard_cannot_write_the_store(toy_run):
    engine = open_readonly(toy_run[0])
    with pytest.raises(OperationalError, match="readonly|read-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM candidates"))
    assert Store(toy_run[0]).count_candidates(toy_run[1]) == 11


def test_a_missing_or_foreign_store_is_a_clear_error(tmp_path):
    with pytest.raises(EvolveError, match="no such database file"):
        open_readonly(str(tmp_path / "missing.db"))
    (tmp_path / "other.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(EvolveError, match="not a readable Evolve store"):
        open_readonly(str(tmp_path / "other.db"))


def test_token_is_required_off_loopback_and_compared_exactly(toy_run):
    app = create_app(open_readonly(toy_run[0]), token="s3cret-token")
    client = TestClient(app, base_url="http://192.0.2.10:8765")
    assert client.get("/api/runs").status_code == 403
    assert client.get("/api/runs?token=s3cret-tokeN").status_code == 403
    assert client.get("/", headers={"cookie": "evolve_ui_token=wrong"}).status_code == 403
    first = client.get("/runs/x?token=s3cret-token&a=1", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/runs/x?a=1"
    assert "httponly" in first.headers["set-cookie"].lower() and "samesite=strict" in first.headers["set-cookie"].lower()
    assert client.get("/api/runs", headers={"cookie": "evolve_ui_token=s3cret-token"}).status_code == 200


def test_loopback_dashboard_refuses_foreign_host_names(client):
    """DNS rebinding: a page on evil.example resolved to 127.0.0.1 must not read the dashboard."""
    assert client.get("/api/runs", headers={"host": "evil.example:8765"}).status_code == 421
    assert client.get("/api/runs", headers={"host": "localhost:8765"}).status_code == 200


def test_big_run_is_aggregated_and_bounded(tmp_path):
    storage = f"sqlite:///{tmp_path / 'big.db'}"
    run_id = generate(storage, 3000)
    engine = open_readonly(storage)
    reader = Reader(engine)
    run = reader.run(run_id)
    t = reader.timeline(run)
    assert len(t["x"]) <= MAX_BUCKETS and t["width"] == 11
    with engine.connect() as conn:
        top = conn.exec_driver_sql("SELECT max(score) FROM candidates WHERE run_id = ? AND status = 'ok'",
                                   (run_id,)).scalar()
        failed = conn.exec_driver_sql("SELECT count(*) FROM candidates WHERE run_id = ? AND status = 'invalid'",
                                      (run_id,)).scalar()
    assert t["best"][-1] == top == run["best"] and sum(t["failures"]["invalid"]) == failed
    client = TestClient(create_app(engine), base_url=LOCAL)
    nodes = client.get(f"/api/runs/{run_id}/lineage").json()["nodes"]
    assert 120 <= len(nodes) <= 1500
    by_id = {n["id"]: n for n in nodes}
    best = max((n for n in nodes if n["score"] is not None), key=lambda n: n["score"])
    assert best["score"] == top
    walk = best  # the best's whole lineage is there, back to the seed
    while walk["parent_id"]:
        walk = by_id[walk["parent_id"]]
    assert walk["edit_kind"] == "seed"


def test_batch_summary_takes_the_median_over_seeds(tmp_path):
    storage = f"sqlite:///{tmp_path / 'batch.db'}"
    store = Store(storage)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO batches VALUES ('b1', 'sweep', '{}', 'sweep.yaml', '{}', 'finished', NULL, 1, 1)")
    finals = {("a", 1): 3.0, ("a", 2): 5.0, ("a", 3): 4.0, ("b", 1): 9.0}
    for (cell, seed), best in finals.items():
        run_id = store.create_run(task_name="toy", task_path="/nonexistent", kind="program", objective="score",
                                  direction="maximize", config={}, environment={}, status="finished", batch_id="b1",
                                  params={"islands": cell, "seed": seed}, cell=cell)
        store.add_candidate(Candidate(run_id=run_id, source="s", score=1.0))
        store.add_candidate(Candidate(run_id=run_id, source=f"c{best}", score=best, edit_kind="diff"))
    summary = batch_summary(Reader(open_readonly(storage)), "b1")
    cells = {c["cell"]: c for c in summary["cells"]}
    assert cells["a"]["median"] == 4.0 and cells["a"]["seeds"] == 3 and (cells["a"]["lo"], cells["a"]["hi"]) == (3, 5)
    assert cells["b"]["curve"][-1] == 9.0 and [c["cell"] for c in summary["cells"]] == ["b", "a"]
    client = TestClient(create_app(open_readonly(storage)), base_url=LOCAL)
    assert client.get("/batches/b1").status_code == 200
    assert client.get("/api/runs").json()["batches"][0]["runs"] == 4


def _read_address(proc: subprocess.Popen, marker: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if marker in line:
            return re.search(r"http://\S+", line).group()
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no '{marker}' line; stderr: {proc.stderr.read()}")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return {**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


def test_evolve_ui_serves_until_interrupted(toy_run):
    proc = subprocess.Popen([sys.executable, "-m", "evolve", "ui", "--storage", toy_run[0], "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        address = _read_address(proc, "Evolve dashboard on")
        assert address.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(address + "api/runs", timeout=10) as response:
            assert toy_run[1] in response.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode in (0, 130, -signal.SIGINT)


def test_evolve_run_with_ui_serves_the_run_while_it_runs(tmp_path, storage):
    task = make_toy_task(tmp_path / "toy")

    def slow(body, index):
        time.sleep(0.5)
        return block(f"    return {index + 2}")

    with ChatServer(replies=slow) as srv:
        proc = subprocess.Popen([sys.executable, "-m", "evolve", "run", str(task), "--model",
                                 f"openai:stub@{srv.openai_base_url}", "-n", "6", "--storage", storage, "-q", "--ui",
                                 "--llm-concurrency", "1", "--eval-concurrency", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        try:
            address = _read_address(proc, "dashboard:")
            with urllib.request.urlopen(address + "api/runs", timeout=10) as response:
                body = response.read().decode()
            assert '"status":"running"' in body
        finally:
            out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "stopped: iterations" in out


def test_a_store_is_read_while_a_writer_commits(toy_run, tmp_path):
    """The page polls while the run writes: the read-only engine sees each new child (SQLite WAL)."""
    storage, run_id = toy_run
    copy = tmp_path / "copy.db"
    with Store(storage).engine.connect() as conn:
        conn.exec_driver_sql(f"VACUUM INTO '{copy}'")
    writer = Store(str(copy))
    engine = open_readonly(str(copy))
    reader = Reader(engine)
    before = reader.run(run_id)["children"]
    writer.add_candidate(Candidate(run_id=run_id, source="new", score=11.0, edit_kind="diff"))
    after = reader.run(run_id)
    assert after["children"] == before + 1 and after["best"] == 11.0


def test_timeline_updated_with_new_children_equals_one_read_from_scratch(tmp_path):
    """A running run's windows are re-read from its last window on; the result must be what a fresh read gives,
    also when the window width grows."""
    storage = f"sqlite:///{tmp_path / 'live.db'}"
    run_id = generate(storage, 893)
    engine = open_readonly(storage)
    writer = Store(storage)
    live = Reader(engine)
    live.timeline(live.run(run_id))
    for added, width in ((3, 3), (10, 4)):  # 897 stored: width 3; then 907: width 4
        for n in range(added):
            writer.add_candidate(Candidate(run_id=run_id, source=f"x = {n}", score=3.0 + n, edit_kind="diff",
                                           status="ok" if n % 3 else "invalid", model="openai:gpt-4o-mini"))
        run = live.run(run_id)
        fresh = Reader(engine)
        assert live.timeline(run) == fresh.timeline(fresh.run(run_id))
        assert live.timeline(run)["width"] == width and run == fresh.run(run_id)
