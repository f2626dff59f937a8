"""A server's recording of one episode, over HTTP: :func:`fetch_episode_record`."""

from __future__ import annotations

from typing import Any

from tracefix_rl.core.errors import PoolError

__all__ = ["fetch_episode_record"]


def fetch_episode_record(base_url: str, episode_id: str, *, api_key: str | None = None) -> dict[str, Any]:
    """A server's record of one episode (``GET /trajectories/{id}``), in the export form.

    ``api_key`` defaults to the first key of ``$TRACEFIX_API_KEY``; the server answers only with
    ``--trajectory-routes`` or to the key that recorded the episode. Raises
    :class:`~tracefix_rl.core.errors.PoolError` naming the server and the HTTP status otherwise.
    """
    import os

    import httpx

    key = api_key if api_key is not None else os.environ.get("TRACEFIX_API_KEY", "").split(",")[0].strip()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    reply = httpx.get(f"{base_url.rstrip('/')}/trajectories/{episode_id}", headers=headers, timeout=30.0)
    if reply.status_code != 200:
        raise PoolError(f"{base_url}: GET /trajectories/{episode_id}: HTTP {reply.status_code} {reply.text[:200]}")
    record: dict[str, Any] = reply.json()
    return record
