"""The dashboard in a real headless Chromium (Debian's package, driven by Playwright): a run made by the test with
the real sandbox and a scripted model, served by the real server on 127.0.0.1, read as a person would."""

from __future__ import annotations

import pytest
from conftest import make_toy_task

from evolve.candidate import Candidate
from evolve.store import Store
from evolve.ui.server import start_beside
from tests.support.browser import chromium_browser
from tests.support.ui_runs import make_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui-browser")
    storage = f"sqlite:///{root / 'evolve.db'}"
    run_id = make_run(make_toy_task(root / "toy"), storage)
    dashboard = start_beside(storage, port=0)
    yield storage, run_id, dashboard.address
    dashboard.stop()


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as context:
        yield context


@pytest.fixture
def page(browser):
    """A fresh tab that records script errors, Content-Security-Policy violations and dialogs."""
    tab = browser.new_page()
    tab.problems = []
    tab.dialogs = []
    tab.on("pageerror", lambda exc: tab.problems.append(f"script error: {exc}"))
    tab.on("console", lambda msg: msg.type == "error" and tab.problems.append(f"console: {msg.text}"))
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    tab.close()


def _points(page, chart: str) -> int:
    return page.evaluate(f"() => document.getElementById('{chart}').data.reduce((n, t) => n + (t.x || []).length, 0)")


def _wait_chart(page, chart: str) -> None:
    page.wait_for_function(f"() => {{ const c = document.getElementById('{chart}'); "
                           "return c && c.data && c.data.length > 0 }")


def test_runs_page_lists_the_run(page, served):
    _, run_id, address = served
    page.goto(address)
    row = page.locator("#runs tbody tr", has_text=run_id)
    row.wait_for()
    assert "toy" in row.inner_text() and "finished" in row.inner_text()
    assert page.problems == []


def test_run_page_chart_shows_points_and_the_grid_and_lineage_draw(page, served):
    storage, run_id, address = served
    page.goto(f"{address}runs/{run_id}")
    for chart in ("chart-progress", "chart-failures", "chart-spend", "chart-lineage", "grid-island-0"):
        _wait_chart(page, chart)
    assert _points(page, "chart-progress") >= 10
    scored = sum(1 for c in Store(storage).iter_candidates(run_id, status="ok") if c.edit_kind != "seed")
    assert page.locator("#chart-progress .scatterlayer .point").count() == scored >= 5  # drawn, not only given
    assert page.locator("#f-best").inner_text() == "10"
    assert page.problems == []


def test_a_child_stored_while_the_page_is_open_appears_without_reload(page, served, tmp_path):
    storage, run_id, address = served
    writer = Store(storage)
    writer.set_run_status(run_id, "running")
    try:
        page.goto(f"{address}runs/{run_id}")
        _wait_chart(page, "chart-progress")
        before = _points(page, "chart-progress")
        assert page.locator("#f-children").inner_text().startswith("10")
        best = writer.best_candidate(run_id, maximize=True)
        writer.add_candidate(Candidate(run_id=run_id, source="def value():\n    return 42\n", score=42.0,
                                       edit_kind="diff", parent_id=best.id, generation=best.generation + 1,
                                       model="scripted-ui"))
        page.wait_for_function("() => document.getElementById('f-best').textContent === '42'", timeout=15_000)
        assert page.locator("#f-children").inner_text().startswith("11")
        page.wait_for_function(f"() => document.getElementById('chart-progress').data"
                               f".reduce((n, t) => n + t.x.length, 0) > {before}", timeout=15_000)
    finally:
        writer.set_run_status(run_id, "finished")
    assert page.problems == []


