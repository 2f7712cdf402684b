"""The ``bakeoff view`` web app (Starlette, as ``bakeoff serve``): pages over the run index.

Nothing is served by path: a page names a run by its id in the index, and the app reads that folder's
summary.json and records.jsonl only. The ``Guard`` of ``bakeoff serve`` stands in front (Host, Origin,
JSON bodies), and bound beyond loopback the app asks for an API key (``Authorization: Bearer``, or
``?key=`` once, which sets a same-site cookie). Handlers are ``async`` and do their (short) work on the
event loop, so the SQLite index is used from one thread only.
"""

from __future__ import annotations

import math
import secrets
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bakeoff.analysis.compare import compare, parse_rules
from bakeoff.errors import BakeoffError
from bakeoff.reporters.html import render_html
from bakeoff.reporters.report import RunReport
from bakeoff.results.index import IndexedRun, RunIndex
from bakeoff.results.schema import iter_records, load_summary
from bakeoff.serve.guard import Guard
from bakeoff.view import pages, rating

COOKIE = "bakeoff_view_key"
RECORDS_PAGE = 100

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)


class _NotFound(BakeoffError):
    exit_code = 2


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        body,
        status,
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def create_view_app(
    index: RunIndex,
    api_key: str | None = None,
    allowed_hosts: frozenset[str] | None = None,
) -> Any:
    """The ASGI app over ``index``; ``allowed_hosts`` as ``serve.guard.allowed_hosts`` makes them."""

    def run_of(request: Request) -> IndexedRun:
        rid = request.path_params["rid"]
        run = index.get(rid)
        if run is None:
            raise _NotFound(f"no run {rid!r} in the index", hint="open the runs list and pick one")
        return run

    def folder_of(run: IndexedRun) -> Path:
        folder = Path(run.path)
        got = index.add(folder)  # re-read when its summary changed; a damaged one becomes skipped
        if not isinstance(got, IndexedRun):
            raise _NotFound(f"{run.path} is skipped: {got.reason}")
        return folder

    async def runs_list(request: Request) -> Response:
        index.refresh()
        filters = {
            k: request.query_params.get(k, "").strip() for k in ("model", "machine", "suite", "commit")
        }
        runs = index.runs(**{k: v or None for k, v in filters.items()})
        return _html(pages.runs_page(runs, index.skipped(), filters))

    async def runs_json(request: Request) -> Response:
        runs = index.runs(
            **{k: request.query_params.get(k) or None for k in ("model", "machine", "suite", "commit")}
        )
        return JSONResponse(
            {
                "runs": [
                    {**r.__dict__, "models": list(r.models), "statuses": list(r.statuses)} for r in runs
                ],
                "skipped": [s.__dict__ for s in index.skipped()],
            }
        )

    async def run_page(request: Request) -> Response:
        run = run_of(request)
        folder = folder_of(run)
        summary = load_summary(folder)
        answers: dict[tuple[str, str], str] = {}
        for d in iter_records(folder):
            if d.get("status") == "ok" and not d.get("warmup"):
                answers.setdefault((str(d.get("model")), str(d.get("prompt_id"))), str(d.get("output") or ""))
        rows = [(m, p, t) for (m, p), t in answers.items()]
        return _html(pages.run_page(run, summary.run.notes, rows))

    async def report(request: Request) -> Response:
        folder = folder_of(run_of(request))
        return _html(render_html(RunReport.of_run(folder, load_summary(folder))))

    async def records(request: Request) -> Response:
        run = run_of(request)
        folder = folder_of(run)
        offset = max(0, _int(request.query_params.get("offset"), 0))
        rows: list[dict[str, Any]] = []
        more = False
        for i, d in enumerate(iter_records(folder)):
            if i < offset:
                continue
            if len(rows) == RECORDS_PAGE:
                more = True
                break
            rows.append(d)
        return _html(pages.records_page(run, rows, offset, RECORDS_PAGE, more))

    async def compare_runs(request: Request) -> Response:
        ids = list(dict.fromkeys(request.query_params.getlist("ids")))
        if len(ids) < 2:
            return _html(pages.error_page(400, "pick two or more runs to compare"), 400)
        runs = [index.get(i) for i in ids]
        missing = [i for i, r in zip(ids, runs, strict=True) if r is None]
        if missing:
            raise _NotFound(f"no run {missing[0]!r} in the index")
        found = sorted((r for r in runs if r is not None), key=lambda r: r.started_at)
        text = request.query_params.get("rules", "").strip()
        rules = parse_rules(text) if text else []
        folders = [folder_of(r) for r in found]
        comparisons = [compare(folders[0], f, rules) for f in folders[1:]]
        return _html(pages.compare_page(found, comparisons, text))

    async def trend(request: Request) -> Response:
        q = request.query_params
        metric = q.get("metric") or "ttft_s.p50"
        model = q.get("model") or ""
        by = "commit" if q.get("by") == "commit" else "time"
        raw = (q.get("rule") or "").strip().rstrip("%")
        try:
            rule = float(raw) if raw else None
        except ValueError:
            rule = math.nan
        if rule is not None and not math.isfinite(rule):
            return _html(pages.error_page(400, f"gate rule {raw!r} is not a number of percent"), 400)
        points = index.trend(metric, model or None, by)
        models = sorted({m for r in index.runs() for m in r.models})
        return _html(pages.trend_page(points, metric, model, by, rule, models))

    def rater_page(request: Request, todo_of: Any, render: Any) -> Response:
        """A rating page: the rater's name asked first, then what ``todo_of`` says is left, the
        first of it shown by ``render``."""
        run = run_of(request)
        rater = request.query_params.get("rater")
        if not rater:
            return _html(pages.rater_form(request.url.path))
        todo, total = todo_of(folder_of(run), rating.check_rater(rater))
        return _html(render(run, rater.strip(), todo[0] if todo else None, len(todo), total))

    async def rate_page(request: Request) -> Response:
        return rater_page(request, rating.queue, pages.rate_page)

    async def pair_page(request: Request) -> Response:
        return rater_page(request, rating.pairs, pages.pair_page)

    async def post_rate(request: Request) -> Response:
        folder = folder_of(run_of(request))
        body = await _json(request)
        aspects = body.get("aspects") or {}
        if not isinstance(aspects, dict):
            return JSONResponse({"error": "aspects must be an object"}, 400)
        h = rating.rate(
            folder,
            str(body.get("rater", "")),
            str(body.get("row_id", "")),
            body.get("score"),  # type: ignore[arg-type]
            {str(k): (None if v is None else str(v)) for k, v in aspects.items()},
            str(body.get("notes") or ""),
        )
        index.add(folder)
        return JSONResponse({"ok": True, "row_id": h.row_id, "rater": h.rater})

    async def post_prefer(request: Request) -> Response:
        folder = folder_of(run_of(request))
        body = await _json(request)
        v = rating.prefer(
            folder,
            str(body.get("rater", "")),
            str(body.get("first", "")),
            str(body.get("second", "")),
            str(body.get("winner", "")),
        )
        index.add(folder)
        return JSONResponse({"ok": True, "winner": v.winner})

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BakeoffError)
        status = 404 if isinstance(exc, _NotFound) else 400
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status)
        return _html(pages.error_page(status, str(exc)), status)

    routes = [
        Route("/", runs_list),
        Route("/api/runs", runs_json),
        Route("/run/{rid:str}", run_page),
        Route("/run/{rid:str}/report", report),
        Route("/run/{rid:str}/records", records),
        Route("/compare", compare_runs),
        Route("/trend", trend),
        Route("/rate/{rid:str}", rate_page),
        Route("/rate/{rid:str}/pairs", pair_page),
        Route("/api/run/{rid:str}/rate", post_rate, methods=["POST"]),
        Route("/api/run/{rid:str}/prefer", post_prefer, methods=["POST"]),
    ]

    async def on_broken(request: Request, exc: Exception) -> Response:
        """A run's files damaged in a way no reader names (a non-UTF-8 byte, a record without its
        fields...): the page says which error, never a bare 500."""
        if isinstance(exc, sqlite3.OperationalError):
            status, what = 503, f"the run index is busy or cannot be written ({exc}); try again"
        else:
            status, what = 500, f"this run's files could not be read: {type(exc).__name__}: {str(exc)[:300]}"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": what}, status)
        return _html(pages.error_page(status, what), status)

    handlers: dict[Any, Any] = {BakeoffError: on_error}
    for kind in (ValueError, KeyError, TypeError, OSError, RecursionError, sqlite3.Error):
        handlers[kind] = on_broken
    app = Starlette(routes=routes, exception_handlers=handlers)
    guarded = Guard(app, allowed_hosts, command="bakeoff view")
    return guarded if api_key is None else _KeyCheck(guarded, api_key)


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BakeoffError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BakeoffError("the body must be a JSON object")
    return body


