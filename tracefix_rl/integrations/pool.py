"""Pools of environment sessions spread over many hosts, behind one small interface.

An :class:`EnvPool` hosts many sessions at once; a session plays one episode at a time and
always runs on the host that opened it (sticky routing: the session id names its host). Two
pools implement it:

* :class:`~tracefix_rl.integrations.ray.TraceFixRayPool`: Ray actors, each hosting many
  sessions on one sandbox pool, with its own trajectory store;
* :class:`~tracefix_rl.integrations.sharded.ShardedClient`: several plain ``tracefix serve`` processes
  (no Ray), one WebSocket session per pool session.

Written once here for both: :class:`PoolSession`, the one-episode-at-a-time session the TRL
tool environment (``make_env_factory(pool=...)``) and ``tracefix eval`` drive, and
:func:`run_episodes`, which plays a policy over many episodes at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from tracefix_rl.core.errors import PoolError, ResetNeededError, SessionLostError
from tracefix_rl.core.models import CodeAction, CodeObservation

__all__ = ["EnvPool", "EpisodeOutcome", "Policy", "PoolSession", "run_episodes"]


class EnvPool(Protocol):
    """Many sessions on many hosts; every call names its session (see the module docstring).

    ``reset`` and ``step`` return exactly the :class:`~tracefix_rl.core.models.CodeObservation` an
    in-process :class:`~tracefix_rl.env.TraceFixEnvironment` returns for the same arguments,
    and raise what it raises (``UnknownTaskError``, ``ResetArgumentError``, ...). A session
    whose host died raises :class:`~tracefix_rl.core.errors.SessionLostError` (for every later
    call too); ``open`` raises :class:`~tracefix_rl.core.errors.PoolError` when no host can take a
    session. ``close`` is idempotent.
    """

    def open(self) -> str: ...

    def reset(self, session_id: str, **kwargs: Any) -> CodeObservation: ...

    def step(self, session_id: str, action: CodeAction) -> CodeObservation: ...

    def close(self, session_id: str) -> None: ...

    def describe(self, session_id: str) -> dict[str, Any]:
        """What the session's last reset started, known without a round trip: ``seed``,
        ``variant``, ``episode_id``, ``host``, ``isolation`` and ``task_hash`` (None where the
        pool cannot tell). Still answers after ``close``."""
        ...

    def episode_record(self, session_id: str, episode_id: str) -> dict[str, Any] | None:
        """The recorded episode (the store's record form) from the host that ran the session,
        or None if that host records nothing."""
        ...


class PoolSession:
    """One episode at a time on a pool: the :class:`~tracefix_rl.integrations._session.EpisodeSession`
    for pools.

    Each ``reset`` opens a fresh pool session (closing the previous one), so a session lost
    with its host never poisons the next episode, and the session is closed as soon as its
    episode ends, freeing the host's capacity (as remote sessions do).
    """

    def __init__(self, pool: EnvPool) -> None:
        self.pool = pool
        self.session_id: str | None = None
        self._last: str | None = None
        self._identity: dict[str, Any] = {}

    def reset(self, **kwargs: Any) -> CodeObservation:
        self.close()
        sid = self.pool.open()
        try:
            obs = self.pool.reset(sid, **kwargs)
        except BaseException:
            _quiet(self.pool.close, sid)
            raise
        self.session_id = self._last = sid
        self._identity = self.pool.describe(sid)
        return obs

    def step(self, action: CodeAction) -> CodeObservation:
        if self.session_id is None:
            raise ResetNeededError("no open session: call reset() first")
        try:
            obs = self.pool.step(self.session_id, action)
        except SessionLostError:
            self.close()  # the pool forgets it (nothing is sent to a dead host)
            raise
        if obs.done:
            self.close()
        return obs

    def seed_and_variant(self) -> tuple[int | None, int | None]:
        return self._identity.get("seed"), self._identity.get("variant")

    def identity(self) -> dict[str, Any]:
        """:meth:`EnvPool.describe` of the last reset (host, isolation, task hash, ...)."""
        return dict(self._identity)

    def episode_record(self, episode_id: str) -> dict[str, Any] | None:
        """The last session's recorded episode, fetched from its host."""
        if self._last is None:
            return None
        return self.pool.episode_record(self._last, episode_id)

    def close(self) -> None:
        sid, self.session_id = self.session_id, None
        if sid is not None:
            _quiet(self.pool.close, sid)


class Policy(Protocol):
    """Chooses the next action from an observation."""

    def act(self, observation: CodeObservation) -> CodeAction: ...


@dataclass
class EpisodeOutcome:
    """How one episode of :func:`run_episodes` went."""

    reset: dict[str, Any]
    """The arguments the episode was reset with."""
    episode_id: str | None = None
    host: str | None = None
    final_score: float | None = None
    resolved: bool | None = None
    steps: int = 0
    end_reason: str | None = None
    error: str | None = None
    """Why the episode could not be played to its end (its host died, no host was free, ...)."""
    attempts: int = 1
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the episode ended (submitted or out of budget)."""
        return self.error is None and self.end_reason is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _episodes(tasks: Iterable[str | Mapping[str, Any]], seeds: Sequence[int] | None) -> list[dict[str, Any]]:
    out = []
    for task in tasks:
        base = {"task_name": task} if isinstance(task, str) else dict(task)
        if seeds is None:
            out.append(base)
        else:
            out.extend({**base, "seed": s} for s in seeds)
    return out


def run_episodes(pool: EnvPool, policy: Policy | Callable[[dict[str, Any]], Policy],
                 tasks: Iterable[str | Mapping[str, Any]], *, seeds: Sequence[int] | None = (0,),
                 concurrency: int = 8, retries: int = 0, max_actions: int = 1000) -> list[EpisodeOutcome]:
    """Play one episode per task and seed on ``pool``, ``concurrency`` at a time; outcomes in task order.

    Args:
        policy: an object with ``act(observation) -> CodeAction`` used for every episode, or a
            factory (a class, a function) called with each episode's reset arguments that
            returns a fresh one.
        tasks: task names, or dicts of reset arguments (``task_name``, ``variant``,
            ``task_pack``, ``seed``, ...).
        seeds: each task is played once per seed; ``None`` uses the tasks' own arguments as given.
        concurrency: episodes in flight at once (driver threads; the steps run on the hosts).
        retries: extra attempts, on a new session, for an episode whose session was lost or
            found no host; the outcome then says so in ``attempts``.
        max_actions: a policy still acting after this many steps is stopped (``error``).

    An episode the pool could not finish gets ``error`` (naming the host and the cause) and
    the run goes on; exceptions of the policy itself propagate.
    """
    specs = _episodes(tasks, seeds)
    shared = policy if hasattr(policy, "act") and not isinstance(policy, type) else None

    def play(reset: dict[str, Any]) -> EpisodeOutcome:
        outcome = EpisodeOutcome(reset=reset)
        started = time.perf_counter()
        for attempt in range(1, retries + 2):
            outcome = EpisodeOutcome(reset=reset, attempts=attempt)
            agent: Policy = shared if shared is not None else policy(dict(reset))  # type: ignore[operator]
            session = PoolSession(pool)
            try:
                obs = session.reset(**reset)
                outcome.episode_id, outcome.host = obs.episode_id, session.identity().get("host")
                while not obs.done and obs.step_count < max_actions:
                    obs = session.step(agent.act(obs))
                outcome.steps = obs.step_count
                if obs.done:
                    outcome.final_score, outcome.resolved, outcome.end_reason = (obs.final_score, obs.resolved,
                                                                                 obs.end_reason)
                else:
                    outcome.error = f"the policy was still acting after {max_actions} steps"
                break
            except (SessionLostError, PoolError) as exc:
                outcome.error = f"{type(exc).__name__}: {exc}"
            finally:
                session.close()
        outcome.seconds = round(time.perf_counter() - started, 4)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="tracefix-episodes") as threads:
        return list(threads.map(play, specs))


def _quiet(fn: Callable[[str], None], sid: str) -> None:
    try:
        fn(sid)
    except Exception:  # noqa: S110 - releasing a session that may already be gone
        pass
