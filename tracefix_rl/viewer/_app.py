"""The viewer's ASGI application: pages over a trajectory store (Starlette + Jinja2, no CDN).

Routes (relative to where the app is mounted):

* ``GET /``: the episode list (filters, sort, pages; see :func:`parse_list_query`);
* ``GET /episodes/{id}``: one episode (header, charts, timeline, every step);
* ``GET /episodes/{id}/steps/{n}/observation``: the observation the agent saw at step ``n``, as
  the store kept it (``get_observation``; the episode page loads it when a step's box is opened);
* ``POST /api/episodes/{id}/replay``: verified replay as JSON (``verified``, ``summary``,
  ``first_divergence``, ``diff``); needs the ``X-Requested-With: tracefix-viewer`` header,
  which a cross-site form cannot send;
* ``GET /tasks`` and ``GET /tasks/{name}``: the task bank and one task as the agent sees it
  (the reference, the bug and the hidden tests only when ``show_solutions``);
* ``GET /compare?a=ID&b=ID``: two episodes of one task side by side;
* ``GET /static/...``: the stylesheet and script (package data).

Every page is server-rendered with autoescaping (program text, thoughts and test output are
attacker-controlled) and sent with a Content-Security-Policy that allows only this origin's
own script and styles. Handlers stay thin: queries live in :mod:`tracefix_rl.data.trajectories`,
page content in :mod:`tracefix_rl.viewer._present`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tracefix_rl.core.errors import TraceFixError
from tracefix_rl.data.trajectories import (
    MAX_PER_PAGE,
    SORT_KEYS,
    EpisodeQuery,
    TrajectoryStore,
    episode_facets,
    query_episodes,
)
from tracefix_rl.viewer._highlight import pygments_css
from tracefix_rl.viewer._present import episode_view, format_time, task_view

__all__ = ["REPLAY_HEADER", "ViewerError", "create_viewer_app", "parse_list_query", "site_page"]

HERE = Path(__file__).resolve().parent
#: The header (and value) the replay endpoint requires: custom headers force a CORS preflight.
REPLAY_HEADER = ("x-requested-with", "tracefix-viewer")
_EPISODE_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
_TASK_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
_SECURITY_HEADERS = {"content-security-policy": _CSP, "x-content-type-options": "nosniff",
                     "referrer-policy": "no-referrer", "x-frame-options": "DENY"}

#: Who may see what: ``None`` means every episode; a string restricts to that owner's episodes.
Access = Callable[[Mapping[str, str]], str | None]


class ViewerError(TraceFixError):
    """A request the viewer cannot answer (bad parameter, unknown episode); carries the status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                      autoescape=select_autoescape(["html"], default=True), trim_blocks=True, lstrip_blocks=True)
    env.filters["time"] = format_time
    env.filters["score"] = lambda v: "" if v is None else f"{v:.2f}"
    env.filters["signed"] = lambda v, d=2: "" if v is None else f"{v:+.{d}f}"
    env.filters["ms"] = lambda v: "" if v is None else f"{v:.1f} ms"
    return env


_SITE: Environment | None = None


def site_page(template: str, **context: Any) -> str:
    """Render one of the viewer's templates outside the viewer (the server's landing page);
    ``context`` must give ``base``, the viewer's URL prefix, whose static files the page uses."""
    global _SITE
    if _SITE is None:
        _SITE = _templates()
    return _SITE.get_template(template).render(title="TraceFix-RL", show_solutions=False, replay=False, **context)


# -- the list's query string --------------------------------------------------------------------


def _number(params: Mapping[str, str], name: str) -> float | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ViewerError(400, f"{name}: not a number: {raw[:40]!r}") from None
    if not math.isfinite(value):
        raise ViewerError(400, f"{name}: must be a finite number, got {raw[:40]!r}")
    return value


def _date(params: Mapping[str, str], name: str, *, end: bool) -> float | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        day = dt.datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ViewerError(400, f"{name}: not a date of the form YYYY-MM-DD: {raw[:40]!r}") from None
    return (day + dt.timedelta(days=1)).timestamp() - 1e-6 if end else day.timestamp()


def _choice(params: Mapping[str, str], name: str, mapping: Mapping[str, Any]) -> Any:
    raw = (params.get(name) or "").strip()
    if raw not in mapping:
        raise ViewerError(400, f"{name}: must be one of {', '.join(repr(k) for k in mapping if k)}, got {raw[:40]!r}")
    return mapping[raw]


