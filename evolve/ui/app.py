"""The dashboard's web application: HTML pages (rendered with autoescaping) and the JSON their scripts poll.

Pages: `/` (runs and batches), `/runs/{id}`, `/candidates/{id}`, `/batches/{id}`. Data: `/api/runs`,
`/api/runs/{id}` (figures and timelines), `/api/runs/{id}/grid`, `/api/runs/{id}/lineage`,
`/api/candidates/{id}/diff`, `/api/batches/{id}`; `/candidates/{id}/source` downloads a candidate like
`evolve best --out`. Candidate-written text reaches a page only through the templates (escaped, control
characters made visible by `evolve.safe_text.shown`) or as JSON that the scripts put into the page as text.
"""

from __future__ import annotations

import json
import math
import re
import threading
from pathlib import Path
from typing import Any

import plotly
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from evolve.safe_text import shown
from evolve.ui import queries
from evolve.ui.grid import GridCache
from evolve.ui.lineage import lineage
from evolve.ui.security import Guard

HERE = Path(__file__).parent
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
TEXT_LIMIT = 200_000  # characters of one text shown on a page; the download has all of it
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def json_response(data: Any, status: int = 200) -> Response:
    """JSON with non-finite floats as null (a score can be inf), never cached: the pages poll it."""
    body = json.dumps(_finite(data), separators=(",", ":"), allow_nan=False, default=str)
    return Response(body, status, media_type="application/json", headers={"cache-control": "no-store"})


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    env.filters["shown"] = lambda text, limit=TEXT_LIMIT: "" if text is None else shown(text, limit)
    env.filters["score"] = lambda v: "n/a" if v is None else f"{v:.6g}"
    env.filters["pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, default=str)
    return env


def create_app(engine: Engine, *, token: str | None = None, storage_label: str = "", warm: bool = False) -> ASGIApp:
    """The dashboard over a read-only engine (see `evolve.ui.readonly.open_readonly`); `warm` replays the newest
    runs' grids on a thread at once, so the first page of a big run does not wait for it."""
    env = _templates()
    grids = GridCache(engine)
    reader = queries.Reader(engine)
    if warm:
        threading.Thread(target=lambda: grids.warm(reader.runs(limit=20)), name="evolve-ui-warm", daemon=True).start()

    def page(name: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(storage=storage_label, **context))

    def need_run(request: Request) -> dict[str, Any]:
        run = reader.run(request.path_params["run_id"])
        if run is None:
            raise HTTPException(404, "no such run")
        return run

    def runs_page(request: Request) -> HTMLResponse:
        return page("runs.html")

    def run_page(request: Request) -> HTMLResponse:
        return page("run.html", run=need_run(request))

    def candidate_page(request: Request) -> HTMLResponse:
        cand = queries.candidate(engine, request.path_params["cand_id"])
        if cand is None:
            raise HTTPException(404, "no such candidate")
        parent = cand["parent"]
        diff = queries.diff_lines(parent["source"] if parent else "", cand["source"],
                                  f"parent {parent['id']}" if parent else "(no parent)", f"candidate {cand['id']}")
        return page("candidate.html", c=cand, diff=diff)

    def batch_page(request: Request) -> HTMLResponse:
        batch = queries.get_batch(engine, request.path_params["batch_id"])
        if batch is None:
            raise HTTPException(404, "no such batch")
        return page("batch.html", batch=batch)

    def api_runs(request: Request) -> Response:
        offset = _int(request, "offset", 0)
        return json_response({"runs": reader.runs(limit=_int(request, "limit", 200), offset=offset),
                              "batches": queries.list_batches(engine)})

    def api_run(request: Request) -> Response:
        run = need_run(request)
        return json_response({"run": run, "timeline": reader.timeline(run)})

    def api_grid(request: Request) -> Response:
        return json_response(grids.grid(need_run(request)))

    def api_lineage(request: Request) -> Response:
        run = need_run(request)
        return json_response(reader.remember(("lineage", run["id"], run["updated_at"]),
                                             lambda: lineage(engine, run["id"], queries.maximize(run))))

    def api_diff(request: Request) -> Response:
        found = queries.candidate_diff(engine, request.path_params["cand_id"])
        if found is None:
            raise HTTPException(404, "no such candidate")
        found["diff"] = [(kind, shown(line, 2000)) for kind, line in found["diff"][:5000]]
        found["reason"] = None if found["reason"] is None else shown(found["reason"], 2000)
        return json_response(found)

    def api_batch(request: Request) -> Response:
        batch = queries.get_batch(engine, request.path_params["batch_id"])
        if batch is None:
            raise HTTPException(404, "no such batch")
        return json_response({"batch": {k: batch[k] for k in ("id", "name", "status", "stop_reason")},
                              **queries.batch_summary(reader, batch["id"])})

    def download(request: Request) -> Response:
        found = queries.candidate_source(engine, request.path_params["cand_id"])
        if found is None:
            raise HTTPException(404, "no such candidate")
        source, task_name = found
        name = f"{_SAFE_NAME.sub('_', task_name)}_{request.path_params['cand_id']}.txt"
        return Response(source, media_type="text/plain; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{name}"'})

    def plotly_js(request: Request) -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/", runs_page),
        Route("/favicon.ico", no_icon),
        Route("/runs/{run_id:str}", run_page),
        Route("/candidates/{cand_id:str}", candidate_page),
        Route("/candidates/{cand_id:str}/source", download),
        Route("/batches/{batch_id:str}", batch_page),
        Route("/api/runs", api_runs),
        Route("/api/runs/{run_id:str}", api_run),
        Route("/api/runs/{run_id:str}/grid", api_grid),
        Route("/api/runs/{run_id:str}/lineage", api_lineage),
        Route("/api/candidates/{cand_id:str}/diff", api_diff),
        Route("/api/batches/{batch_id:str}", api_batch),
        Route("/static/plotly.min.js", plotly_js),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Guard(Starlette(routes=routes), token=token)


def _int(request: Request, key: str, default: int) -> int:
    try:
        return max(0, min(10_000, int(request.query_params.get(key, default))))
    except ValueError:
        raise HTTPException(400, f"{key}: expected a whole number") from None
