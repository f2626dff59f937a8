"""The fork-server pool: the strongest executor, and the one :func:`get_sandbox` prefers.

:class:`ForkServerSandbox` starts one fork-server process (:mod:`._server`) per worker slot and
dispatches jobs to idle servers from any number of threads. Each server lives in private
namespaces with an empty root, and confines each job with rlimits, a new session, a
parent-death signal, a fresh tmpfs job directory, a per-slot uid (when root), Landlock and a
seccomp filter, enforces the wall clock, caps output and records, lowers the priority of
long-running jobs and cleans up. A server that dies or stops answering is killed and
restarted transparently; the job that was in flight reports :attr:`Outcome.INFRA_ERROR`
(never a pass or a failure).

Callers wait for a worker in a :class:`_Scheduler`: a freed worker is handed straight to a
waiting caller of the owner (session) that holds the fewest workers and was served least
recently, its earliest arrival first, so no caller can overtake a waiting one and no session
can crowd out the others.
"""

from __future__ import annotations

import collections
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from typing import Any

from tracefix_rl.core.errors import SandboxError, SandboxStartError
from tracefix_rl.engines.sandbox._base import DRIVERS, PACKAGE_PARENT, Execution, Limits, Outcome
from tracefix_rl.engines.sandbox._subprocess import finish_execution, job_environment, with_limits

__all__ = ["ForkServerSandbox"]

_BOOT = (
    "import sys\n"
    "sys.path.insert(0, {parent!r})\n"
    "from tracefix_rl.engines.sandbox._server import main\n"
    "main(sys.argv[1])\n"
)
_HEADER = struct.Struct("<II")
_START_TIMEOUT_S = 30.0
_REPLY_GRACE_S = 5.0


class _WorkerDied(Exception):
    def __init__(self, message: str, *, delivered: bool = True) -> None:
        super().__init__(message)
        self.delivered = delivered


class _Worker:
    """One fork-server process and the pipes to it; used by one thread at a time."""

    def __init__(self, slot: int, config: dict[str, Any]) -> None:
        self.slot = slot
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None
        self.hello: dict[str, Any] = {}
        self.restarts = 0

    def start(self) -> dict[str, Any]:
        self.launch()
        return self.wait_ready()

    def launch(self) -> None:
        """Start the server process (without waiting for it to be ready)."""
        code = _BOOT.format(parent=PACKAGE_PARENT)
        self.proc = subprocess.Popen(
            [os.path.realpath(sys.executable), "-S", "-s", "-c", code, json.dumps(self.config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=job_environment(), cwd="/",
            close_fds=True, start_new_session=True,
        )

    def wait_ready(self) -> dict[str, Any]:
        """Wait for the launched server's hello; raise :class:`SandboxStartError` if it fails."""
        try:
            hello, _ = self._recv(time.monotonic() + _START_TIMEOUT_S)
        except _WorkerDied as exc:
            self.kill()
            raise SandboxStartError(f"fork-server {self.slot} did not start: {exc}") from None
        if not hello.get("ok"):
            self.kill()
            raise SandboxStartError(f"fork-server {self.slot} failed to start: {hello.get('error')}\n"
                                    f"{hello.get('traceback', '')}")
        self.hello = hello
        return hello

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.kill()
        except OSError:
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self) -> None:
        """Close the request pipe (the server cleans up and exits), then make sure it is gone."""
        proc = self.proc
        if proc is None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def call(self, header: dict[str, Any], blob: bytes, timeout_s: float) -> tuple[dict[str, Any], bytes]:
        proc = self.proc
        if proc is None or proc.stdin is None:
            raise _WorkerDied("not running")
        head = json.dumps(header).encode()
        try:
            fd = proc.stdin.fileno()
            data = memoryview(_HEADER.pack(len(head), len(blob)) + head + blob)
            while data:
                data = data[os.write(fd, data):]
        except OSError as exc:
            raise _WorkerDied(f"request pipe: {exc}", delivered=False) from None
        return self._recv(time.monotonic() + timeout_s)

    def _recv(self, deadline: float) -> tuple[dict[str, Any], bytes]:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        head = self._read(fd, _HEADER.size, deadline)
        head_len, blob_len = _HEADER.unpack(head)
        header = json.loads(self._read(fd, head_len, deadline))
        return header, self._read(fd, blob_len, deadline)

    @staticmethod
    def _read(fd: int, n: int, deadline: float) -> bytes:
        chunks = []
        while n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _WorkerDied("no reply before the deadline")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, min(n, 1 << 20))
            if not chunk:
                raise _WorkerDied("fork-server exited")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)


