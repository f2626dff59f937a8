"""The trajectory viewer: web pages showing what an agent did, step by step.

One ASGI application (:func:`create_viewer_app`) serves the episode list (filters, sort,
server-side pages), the episode page (header, reward and pass-count charts, a timeline, and
for every step the thought, the action, the highlighted code diff, the test results with
expected and actual values, the trace, the full observation the agent saw, security flags and
timing, plus a verify-replay button), the task page and a side-by-side comparison of two
episodes of one task. ``tracefix view`` runs it on 127.0.0.1; the server mounts it at
``/viewer`` under its API-key rules. Every asset ships in the package (no CDN); everything
shown is escaped.

Needs the ``viewer`` extra (``starlette``, ``jinja2``, ``uvicorn``); the ``server`` extra
includes it.
"""

from __future__ import annotations

from tracefix_rl.viewer._app import REPLAY_HEADER, ViewerError, create_viewer_app, parse_list_query, site_page

__all__ = ["REPLAY_HEADER", "ViewerError", "create_viewer_app", "parse_list_query", "site_page"]