class _KeyCheck:
    """An API key on every request: ``Authorization: Bearer KEY``, the cookie, or ``?key=KEY`` once
    (answered with a redirect that sets the cookie and drops the key from the address)."""

    def __init__(self, app: Any, key: str) -> None:
        self.app = app
        self.key = key

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        given = request.query_params.get("key")
        if given is not None and self._ok(given):
            response: Response = RedirectResponse(request.url.remove_query_params("key"), 303)
            response.set_cookie(COOKIE, self.key, httponly=True, samesite="strict")
            await response(scope, receive, send)
            return
        auth = request.headers.get("authorization", "")
        bearer = auth[7:] if auth.lower().startswith("bearer ") else None
        if (bearer is not None and self._ok(bearer)) or self._ok(request.cookies.get(COOKIE, "")):
            await self.app(scope, receive, send)
            return
        await _html(
            pages.error_page(
                401, "this bakeoff view needs its key: open the address it printed (with ?key=...)"
            ),
            401,
        )(scope, receive, send)

    def _ok(self, given: str) -> bool:
        return bool(given) and secrets.compare_digest(given.encode(), self.key.encode())


def start_message(url: str, runs: Sequence[IndexedRun], skipped: int) -> str:
    return f"bakeoff view: {url} ({len(runs)} runs{f', {skipped} skipped' if skipped else ''})"
