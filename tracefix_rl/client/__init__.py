"""The OpenEnv client: :class:`TraceFixRLEnv`, a WebSocket session with one environment.

Usage (async, or ``.sync()`` for blocking code)::

    from tracefix_rl import CodeAction, TraceFixRLEnv

    async with TraceFixRLEnv(base_url="http://127.0.0.1:7860") as env:
        result = await env.reset(task_name="task2_medium", seed=0)
        result = await env.step(CodeAction(action_type="RUN_TESTS"))
        print(result.observation.tests_passed, result.observation.last_action_error)

    with TraceFixRLEnv(base_url="http://127.0.0.1:7860").sync() as env:
        result = env.reset()
"""

from __future__ import annotations

from typing import Any

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient

from tracefix_rl.server.wire import TraceFixAction, TraceFixObservation, TraceFixState

__all__ = ["CONTAINER_PORT", "TraceFixRLEnv"]

CONTAINER_PORT = 8000
"""The port OpenEnv's ``LocalDockerProvider`` maps to inside the container."""


class TraceFixRLEnv(EnvClient[TraceFixAction, TraceFixObservation, TraceFixState]):
    """Async OpenEnv client for a TraceFix-RL server (``.sync()``, ``from_docker_image`` inherited).

    ``step`` accepts a core :class:`~tracefix_rl.core.models.CodeAction`, a
    :class:`~tracefix_rl.server.wire.TraceFixAction` or a plain dict. Results carry a
    :class:`TraceFixObservation` whose ``code_dict`` has ``int`` keys and whose
    ``test_results`` are :class:`~tracefix_rl.core.models.TestResult` models; ``final_score``,
    ``last_action_error`` and the test counts are typed fields.
    """

    def __init__(self, base_url: str | None = None, *, api_key: str | None = None, **kwargs: Any) -> None:
        """Like :class:`EnvClient`, plus ``api_key`` (default ``$TRACEFIX_API_KEY``): sent as
        ``Authorization: Bearer KEY`` when the server requires a key."""
        import os

        key = api_key if api_key is not None else os.environ.get("TRACEFIX_API_KEY") or None
        if key:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("Authorization", f"Bearer {key}")
            kwargs["headers"] = headers
        super().__init__(base_url, **kwargs)

    def _step_payload(self, action: Any) -> dict[str, Any]:
        data = action if isinstance(action, dict) else action.model_dump(exclude_none=True)
        data = {k: v for k, v in data.items() if v is not None}
        if not data.get("metadata"):
            data.pop("metadata", None)
        return data

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[TraceFixObservation]:
        body = dict(payload.get("observation") or {})
        body["done"] = bool(payload.get("done", body.get("done", False)))
        body["reward"] = payload.get("reward", body.get("reward"))
        obs = TraceFixObservation.model_validate(body)  # str keys of code_dict become int here
        return StepResult(observation=obs, reward=obs.reward, done=obs.done,
                          metadata=payload.get("metadata"))

    def _parse_state(self, payload: dict[str, Any]) -> TraceFixState:
        return TraceFixState.model_validate(payload or {})

    @classmethod
    def from_docker_image(cls, image: str, provider: Any = None, **kwargs: Any) -> Any:
        """Start ``image`` and connect to it (``await`` the result, or call ``.sync()`` on it).

        With the default local-Docker provider the container is told to listen on
        ``CONTAINER_PORT`` (the port that provider maps), whatever its own ``PORT`` default is.
        """
        if provider is None:
            env_vars = dict(kwargs.pop("env_vars", None) or {})
            env_vars.setdefault("PORT", str(CONTAINER_PORT))
            kwargs["env_vars"] = env_vars
        return super().from_docker_image(image, provider, **kwargs)
