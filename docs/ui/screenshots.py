"""Make the dashboard screenshots in docs/ui/ from a real run: the circle_packing task, the real sandbox and
SQLite, and two scripted models (ScriptedProvider, priced like two real models so the spend chart has dollars)
that move the parent's circles by seeded random steps, now and then writing code that fails.

    python docs/ui/screenshots.py [--children 80] [--out docs/ui]

Needs the `ui` extra, Playwright and Debian's chromium (see tests/support/browser.py).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.llm.types import Reply, Usage
from evolve.runner import new_run
from evolve.store import Store
from evolve.ui.server import start_beside
from tests.support.browser import chromium_browser

_STEPS = re.compile(r"for seed in \[([\d, ]*)\]")
BLOCK = '''\
def construct_packing():
    """Return (centers, radii): a (26, 2) array of centers in [0, 1]^2 and a (26,) array of radii."""
    g = (np.arange(5) + 0.5) / 5
    xs, ys = np.meshgrid(g, g)
    centers = np.vstack([np.column_stack([xs.ravel(), ys.ravel()]), [[0.4, 0.4]]])
    for seed in {seeds}:
        centers = np.clip(centers + np.random.default_rng(seed).normal(0, {step}, centers.shape), 0.02, 0.98)
    return centers, max_radii(centers)


def max_radii(centers):
    x, y = centers[:, 0], centers[:, 1]
    radii = np.clip(np.minimum.reduce([x, y, 1 - x, 1 - y]), 0.0, None)
    for i in range(len(centers)):
        d = np.hypot(x[:i] - x[i], y[:i] - y[i])
        radii[i] = max(0.0, min(radii[i], np.min(d - radii[:i], initial=radii[i])))
    return radii
'''


def mutate(messages: list[dict[str, str]], index: int) -> str:
    """Add one more seeded random step to the parent's steps; every 9th reply crashes, every 13th is no code."""
    chain = _STEPS.search(messages[-1]["content"])  # the parent's steps, shown to the model in its prompt
    steps = [int(s) for s in chain.group(1).split(",") if s.strip()] if chain else []
    if index % 13 == 12:
        return "I would rather explain the idea in words: move the circles apart."
    code = BLOCK.format(seeds=[*steps, 1000 + index], step=0.004 + 0.003 * (index % 3))
    if index % 9 == 8:
        code = code.replace("return centers, max_radii(centers)", "raise ValueError('centers collapsed')")
    return f"Nudge the circles by one more random step.\n```python\n{code}```\n"


class PricedScriptedProvider(ScriptedProvider):
    """A scripted model that charges per token like a hosted one, so the cost chart is not flat."""

    def __init__(self, script, *, name: str, usd_per_mtok: tuple[float, float]) -> None:
        super().__init__(script, name=name)
        self.price = usd_per_mtok

    async def generate(self, messages, **params) -> Reply:
        reply = await super().generate(messages, **params)
        u = reply.usage
        cost = (u.prompt_tokens * self.price[0] + u.completion_tokens * self.price[1]) / 1e6
        return dataclasses.replace(reply, usage=Usage(u.prompt_tokens, u.completion_tokens, cost))


def make_run(storage: str, children: int) -> str:
    ensemble = LLMEnsemble([(PricedScriptedProvider(mutate, name="fast", usd_per_mtok=(0.15, 0.6)), 0.7),
                            (PricedScriptedProvider(mutate, name="careful", usd_per_mtok=(3.0, 15.0)), 0.3)])
    prepared = new_run("circle_packing", storage, {"iterations": children, "islands": 2, "llm_concurrency": 2,
                                                   "eval_concurrency": 2}, ensemble=ensemble)
    asyncio.run(prepared.controller.run())
    prepared.store.close()
    return prepared.run_id


def shoot(storage: str, run_id: str, out: Path) -> None:
    dashboard = start_beside(storage, port=0)
    with chromium_browser() as browser:
        page = browser.new_page()
        page.set_viewport_size({"width": 1400, "height": 900})
        page.goto(dashboard.address)
        page.locator("#runs tbody tr").first.wait_for()
        page.screenshot(path=out / "runs.png")
        page.goto(f"{dashboard.address}runs/{run_id}")
        page.wait_for_function("() => { const c = document.getElementById('chart-lineage'); return c && c.data }")
        page.wait_for_timeout(800)
        page.screenshot(path=out / "run.png", full_page=True)
        page.locator("#chart-lineage").scroll_into_view_if_needed()
        point = page.locator("#chart-lineage .scatterlayer .trace").nth(1).locator(".point").last.bounding_box()
        page.mouse.move(point["x"] + point["width"] / 2, point["y"] + point["height"] / 2)
        page.mouse.click(point["x"] + point["width"] / 2, point["y"] + point["height"] / 2)
        page.locator("#node-panel").wait_for(state="visible")
        page.evaluate("() => document.getElementById('chart-lineage').parentElement.scrollIntoView()")
        page.screenshot(path=out / "lineage.png")
        page.locator("#node-title a").click()
        page.locator("pre.code").wait_for()
        page.screenshot(path=out / "candidate.png", full_page=True)
    dashboard.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=80)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    parser.add_argument("--keep", type=Path, help="keep the run's store here (and reuse its last run if it exists)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evolve-ui-shots-") as folder:
        path = args.keep or Path(folder) / "evolve.db"
        storage = f"sqlite:///{path}"
        runs = Store(storage).list_runs() if path.exists() else []
        run_id = runs[-1]["id"] if runs else make_run(storage, args.children)
        shoot(storage, run_id, args.out)
    print(f"wrote {', '.join(p.name for p in sorted(args.out.glob('*.png')))} to {args.out}")


if __name__ == "__main__":
    main()
