"""The optional API key: who a request is, and whether it may come in.

With no key configured every client is the same principal, :data:`ANONYMOUS`. With keys
(``--api-key`` / ``TRACEFIX_API_KEY``, several separated by commas) a request must carry one as
``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` (HTTP and the WebSocket handshake alike),
and its principal is a digest of that key, which the trajectory store keeps as the owner of
every episode recorded for it: a key sees only its own episodes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["ANONYMOUS", "OPEN_PATHS", "OPEN_PREFIXES", "UNAUTHORIZED", "ApiKeys", "is_open"]

ANONYMOUS = "anonymous"
#: Routes that stay open when a key is required: static descriptions, never episode data.
OPEN_PATHS = frozenset({"/", "/health", "/metadata", "/schema", "/openapi.json", "/docs", "/docs/oauth2-redirect",
                        "/redoc"})
#: Path prefixes that stay open too: the files the pages above load (scripts, styles), never data.
OPEN_PREFIXES = ("/docs-static/", "/viewer/static/")


def is_open(path: str) -> bool:
    """Whether ``path`` is served without a key (:data:`OPEN_PATHS`, or a static file under
    :data:`OPEN_PREFIXES`; a path that climbs out with ``..`` is never open)."""
    if path in OPEN_PATHS:
        return True
    return path.startswith(OPEN_PREFIXES) and ".." not in path and "\\" not in path


class ApiKeys:
    """The configured keys (possibly none) and the principal each request authenticates as."""

    def __init__(self, keys: str | None) -> None:
        self._digests = {self.owner_of(k.strip()): k.strip().encode() for k in (keys or "").split(",") if k.strip()}

    @property
    def required(self) -> bool:
        """Whether requests must carry a key."""
        return bool(self._digests)

    @staticmethod
    def owner_of(key: str) -> str:
        """The principal of ``key`` (a digest: the key itself is never stored)."""
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:24]

    def principal(self, headers: Mapping[str, str]) -> str | None:
        """The principal of a request with these headers, or ``None`` if it must be refused."""
        if not self._digests:
            return ANONYMOUS
        given = headers.get("x-api-key") or ""
        auth = headers.get("authorization") or ""
        if not given and auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        if not given:
            return None
        owner = self.owner_of(given)
        expected = self._digests.get(owner)
        if expected is None or not hmac.compare_digest(expected, given.encode()):
            return None
        return owner


UNAUTHORIZED = ("missing or wrong API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>' "
                "(this server was started with --api-key / TRACEFIX_API_KEY)")
