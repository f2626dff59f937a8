"""Repository-root server shim for ``openenv validate`` and ``uvicorn server.app:app``."""