def test_clicking_a_lineage_node_shows_its_diff(page, served):
    _, run_id, address = served
    page.goto(f"{address}runs/{run_id}")
    _wait_chart(page, "chart-lineage")
    page.wait_for_timeout(300)  # let Plotly finish laying out the markers
    page.locator("#chart-lineage").scroll_into_view_if_needed()
    marker = page.locator("#chart-lineage .scatterlayer .trace").nth(1).locator(".point").last
    box = marker.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # Plotly clicks what it hovers
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.locator("#node-panel").wait_for(state="visible")
    diff = page.locator("#node-diff")
    assert diff.locator(".d-add").count() >= 1 and "return" in diff.inner_text()
    assert page.locator("#node-title a").get_attribute("href").startswith("/candidates/")
    assert page.problems == []


def test_hostile_candidate_is_shown_as_text_and_runs_nothing(page, served):
    storage, run_id, address = served
    hostile = next(c for c in Store(storage).iter_candidates(run_id) if "__pwned" in c.source)
    page.goto(f"{address}candidates/{hostile.id}")
    page.locator("pre.code").wait_for()
    assert "<script>window.__pwned = 1; alert(1)</script>" in page.locator("pre.code").inner_text()
    assert "Markup in the reply" in page.locator("body").inner_text()
    assert page.locator("img").count() == 0 and page.locator("#evil").count() == 0
    # its change, shown in the run page's lineage panel through the JSON endpoint, is text as well
    page.goto(f"{address}runs/{run_id}")
    _wait_chart(page, "chart-lineage")
    page.evaluate(f"() => showNode('{hostile.id}')")
    page.locator("#node-panel").wait_for(state="visible")
    assert "onerror" in page.locator("#node-diff").inner_text()
    assert page.locator("#node-panel img").count() == 0 and page.locator("#evil").count() == 0
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__pwned") is None
    assert page.dialogs == []
    assert page.problems == []


def test_clicking_a_grid_cell_opens_its_elite(page, served):
    _, run_id, address = served
    page.goto(f"{address}runs/{run_id}")
    _wait_chart(page, "grid-island-0")
    page.locator("#grid-island-0").scroll_into_view_if_needed()
    # where Plotly drew the first filled cell, in page pixels, from its own axes
    x, y, elite = page.evaluate("""() => {
        const gd = document.getElementById('grid-island-0');
        const t = gd.data[0], L = gd._fullLayout, box = gd.getBoundingClientRect();
        for (let r = 0; r < t.z.length; r++) for (let c = 0; c < t.z[r].length; c++) if (t.customdata[r][c] !== null) {
            return [box.left + L._size.l + L.xaxis.l2p(t.x[c]), box.top + L._size.t + L.yaxis.l2p(t.y[r]),
                    t.customdata[r][c]];
        }
    }""")
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.wait_for_url(f"**/candidates/{elite}")
    assert page.locator("h1").inner_text().startswith(f"Candidate {elite}")
    assert page.problems == []


def test_chart_names_from_the_store_are_shown_as_written(page, served, tmp_path):
    """Plotly reads <b>, <a href> and the like in trace names and titles: a sweep value holding them must show as
    the characters themselves, not as bold text or a link."""
    from tests.support.report_store import add_batch, add_run, make_task_folder

    storage = served[0]
    address = served[2]
    store = Store(storage)
    add_batch(store, "bhostile0001", "hostile-names")
    label = "<b>m</b><a href='https://evil.example/'>x</a>"
    for islands in (1, 2):  # two configurations: Plotly draws a legend only for more than one trace
        add_run(store, task="alpha", task_path=str(make_task_folder(tmp_path, "alpha", 20.0)), batch_id="bhostile0001",
                cell=f"c{islands}", gain=0.5, params={"task": "alpha", "model": label, "islands": islands, "seed": 1})
    store.close()
    page.goto(f"{address}batches/bhostile0001")
    _wait_chart(page, "chart-cells")
    legend = page.locator("#chart-cells .legendtext").first.text_content()
    assert label in legend, legend
    assert page.locator("#chart-cells a").count() == 0 and page.locator("#chart-cells [style*=bold]").count() == 0
    assert page.problems == []
