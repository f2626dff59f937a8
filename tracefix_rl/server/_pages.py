"""The server's web pages: the landing page at ``/``, offline API docs, and the viewer at ``/viewer``.

* ``GET /``: what this server is, with links to the viewer, the API docs, ``/health`` and the
  task list (HTML; a static description, open like ``/docs``).
* ``GET /docs`` (Swagger UI) and ``GET /redoc`` (ReDoc) load their scripts and styles from
  ``/docs-static/``, served from the ``fastapi-offline`` package's files: no CDN, no fonts from
  the internet, so the docs work on a machine without internet.
* ``/viewer``: the trajectory viewer (:mod:`tracefix_rl.viewer`) under the server's rules: it
  answers only when the trajectory routes are on (an API key, or ``--trajectory-routes``), a
  client sees only the episodes recorded for its key, and task pages never show a reference
  solution, a bug description or hidden tests (the server's clients are the agents).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from tracefix_rl.server._auth import ApiKeys

__all__ = ["DOCS_STATIC", "VIEWER_PATH", "add_pages"]

VIEWER_PATH = "/viewer"
DOCS_STATIC = "/docs-static"

#: The docs pages' policy: their scripts, styles, images and fonts come from this server only (ReDoc's
#: footer logo and Swagger UI's validator badge point at other hosts; the browser never fetches them).
_DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
             "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
             "frame-ancestors 'none'")

_DISABLED = ("the trajectory viewer is off on this server: start it with --api-key (each key sees its own "
             "episodes) or --trajectory-routes (TRACEFIX_TRAJECTORY_ROUTES=1), or run 'tracefix view' where the "
             "trajectory store lives")


def _docs_assets() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).resolve().parent / "static"


def _docs_policy(response: HTMLResponse) -> HTMLResponse:
    response.headers["content-security-policy"] = _DOCS_CSP
    return response


def add_pages(app: FastAPI, *, recorder: Any, keys: ApiKeys, viewer_enabled: bool, description: str,
              version: str) -> None:
    """Add the landing page, the offline docs and the mounted viewer to the server's ``app``.

    ``app`` must have been created with ``docs_url=None, redoc_url=None``.
    """
    from tracefix_rl.viewer import create_viewer_app, site_page

    app.mount(DOCS_STATIC, StaticFiles(directory=str(_docs_assets())), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _docs_policy(get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} - API docs",
                                   swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
                                   oauth2_redirect_url=None))

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _docs_policy(get_redoc_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} - API reference",
                              redoc_js_url=f"{root}{DOCS_STATIC}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
                                           with_google_fonts=False))

    @app.get("/", include_in_schema=False)
    def landing(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = site_page("landing.html", base=f"{root}{VIEWER_PATH}", root=root, description=description,
                         version=version, viewer_enabled=viewer_enabled, keys_required=keys.required,
                         disabled_reason=_DISABLED)
        return HTMLResponse(html)

    @app.get("/web", include_in_schema=False)
    def web(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/", status_code=307)

    def store() -> Any:
        return recorder if recorder is not None and hasattr(recorder, "list_episodes") else None

    viewer = create_viewer_app(store, access=lambda headers: keys.principal(headers) or "\x00nobody",
                               enabled=viewer_enabled, disabled_reason=_DISABLED, show_solutions=False,
                               title="TraceFix-RL trajectories")
    app.mount(VIEWER_PATH, viewer, name="viewer")
