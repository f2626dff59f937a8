"""Scale out on Ray: one pool of environments across the machines of a Ray cluster (extra ``ray``).

::

    from tracefix_rl.integrations.ray import TraceFixRayPool

    pool = TraceFixRayPool(num_hosts=8, cpus_per_host=4, resources={"tracefix": 1})
    sid = pool.open()
    obs = pool.reset(sid, task_name="binary_search_off_by_one", seed=0)   # a CodeObservation
    obs = pool.step(sid, CodeAction(action_type="RUN_TESTS"))
    pool.close(sid)
    outcomes = pool.run_episodes(policy, ["task2_medium"], seeds=range(8))
    factory = pool.trl_factory()            # GRPOTrainer(environment_factory=factory)
    pool.collect("runs/all.sqlite3")        # every host's episodes in one local store

Each host is an :class:`~tracefix_rl.integrations._host.EnvHost` running as a Ray actor
that hosts many sessions on **one** sandbox pool sized to its CPUs (``cpus_per_host``), and
records into **its own** SQLite file on its node (``<db_dir>/host-<i>.sqlite3``): never one
file shared over a network filesystem. ``collect`` pulls the episodes over Ray, ``tracefix
trajectories merge`` combines copied files. A session stays on the host that opened it (its
id names the host). The actors are Ray-restartable: a host that dies fails its open sessions
with :class:`~tracefix_rl.core.errors.SessionLostError` naming it, new sessions go to the live
hosts meanwhile, and Ray starts a replacement (``max_restarts``) that serves new sessions.

Placement: ``num_cpus=cpus_per_host`` per actor, plus ``resources`` (a custom resource that
only CPU nodes advertise, e.g. ``ray start --resources='{"tracefix": 8}'``) and any Ray
``scheduling_strategy`` (default ``"SPREAD"``: hosts on as many nodes as possible). The pool
pickles by name (the actors are named in ``namespace``), so a TRL factory or the pool itself
can be sent to other Ray workers or processes, which look the hosts up (connecting to
``address`` first if they are not in the cluster yet).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from tracefix_rl.core.config import EnvConfig
from tracefix_rl.core.errors import PoolError, SessionLostError, TraceFixError
from tracefix_rl.core.models import CodeAction, CodeObservation
from tracefix_rl.integrations._host import EnvHost, parse_session_id
from tracefix_rl.integrations.pool import EpisodeOutcome, Policy, run_episodes

__all__ = ["EnvHost", "TraceFixRayPool"]

_DOWN_S = 5.0
"""After a host fails a call, new sessions avoid it this long (Ray restarts it meanwhile)."""


class TraceFixRayPool:
    """``num_hosts`` :class:`EnvHost` actors serving sessions (see the module docstring).

    Contract: the :class:`~tracefix_rl.integrations.pool.EnvPool` one. ``open`` puts the
    session on the live host with the fewest sessions opened through this pool object;
    ``reset``/``step`` (and ``areset``/``astep``) return the same
    :class:`~tracefix_rl.core.models.CodeObservation` as an in-process environment and raise the
    same exceptions, plus :class:`~tracefix_rl.core.errors.SessionLostError` when the session's host
    died and :class:`~tracefix_rl.core.errors.PoolError` when no host answers in ``call_timeout_s``.

    Args:
        num_hosts: actors to start.
        cpus_per_host: CPUs each actor reserves (fractions allowed); its sandbox gets
            ``sandbox_workers`` fork-servers (default: one per reserved CPU plus spares).
        env_config: the environments' settings (step budget, rewards, sandbox limits).
        address: the cluster to join when this process is not connected yet (``"auto"``, or
            ``host:port`` of ``ray start --head``); None starts a local cluster if none is found.
        name, namespace: the actors are named ``<name>-host-<i>`` in ``namespace``.
        record: record every episode; ``db_dir`` is the directory **on each host's node**
            (made absolute here; default: ``pools/<name>`` beside that node's default trajectory
            store, ``$TRACEFIX_DB``'s directory).
        resources, scheduling_strategy, runtime_env: passed to the actors' ``.options``.
        max_restarts: how often Ray restarts a dead host (-1: always).
        max_concurrency: calls one host runs at once (threads); ``max_sessions`` and
            ``session_timeout_s`` bound its open sessions.
        start_timeout_s: how long to wait for every host to start (else :class:`PoolError`
            naming the resources missing); ``call_timeout_s``: for one call.
    """

    def __init__(self, num_hosts: int = 1, cpus_per_host: float = 1.0, env_config: EnvConfig | None = None, *,
                 address: str | None = None, name: str | None = None, namespace: str = "tracefix",
                 record: bool = True, db_dir: str | None = None, resources: Mapping[str, float] | None = None,
                 scheduling_strategy: Any = "SPREAD", runtime_env: Mapping[str, Any] | None = None,
                 sandbox_workers: int | None = None, max_restarts: int = 4, max_concurrency: int = 64,
                 max_sessions: int = 4096, session_timeout_s: float = 3600.0, start_timeout_s: float = 300.0,
                 call_timeout_s: float = 600.0) -> None:
        if num_hosts < 1:
            raise ValueError(f"num_hosts must be at least 1, got {num_hosts}")
        if cpus_per_host <= 0:
            raise ValueError(f"cpus_per_host must be positive, got {cpus_per_host}")
        _connect(address, namespace)
        self.name = name or f"pool-{uuid.uuid4().hex[:8]}"
        self.namespace = namespace
        self.num_hosts = num_hosts
        self.cpus_per_host = cpus_per_host
        self.env_config = env_config or EnvConfig()
        self.address = _gcs_address()
        self.call_timeout_s = call_timeout_s
        self._owner = True
        self._setup()
        workers = sandbox_workers or _default_workers(cpus_per_host)
        options: dict[str, Any] = {"num_cpus": cpus_per_host, "max_restarts": max_restarts, "max_task_retries": 0,
                                   "max_concurrency": max_concurrency, "namespace": namespace,
                                   "scheduling_strategy": scheduling_strategy}
        if resources:
            options["resources"] = dict(resources)
        if runtime_env:
            options["runtime_env"] = dict(runtime_env)
        actor = ray.remote(EnvHost)
        for i in range(num_hosts):
            db_path = None
            if record:  # a relative path is resolved on the host's node (see EnvHost)
                db_path = str(Path(db_dir).expanduser().absolute() / f"host-{i}.sqlite3") if db_dir \
                    else f"pools/{self.name}/host-{i}.sqlite3"
            self._handles[i] = actor.options(name=self._actor_name(i), **options).remote(
                index=i, env_config=self.env_config, db_path=db_path, sandbox_workers=workers,
                max_sessions=max_sessions, session_timeout_s=session_timeout_s)
        self._await_start(start_timeout_s, options)

    # -- construction -----------------------------------------------------------------------------

    def _setup(self) -> None:
        self._handles: dict[int, Any] = {}
        self._load = [0] * self.num_hosts
        self._down_until = [0.0] * self.num_hosts
        self._dead: set[str] = set()
        self._facts: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _actor_name(self, index: int) -> str:
        return f"{self.name}-host-{index}"

    def _await_start(self, timeout_s: float, options: dict[str, Any]) -> None:
        refs = {self._handles[i].info.remote(): i for i in range(self.num_hosts)}
        ready, pending = ray.wait(list(refs), num_returns=len(refs), timeout=timeout_s)
        problems = []
        for ref in ready:
            try:
                ray.get(ref)
            except Exception as exc:
                problems.append(f"host {refs[ref]} failed to start: {_describe(exc)}")
        if pending:
            need = {"CPU": options["num_cpus"], **options.get("resources", {})}
            problems.append(f"{len(pending)} host(s) did not start within {timeout_s:.0f} s: each needs {need}, "
                            f"the cluster has {ray.available_resources()} available")
        if problems:
            self.shutdown()
            raise PoolError("; ".join(problems))

    # -- the EnvPool interface --------------------------------------------------------------------

    def open(self) -> str:
        """Open a session on the least-loaded live host; returns its id."""
        errors = []
        for index in self._candidates():
            try:
                sid: str = self._get(self._host(index).open.remote(), index, "open")
            except PoolError as exc:
                errors.append(str(exc))
                continue
            with self._lock:
                self._load[index] += 1
            return sid
        raise PoolError("no host could open a session: " + "; ".join(errors))

    def reset(self, session_id: str, **kwargs: Any) -> CodeObservation:
        """Reset the session's environment (the keyword arguments of ``TraceFixEnvironment.reset``)."""
        index = self._check(session_id)
        obs, facts = self._get(self._host(index).reset.remote(session_id, kwargs), index, "reset", session_id)
        return self._reset_done(session_id, obs, facts)

    def step(self, session_id: str, action: CodeAction) -> CodeObservation:
        """Apply one action to the session's episode."""
        index = self._check(session_id)
        obs: CodeObservation = self._get(self._host(index).step.remote(session_id, action), index, "step", session_id)
        return obs

    async def areset(self, session_id: str, **kwargs: Any) -> CodeObservation:
        """:meth:`reset` for asyncio code (awaits the actor call)."""
        index = self._check(session_id)
        ref = self._host(index).reset.remote(session_id, kwargs)
        obs, facts = await self._aget(ref, index, "reset", session_id)
        return self._reset_done(session_id, obs, facts)

    async def astep(self, session_id: str, action: CodeAction) -> CodeObservation:
        """:meth:`step` for asyncio code (awaits the actor call)."""
        index = self._check(session_id)
        obs: CodeObservation = await self._aget(self._host(index).step.remote(session_id, action), index, "step",
                                                session_id)
        return obs

    def close(self, session_id: str) -> None:
        """Close the session (idempotent; a session whose host died is simply forgotten)."""
        index, incarnation = parse_session_id(session_id)
        with self._lock:
            self._load[index] = max(0, self._load[index] - 1) if index < self.num_hosts else 0
        if incarnation in self._dead or index >= self.num_hosts:
            return
        try:
            self._get(self._host(index).close.remote(session_id), index, "close", session_id)
        except (SessionLostError, PoolError):
            pass

    def describe(self, session_id: str) -> dict[str, Any]:
        """What the session's last reset started (see :class:`~tracefix_rl.integrations.pool.EnvPool`)."""
        index, _ = parse_session_id(session_id)
        with self._lock:
            facts = self._facts.get(session_id)
        return dict(facts) if facts else {"host": f"host {index}"}

    def episode_record(self, session_id: str, episode_id: str) -> dict[str, Any] | None:
        """The recorded episode from the session's host (None if it records nothing)."""
        index, _ = parse_session_id(session_id)
        records = self._get(self._host(index).episode_records.remote([episode_id]), index, "episode_records")
        return records[0] if records else None

    # -- evaluation, training, data ---------------------------------------------------------------

    def run_episodes(self, policy: Policy | Callable[[dict[str, Any]], Policy],
                     tasks: Iterable[str | Mapping[str, Any]], *, seeds: Sequence[int] | None = (0,),
                     concurrency: int | None = None, retries: int = 0, max_actions: int = 1000) -> list[EpisodeOutcome]:
        """Play ``policy`` on every task and seed (:func:`~tracefix_rl.integrations.pool.run_episodes`);
        ``concurrency`` defaults to 8 episodes in flight per host."""
        return run_episodes(self, policy, tasks, seeds=seeds, concurrency=concurrency or 8 * self.num_hosts,
                            retries=retries, max_actions=max_actions)

    def trl_factory(self, **config: Any) -> Any:
        """A picklable TRL ``environment_factory`` whose :class:`~tracefix_rl.integrations.trl.TraceFixToolEnv`
        instances play their episodes on this pool (``config``: the other fields of ``TraceFixTRLConfig``)."""
        from tracefix_rl.integrations.trl import make_env_factory

        return make_env_factory(pool=self, **config)

    def collect(self, db: str | Path, *, on_conflict: str = "skip", batch: int = 64) -> int:
        """Copy every host's recorded episodes into the local store ``db``; returns how many were copied.

        ``on_conflict`` (``skip``, ``replace`` or ``error``) decides about ids already in ``db``, so
        collecting again copies only what is new. A host that is down is skipped and named in the
        :class:`PoolError` raised after the others were copied.
        """
        from tracefix_rl.data.trajectories import TrajectoryStore

        if on_conflict not in ("skip", "replace", "error"):
            raise ValueError(f"on_conflict must be skip, replace or error, got {on_conflict!r}")
        store = TrajectoryStore(db)
        copied, problems = 0, []
        try:
            for index in range(self.num_hosts):
                try:
                    ids: list[str] = self._get(self._host(index).episode_ids.remote(), index, "episode_ids")
                    if on_conflict == "skip":
                        ids = [e for e in ids if not store.has_episode(e)]
                    for start in range(0, len(ids), batch):
                        chunk = ids[start:start + batch]
                        for record in self._get(self._host(index).episode_records.remote(chunk), index,
                                                "episode_records"):
                            store.import_record(record, replace=on_conflict == "replace")
                            copied += 1
                except PoolError as exc:
                    problems.append(str(exc))
        finally:
            store.close()
        if problems:
            raise PoolError(f"copied {copied} episode(s); " + "; ".join(problems))
        return copied

    def hosts(self) -> list[dict[str, Any]]:
        """Every host's :meth:`EnvHost.info` (pid, hostname, incarnation, sessions, steps, store),
        or ``{"index", "alive": False, "error"}`` for a host that does not answer (dead, or being
        restarted). A host that answers is offered new sessions again at once."""
        out = []
        for index in range(self.num_hosts):
            try:
                out.append({**self._get(self._host(index).info.remote(), index, "info"), "alive": True})
                with self._lock:
                    self._down_until[index] = 0.0  # it answers: new sessions may go there again
            except PoolError as exc:
                out.append({"index": index, "alive": False, "error": str(exc)})
        return out

    def describe_pool(self) -> dict[str, Any]:
        """The pool's settings, for reports."""
        return {"kind": "ray", "name": self.name, "namespace": self.namespace, "address": self.address,
                "num_hosts": self.num_hosts, "cpus_per_host": self.cpus_per_host}

    def shutdown(self) -> None:
        """Stop the hosts (only the pool object that started them does; copies just forget them). Idempotent."""
        handles, self._handles = self._handles, {}
        if not self._owner:
            return
        for handle in handles.values():
            try:
                ray.kill(handle, no_restart=True)
            except Exception:  # noqa: S110 - already gone
                pass

    def __enter__(self) -> TraceFixRayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __getstate__(self) -> dict[str, Any]:
        keep = ("name", "namespace", "num_hosts", "cpus_per_host", "env_config", "address", "call_timeout_s")
        return {k: self.__dict__[k] for k in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._owner = False
        self._setup()

    def __repr__(self) -> str:
        return f"<TraceFixRayPool {self.name} hosts={self.num_hosts} cpus_per_host={self.cpus_per_host}>"

    # -- helpers ----------------------------------------------------------------------------------

    def _host(self, index: int) -> Any:
        handle = self._handles.get(index)
        if handle is None:
            if index >= self.num_hosts:
                raise PoolError(f"this pool has no host {index}")
            _connect(self.address, self.namespace)
            try:
                handle = ray.get_actor(self._actor_name(index), namespace=self.namespace)
            except ValueError as exc:
                raise PoolError(f"host {index} of pool {self.name} is not running ({exc}); was the pool shut down?") \
                    from None
            self._handles[index] = handle
        return handle

    def _candidates(self) -> list[int]:
        now = time.monotonic()
        with self._lock:
            order = sorted(range(self.num_hosts), key=lambda i: (self._down_until[i] > now, self._load[i], i))
        return order

    def _check(self, session_id: str) -> int:
        index, incarnation = parse_session_id(session_id)
        if index >= self.num_hosts:
            raise PoolError(f"session {session_id} names host {index}, but this pool has {self.num_hosts} host(s)")
        if incarnation in self._dead:
            raise SessionLostError(f"session {session_id} was lost: host {index} died while it was open; "
                                   "open a new session", session_id=session_id, host=f"host {index}")
        return index

    def _reset_done(self, session_id: str, obs: CodeObservation, facts: dict[str, Any]) -> CodeObservation:
        with self._lock:
            self._facts[session_id] = facts
            if len(self._facts) > 65536:  # sessions never closed: keep the newest facts only
                for old in list(self._facts)[:16384]:
                    del self._facts[old]
        return obs

    def _get(self, ref: Any, index: int, method: str, session_id: str | None = None) -> Any:
        try:
            return ray.get(ref, timeout=self.call_timeout_s)
        except Exception as exc:
            raise self._translate(exc, index, method, session_id) from None

    async def _aget(self, ref: Any, index: int, method: str, session_id: str | None = None) -> Any:
        try:
            return await asyncio.wait_for(ref, timeout=self.call_timeout_s)
        except TimeoutError:
            raise PoolError(f"host {index} did not answer {method} within {self.call_timeout_s:.0f} s") from None
        except Exception as exc:
            raise self._translate(exc, index, method, session_id) from None

    def _translate(self, exc: BaseException, index: int, method: str, session_id: str | None) -> BaseException:
        if isinstance(exc, RayTaskError):
            cause = getattr(exc, "cause", None)
            if isinstance(cause, (TraceFixError, ValueError, TypeError)):
                return cause
            return PoolError(f"host {index} failed in {method}: {cause!r}")
        if isinstance(exc, RayActorError):
            with self._lock:
                self._down_until[index] = time.monotonic() + _DOWN_S
            why = _describe(exc)
            if session_id is not None:
                _, incarnation = parse_session_id(session_id)
                self._dead.add(incarnation)
                try:  # if the host only dropped off the network for a moment, free the session there
                    self._host(index).close.remote(session_id)
                except Exception:  # noqa: S110 - the host is gone
                    pass
                return SessionLostError(f"session {session_id} was lost: host {index} died during {method} ({why}); "
                                        "its unfinished episode is gone, the steps it returned are recorded; open "
                                        "a new session (the pool restarts the host)", session_id=session_id,
                                        host=f"host {index}")
            return PoolError(f"host {index} is down ({method}: {why})")
        if isinstance(exc, GetTimeoutError):
            return PoolError(f"host {index} did not answer {method} within {self.call_timeout_s:.0f} s")
        return exc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = next((line for line in text if line.strip()), "")
    return f"{type(exc).__name__}: {first[:300]}"


def _default_workers(cpus: float) -> int:
    from tracefix_rl.engines.sandbox import default_workers

    return default_workers(max(1, round(cpus)))


def _connect(address: str | None, namespace: str) -> None:
    if not ray.is_initialized():
        ray.init(address=address, namespace=namespace, log_to_driver=False)


def _gcs_address() -> str | None:
    try:
        return str(ray.get_runtime_context().gcs_address)
    except Exception:
        return None