def _tier_name(hello: dict[str, Any]) -> str:
    parts = ["forkserver"]
    if hello.get("landlock_abi"):
        parts.append("landlock")
    if hello.get("seccomp"):
        parts.append("seccomp")
    if hello.get("uid") is not None:
        parts.append("uid")
    if hello.get("private_root"):
        parts.append("ns")
    return "+".join(parts)


def default_workers(cores: int | None = None) -> int:
    """Workers of a default pool: one per core plus spares (at least 2, or half the cores), so
    that jobs which sleep until their wall-clock limit cannot hold every worker. ``cores``
    defaults to the machine's; a process given a share of a machine (a pool host) passes its share."""
    cores = max(1, cores if cores is not None else (os.cpu_count() or 1))
    return cores + max(2, cores // 2)


class _Ticket:
    __slots__ = ("owner", "worker", "event")

    def __init__(self, owner: str | None) -> None:
        self.owner = owner
        self.worker: _Worker | None = None
        self.event = threading.Event()


_MAX_REMEMBERED_OWNERS = 4096


class _Scheduler:
    """Hands workers to callers: first come, first served, and fairly between owners.

    An idle worker goes to a caller at once only when nobody is waiting; otherwise a released
    worker is handed directly to the chosen waiter (no thread that happens to run first can
    take it). The chosen waiter belongs to the owner that holds the fewest workers right now,
    then to the owner served least recently (round robin between sessions), and is that
    owner's longest-waiting caller. Idle workers are used least recently used first, so the
    next worker has had the longest time to pre-fork its child.
    """

    def __init__(self, workers: list[_Worker]) -> None:
        self._lock = threading.Lock()
        self._idle: collections.deque[_Worker] = collections.deque(workers)
        self._waiting: list[_Ticket] = []  # in arrival order
        self._held: collections.Counter[str | None] = collections.Counter()
        self._served: dict[str | None, int] = {}  # owner -> number of the grant it last had
        self._grants = 0

    def _grant(self, owner: str | None) -> None:
        self._held[owner] += 1
        self._grants += 1
        self._served.pop(owner, None)
        self._served[owner] = self._grants  # dicts keep insertion order: oldest first
        if len(self._served) > _MAX_REMEMBERED_OWNERS:  # forgotten owners count as never served
            for stale in list(self._served)[:_MAX_REMEMBERED_OWNERS // 2]:
                del self._served[stale]

    def acquire(self, owner: str | None) -> _Worker:
        """Block until a worker is handed to this caller; return it."""
        with self._lock:
            if self._idle and not self._waiting:
                self._grant(owner)
                return self._idle.popleft()
            ticket = _Ticket(owner)
            self._waiting.append(ticket)
        try:
            ticket.event.wait()
        except BaseException:  # interrupted while waiting: leave the queue, pass on a worker
            with self._lock:
                if ticket.worker is None:
                    self._waiting.remove(ticket)
                    raise
            self.release(ticket.worker, owner)
            raise
        assert ticket.worker is not None
        return ticket.worker

    def release(self, worker: _Worker, owner: str | None) -> None:
        """Give ``worker`` back: to the next waiter if there is one, else to the idle list."""
        with self._lock:
            self._held[owner] -= 1
            if self._held[owner] <= 0:
                del self._held[owner]
            if not self._waiting:
                self._idle.append(worker)
                return
            held, served = self._held, self._served
            # min() keeps the first of equals: the owner's longest-waiting caller
            ticket = min(self._waiting, key=lambda t: (held[t.owner], served.get(t.owner, 0)))
            self._waiting.remove(ticket)
            self._grant(ticket.owner)
            ticket.worker = worker
        ticket.event.set()


class ForkServerSandbox:
    """A pool of fork-servers; safe to call :meth:`execute` from many threads at once.

    ``workers`` defaults to :func:`default_workers` (cores plus spares for jobs that sleep).
    As root each server drops its jobs to its own slot uid (20000 and up, claimed with a lock
    file so concurrent pools on one machine never share a uid). Each job gets a tmpfs of
    ``disk_mb`` MiB as its directory. With ``namespaces`` (the default) each server runs in
    private mount, IPC, UTS, network and cgroup namespaces with an empty root (as non-root
    through a user namespace); if the kernel refuses, the level lacks ``+ns`` and
    ``info["notes"]`` says why. Construction raises :class:`SandboxStartError` if a server
    cannot start.
    """

    def __init__(self, workers: int | None = None, *, drop_uid: bool = True, disk_mb: int = 128,
                 landlock: bool = True, seccomp: bool = True, namespaces: bool = True) -> None:
        count = workers if workers is not None else default_workers()
        config = {"drop_uid": drop_uid, "disk_mb": disk_mb, "landlock": landlock, "seccomp": seccomp,
                  "namespaces": namespaces}
        self._workers = [_Worker(slot, config) for slot in range(count)]
        self._closed = False
        self._lock = threading.Lock()
        try:  # servers start in parallel: each takes about half a second
            for worker in self._workers:
                worker.launch()
            for worker in self._workers:
                worker.wait_ready()
        except BaseException:
            for worker in self._workers:
                worker.kill()
            raise
        self._scheduler = _Scheduler(self._workers)
        self.info: dict[str, Any] = dict(self._workers[0].hello)
        self.info["workers"] = count
        self.info["uids"] = [w.hello.get("uid") for w in self._workers]
        self._isolation = _tier_name(self.info)

    @property
    def isolation(self) -> str:
        """E.g. ``forkserver+landlock+seccomp+uid`` (root) or ``forkserver+landlock+seccomp``."""
        return self._isolation

    @property
    def workers(self) -> int:
        """Number of fork-server processes in the pool."""
        return len(self._workers)

    def server_pids(self) -> list[int | None]:
        """Process ids of the fork-servers (``None`` for one that is down), for diagnostics."""
        return [w.proc.pid if w.proc is not None else None for w in self._workers]

    def execute(self, driver: str, payload: dict[str, Any], limits: Limits, *,
                owner: str | None = None) -> Execution:
        """Run one job; see :class:`tracefix_rl.engines.sandbox.Sandbox`.

        Waits for a worker in the pool's scheduler: an owner that holds fewer workers, then one
        served less recently, goes first; each owner's calls are served first come, first served.
        """
        if driver not in DRIVERS:
            raise SandboxError(f"unknown driver {driver!r}; known: {sorted(DRIVERS)}")
        if self._closed:
            raise SandboxError("the sandbox is closed")
        started = time.perf_counter()
        blob = json.dumps(with_limits(payload, limits), ensure_ascii=False).encode("utf-8", "surrogatepass")
        header = {"op": "job", "driver": driver, "limits": limits.to_dict()}
        worker = self._scheduler.acquire(owner)
        queued_ms = (time.perf_counter() - started) * 1000
        try:
            if self._closed:
                raise SandboxError("the sandbox is closed")
            for attempt in (1, 2):
                if not worker.alive:
                    try:
                        worker.kill()
                        worker.start()
                        worker.restarts += 1
                    except SandboxStartError as exc:
                        return self._infra(started, f"fork-server restart failed: {exc}")
                try:
                    response, data = worker.call(header, blob, limits.wall_s + _REPLY_GRACE_S)
                    break
                except (_WorkerDied, ValueError) as exc:
                    worker.kill()
                    # A request that never reached the server is safe to resend once.
                    if attempt == 1 and isinstance(exc, _WorkerDied) and not exc.delivered:
                        continue
                    return self._infra(started, f"fork-server {worker.slot} failed during the job: {exc}")
        finally:
            self._scheduler.release(worker, owner)
        result = self._finish(response, data, limits, started)
        result.queued_ms = queued_ms
        return result

    def _infra(self, started: float, detail: str) -> Execution:
        return Execution(Outcome.INFRA_ERROR, detail=detail, isolation=self._isolation,
                         duration_ms=(time.perf_counter() - started) * 1000)

    def _finish(self, response: dict[str, Any], data: bytes, limits: Limits, started: float) -> Execution:
        if response.get("setup_error"):
            return self._infra(started, f"job set-up failed: {response['setup_error']}")
        n_rec, n_out, _ = response["lens"]
        result = finish_execution(
            records_blob=data[:n_rec], stdout=data[n_rec:n_rec + n_out], stderr=data[n_rec + n_out:],
            dropped_stdout=response["dropped"][1], dropped_stderr=response["dropped"][2],
            returncode=response["status"], timed_out=response["timed_out"], started=started,
            killed=response["killed"], cpu_used_s=response["cpu_s"], cpu_limit_s=float(limits.cpu_s),
            max_records=limits.max_records,
        )
        result.isolation = self._isolation
        return result

    def close(self) -> None:
        """Stop every fork-server (each removes its job directories and tmpfs). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for worker in self._workers:
            worker.stop()

    def __enter__(self) -> ForkServerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