def _int(params: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ViewerError(400, f"{name}: must be a whole number from {lo} to {hi}, got {raw[:40]!r}")
    return int(raw)


def _text(params: Mapping[str, str], name: str) -> str | None:
    raw = (params.get(name) or "").strip()
    if len(raw) > 512:
        raise ViewerError(400, f"{name}: longer than 512 characters")
    return raw or None


def parse_list_query(params: Mapping[str, str], *, owner: str | None) -> EpisodeQuery:
    """The episode list's query string as an :class:`EpisodeQuery`; :class:`ViewerError` (400)
    names the first bad parameter.

    Parameters: ``task``, ``tier``, ``agent`` (exact values), ``resolved`` (``yes``/``no``),
    ``flagged`` (``yes``/``no``), ``min_score``/``max_score`` (numbers), ``since``/``until``
    (``YYYY-MM-DD``, UTC, inclusive), ``sort`` (a key of ``SORT_KEYS``), ``order``
    (``desc``/``asc``), ``page`` (from 1) and ``per_page`` (1 to ``MAX_PER_PAGE``).
    """
    yes_no = {"": None, "yes": True, "no": False}
    try:
        return EpisodeQuery(
            task=_text(params, "task"), difficulty=_text(params, "tier"), agent=_text(params, "agent"),
            resolved=_choice(params, "resolved", yes_no), flagged=_choice(params, "flagged", yes_no),
            min_score=_number(params, "min_score"), max_score=_number(params, "max_score"),
            since=_date(params, "since", end=False), until=_date(params, "until", end=True),
            sort=_choice(params, "sort", {"": "start_time", **{k: k for k in SORT_KEYS}}),
            descending=_choice(params, "order", {"": True, "desc": True, "asc": False}),
            page=_int(params, "page", 1, 1, 10**9), per_page=_int(params, "per_page", 50, 1, MAX_PER_PAGE),
            owner=owner)
    except ValueError as exc:
        raise ViewerError(400, str(exc)) from None


# -- the application ------------------------------------------------------------------------


def create_viewer_app(store: TrajectoryStore | Callable[[], TrajectoryStore | None], *,
                      access: Access | None = None, enabled: bool = True, disabled_reason: str = "",
                      show_solutions: bool = True, replay: bool = True, max_concurrent_replays: int = 1,
                      title: str = "TraceFix-RL trajectories") -> Starlette:
    """The viewer as an ASGI app, standalone (``tracefix view``) or mounted (the server's ``/viewer``).

    Args:
        store: the trajectory store to read, or a callable returning it (``None``: the app
            answers that nothing is recorded).
        access: maps a request's headers to the owner whose episodes it may see (``None`` from
            the callable: every episode). Without it every episode is visible.
        enabled: ``False`` answers every page with 403 and ``disabled_reason`` (a server whose
            trajectory routes are off).
        show_solutions: whether task pages may reveal the reference, the bug and the hidden tests
            (never on a server whose clients are the agents being evaluated).
        replay: whether the "verify replay" button is offered (it re-runs the episode in the sandbox).
        max_concurrent_replays: replays run at once; more get 429.
    """
    templates = _templates()
    gate = asyncio.Semaphore(max(1, max_concurrent_replays))

    def get_store() -> TrajectoryStore:
        found = store() if callable(store) and not isinstance(store, TrajectoryStore) else store
        if found is None:
            raise ViewerError(501, "no trajectory store: this process records no episodes (TRACEFIX_RECORD=0)")
        return found

    def owner_of(request: Request) -> str | None:
        if not enabled:
            raise ViewerError(403, disabled_reason or "the viewer is disabled")
        return access(request.headers) if access is not None else None

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        base = request.scope.get("root_path", "")
        html = templates.get_template(name).render(base=base, title=title, show_solutions=show_solutions,
                                                   replay=replay, **context)
        return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)

    def load(episode_id: str, owner: str | None) -> dict[str, Any]:
        if not _EPISODE_ID.match(episode_id):
            raise ViewerError(400, "episode id: 1-128 letters, digits and ._:@-")
        st = get_store()
        if not st.has_episode(episode_id) or (owner is not None and st.episode_owner(episode_id) != owner):
            raise ViewerError(404, f"no recorded episode {episode_id!r}" + (" for this client" if owner else ""))
        return st.load_episode(episode_id)

    async def list_page(request: Request) -> Response:
        owner = owner_of(request)
        query = parse_list_query(request.query_params, owner=owner)
        st = get_store()
        result, facets = await run_in_threadpool(lambda: (query_episodes(st, query), episode_facets(st, owner=owner)))
        params = {k: v for k, v in request.query_params.items() if v and k != "page"}

        def link(**change: Any) -> str:
            merged = {**params, **{k: str(v) for k, v in change.items() if v is not None}}
            return "?" + urlencode(merged)

        return page(request, "list.html", result=result, facets=facets, params=request.query_params, link=link,
                    sort_keys=list(SORT_KEYS), max_per_page=MAX_PER_PAGE)

    async def episode_page(request: Request) -> Response:
        owner = owner_of(request)
        eid = request.path_params["episode_id"]
        record = await run_in_threadpool(load, eid, owner)
        view = await run_in_threadpool(episode_view, record)
        return page(request, "episode.html", ep=view)

    def observation(episode_id: str, step: int, owner: str | None) -> dict[str, Any]:
        if not _EPISODE_ID.match(episode_id):
            raise ViewerError(400, "episode id: 1-128 letters, digits and ._:@-")
        st = get_store()
        if not st.has_episode(episode_id) or (owner is not None and st.episode_owner(episode_id) != owner):
            raise ViewerError(404, f"no recorded episode {episode_id!r}" + (" for this client" if owner else ""))
        try:
            return st.get_observation(episode_id, step).model_dump(mode="json")
        except TraceFixError as exc:
            raise ViewerError(404, str(exc)) from None

    async def observation_page(request: Request) -> Response:
        owner = owner_of(request)
        raw = request.path_params["step"]
        if not raw.isdigit() or int(raw) > 10**6:
            raise ViewerError(400, f"step: a whole number, got {raw[:20]!r}")
        obs = await run_in_threadpool(observation, request.path_params["episode_id"], int(raw), owner)
        code = sorted((int(k), str(v)) for k, v in (obs.get("code_dict") or {}).items())
        return page(request, "observation.html", o=obs, code=code)

    async def replay_api(request: Request) -> Response:
        try:
            owner = owner_of(request)
            if not replay:
                raise ViewerError(403, "replay is disabled in this viewer")
            if request.headers.get(REPLAY_HEADER[0]) != REPLAY_HEADER[1]:
                raise ViewerError(403, f"send the header {REPLAY_HEADER[0]}: {REPLAY_HEADER[1]} "
                                       "(cross-site requests cannot)")
            eid = request.path_params["episode_id"]
            record = await run_in_threadpool(load, eid, owner)
        except ViewerError as exc:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        if gate.locked():
            return JSONResponse({"detail": "another replay is running; try again when it has finished"},
                                status_code=429)
        async with gate:
            from tracefix_rl.env.replay import replay_record

            try:
                report = await run_in_threadpool(replay_record, record)
            except TraceFixError as exc:
                return JSONResponse({"detail": f"cannot replay this episode: {exc}"}, status_code=409)
        data = report.to_dict()
        data["summary"] = report.summary()
        data["differences"] = [{k: _short(v) for k, v in d.items()} for d in report.differences]
        return JSONResponse(data)

    def _load_task(name: str) -> Any:
        from tracefix_rl.data.tasks import get_task

        if not _TASK_NAME.match(name):
            raise ViewerError(400, "task name: letters, digits and ._-")
        try:
            return get_task(name)
        except TraceFixError:
            raise ViewerError(404, f"no task {name!r} in the built-in bank") from None

    async def tasks_page(request: Request) -> Response:
        owner_of(request)
        from tracefix_rl.data.tasks import list_tasks

        return page(request, "tasks.html", tasks=list_tasks())

    async def task_page(request: Request) -> Response:
        owner_of(request)
        task = _load_task(request.path_params["name"])
        return page(request, "task.html", task=await run_in_threadpool(task_view, task))

    async def compare_page(request: Request) -> Response:
        owner = owner_of(request)
        a, b = (request.query_params.get(k, "").strip() for k in ("a", "b"))
        if not a or not b:
            raise ViewerError(400, "compare needs two episodes: ?a=EPISODE_ID&b=EPISODE_ID")
        left = await run_in_threadpool(load, a, owner)
        right = await run_in_threadpool(load, b, owner)
        if left["task_name"] != right["task_name"]:
            raise ViewerError(400, f"compare shows two episodes of the same task; these are of "
                                   f"{left['task_name']!r} and {right['task_name']!r}")
        views = [await run_in_threadpool(episode_view, left), await run_in_threadpool(episode_view, right)]
        rows = max(len(v.steps) for v in views)
        return page(request, "compare.html", left=views[0], right=views[1], rows=range(rows))

    css = pygments_css()

    async def code_css(request: Request) -> Response:
        return Response(css, media_type="text/css", headers={"cache-control": "max-age=3600"})

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ViewerError)
        return page(request, "error.html", status=exc.status, code=exc.status, message=exc.message)

    async def not_found(request: Request, exc: Exception) -> Response:
        return page(request, "error.html", status=404, code=404, message=f"no page {request.url.path!r}")

    routes = [
        Route("/", list_page, name="list"),
        Route("/episodes/{episode_id}", episode_page, name="episode"),
        Route("/episodes/{episode_id}/steps/{step}/observation", observation_page, name="observation"),
        Route("/api/episodes/{episode_id}/replay", replay_api, methods=["POST"], name="replay"),
        Route("/tasks", tasks_page, name="tasks"),
        Route("/tasks/{name}", task_page, name="task"),
        Route("/compare", compare_page, name="compare"),
        Route("/static/code.css", code_css, name="code_css"),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={ViewerError: on_error, 404: not_found})


def _short(value: Any, limit: int = 4000) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"... ({len(value) - limit} more characters)"
    return value if isinstance(value, str | int | float | bool | type(None)) else _short(repr(value), limit)
