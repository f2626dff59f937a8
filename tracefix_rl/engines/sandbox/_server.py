"""The fork-server: a lean, single-threaded, secret-free process that forks one child per job.

It is started by :mod:`tracefix_rl.engines.sandbox._forkserver` as ``python -S -s -c <boot>`` with the
scrubbed :func:`~tracefix_rl.engines.sandbox._subprocess.job_environment`, so it never holds API keys,
expected values or reference solutions. At start-up it pre-imports the drivers and an
allow-list of stdlib modules (a job can import nothing else), assembles the seccomp filter
once, claims a slot uid (root only), and then moves into private namespaces whose whole
filesystem is an empty tmpfs with four device nodes (``_confine.enter_private_root``; as
non-root through a user namespace). From then on no host path exists for it or its jobs, and
every job gets a fresh size- and inode-limited tmpfs mounted at ``/work``, detached when the
job ends. If namespaces are unavailable it says so in its hello notes and falls back to job
directories on the host (``jobs_root/jN``), where jobs can tell which host paths exist. It
serves jobs over two pipes until the request pipe reaches end-of-file.

Wire format, both directions: ``u32 header_len, u32 blob_len, header JSON, blob``. A request's
blob is the JSON payload; a response's blob is ``records + stdout + stderr`` with the three
lengths in the header. The payload is read into one reusable buffer that is zeroed right after
each fork, so a later job cannot find an earlier job's payload in memory it inherits.

Child sequence (order matters): new session, parent-death signal, stdio onto private pipes,
rlimits, chdir into the fresh job directory, uid drop (root; otherwise all capabilities are
dropped), ``no_new_privs``, Landlock, close every other fd, seccomp, then a ``ready`` record,
then the driver. A failure before ``ready`` is reported as a setup error (an infrastructure
fault); job code only ever runs after ``ready``.

While a job runs the server reads its records with the caps of its limits (bytes and count;
beyond them the job is killed) and, once the job has run for ``nice_after_s``, lowers every
thread of it to nice 19 so that long or spinning jobs cannot slow down short ones.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import importlib
import json
import os
import resource
import select
import shutil
import signal
import struct
import sys
import time
import traceback
from typing import Any

from tracefix_rl.engines.sandbox import _confine
from tracefix_rl.engines.sandbox._base import DRIVERS
from tracefix_rl.engines.sandbox._child import run_job

__all__ = ["PRELOAD", "main"]

#: Pure-stdlib (and a few C-extension) modules imported before any job runs. Jobs can import
#: only these (plus whatever they pull in); anything else fails with ModuleNotFoundError.
PRELOAD: tuple[str, ...] = (
    "abc", "argparse", "array", "ast", "base64", "binascii", "bisect", "calendar", "cmath",
    "codecs", "collections", "collections.abc", "contextlib", "copy", "copyreg", "csv",
    "ctypes", "dataclasses", "datetime", "decimal", "difflib", "dis", "enum", "errno",
    "fnmatch", "fractions", "functools", "gc", "glob", "graphlib", "heapq",
    "html", "inspect", "io", "itertools", "json", "keyword", "linecache", "locale", "marshal",
    "math", "numbers", "operator", "os", "pathlib", "pickle", "platform", "pprint", "queue",
    "random", "re", "reprlib", "select", "selectors", "shlex", "shutil", "signal",
    "socket", "statistics", "string", "struct", "subprocess", "sys", "tempfile", "textwrap",
    "threading", "time", "timeit", "token", "tokenize", "traceback", "types", "typing",
    "unicodedata", "uuid", "warnings", "weakref", "zlib", "_strptime",
    "encodings.ascii", "encodings.latin_1", "encodings.utf_16", "encodings.utf_32",
    "encodings.cp1252", "encodings.idna", "encodings.unicode_escape",
    "encodings.raw_unicode_escape", "encodings.hex_codec", "encodings.base64_codec",
    "encodings.punycode", "encodings.utf_8_sig",
)

_WARM_UP_PAYLOAD: dict[str, Any] = {
    "source": (
        "import random\n"
        "def f(xs, k):\n"
        "    print('probe', k)\n"
        "    if k < 0:\n"
        "        raise ValueError('negative')\n"
        "    return sorted(xs)[k], {k: xs}, {k}, (k,), k / 2, str(k), random.random()\n"
    ),
    "filename": "program.py", "seed": 0, "per_test_s": 2.0,
    "tests": [{"name": f"t{i}", "setup": "xs = [3, 1, 2]", "call": f"f(xs, {i - 1})"} for i in range(4)]
    + [{"name": "idx", "setup": "", "call": "[][1]"}],
}
_HEADER = struct.Struct("<II")
_MAX_RECORD_BYTES = 16 << 20  # upper bound of Limits.record_bytes
_READY = b'{"kind": "ready"}\n'
_DONE = b'{"kind": "done"}\n'
_JOB_FD = 3
_REQUEST_FD = 4
_CHUNK = 1 << 16
_MNT_DETACH = 2
_WORK = "/work"  # the job directory inside the private root (a fresh tmpfs per job)
_JOB_INODES = 4096  # files and directories one job may create (bounds clean-up work too)


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _send(fd: int, header: dict[str, Any], blob: bytes = b"") -> None:
    head = json.dumps(header).encode()
    _write_all(fd, _HEADER.pack(len(head), len(blob)) + head + blob)


class _Server:
    def __init__(self, config: dict[str, Any], cmd_fd: int, resp_fd: int) -> None:
        self.cmd_fd = cmd_fd
        self.resp_fd = resp_fd
        self.pid = os.getpid()
        self.notes: list[str] = []
        self.is_root = os.geteuid() == 0
        self.want_uid = bool(config.get("drop_uid", True)) and self.is_root
        self.uid: int | None = None
        self.lock_fd: int | None = None
        self.mounted: str | None = None
        self.namespaces: list[str] = []
        self.disk_mb = int(config.get("disk_mb", 128))
        self.seq = 0
        self.buf = bytearray(1 << 16)
        # Reused, wiped after every job: the next child is forked from this memory, so no
        # job's output may linger in freed heap blocks.
        self.streams = [bytearray(0), bytearray(0), bytearray(0)]
        self.used: list[tuple[bytearray, int]] = []
        self.dying: list[tuple[int, str]] = []
        self.null_fd = _high(os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC))
        self.abi = _confine.landlock_abi() if config.get("landlock", True) else 0
        self.seccomp: _confine.SeccompProgram | None = None
        if config.get("seccomp", True) and _confine.seccomp_available():
            self.seccomp = _confine.build_seccomp_program()
        _confine.set_child_subreaper()
        if self.want_uid:
            try:
                self._claim_uid(config)
            except OSError as exc:
                self.notes.append(f"no per-slot uid, jobs run as root without capabilities: {exc}")
                self.uid = None
        self.preloaded, self.missing = self._preload()
        self._warm_up()
        if config.get("namespaces", True):
            self._enter_private_root()
        else:
            self.notes.append("private namespaces disabled by configuration")
        if not self.namespaces:
            self._setup_host_dirs(config)
        else:
            self._enter_pid_namespace()
        self.dev_fds = []
        for name in _confine.DEVICES:
            try:
                self.dev_fds.append(_high(os.open(f"/dev/{name}", os.O_PATH | os.O_CLOEXEC)))
            except OSError:
                pass
        if self.uid is not None:
            self._reap()
        gc.collect()
        gc.freeze()  # keeps the collector from dirtying inherited pages in every child

    # -- start-up ---------------------------------------------------------------------------

    def _enter_private_root(self) -> None:
        """Move into private namespaces with an empty root (see the module docstring)."""
        import tempfile

        user = not self.is_root

        def enter() -> None:
            mountpoint = tempfile.mkdtemp(prefix="tracefix-root-")
            try:
                self.namespaces = _confine.enter_private_root(mountpoint, user=user)
            except BaseException:
                _rmdir(mountpoint)
                raise

        # Try it in a throwaway child first: a failure half-way must not leave this process in
        # namespaces it cannot use. (Each attempt removes its mount point from the host.)
        problem = _in_child(enter)
        if not problem:
            try:
                enter()
            except OSError as exc:
                problem = str(exc)
        if problem:
            self.notes.append(f"no private namespaces ({problem}): jobs see the host's filesystem (Landlock "
                              "denies access, but whether a path exists is visible) and share the host's "
                              "IPC, UTS and network namespaces (seccomp still denies IPC and sockets)")
            return
        self.jobs_root = _WORK
        self.mounted = _WORK
        import platform

        platform._uname_cache = None  # type: ignore[attr-defined]  # cached before: the host's name
        platform.uname()

    def _enter_pid_namespace(self) -> None:
        """Fork every later job into a new pid namespace, whose pid 1 is a small init process.

        Jobs then see no host process (every other pid does not exist), and when the server
        dies its init dies too (parent-death signal, and end-of-file on a pipe), which makes
        the kernel kill everything left in the namespace.
        """
        try:
            _confine.unshare(_confine.CLONE_NEWPID)
        except OSError as exc:
            self.notes.append(f"no pid namespace ({exc}): jobs can tell which host process ids exist")
            return
        read_fd, write_fd = os.pipe()
        if os.fork() == 0:  # the first child in the namespace is its pid 1
            _pid_init(read_fd)
        os.close(read_fd)
        self.init_fd = _high(write_fd)  # closed (end-of-file for the init) when this process ends
        self.namespaces.append("pid")

    def _setup_host_dirs(self, config: dict[str, Any]) -> None:
        if self.uid is None:
            import tempfile

            self.jobs_root = tempfile.mkdtemp(prefix="tracefix-sandbox-")
            self.notes.append("job directories have no disk quota")
            return
        root = os.path.join(config.get("base", "/run/tracefix-sandbox"), f"u{self.uid}")
        if os.path.ismount(root):
            _umount(root)
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root, mode=0o711, exist_ok=True)
        if self.disk_mb > 0:
            try:
                _mount_tmpfs(root, self.disk_mb)
                self.mounted = root
            except OSError as exc:
                self.notes.append(f"no tmpfs quota for job directories: {exc}")
        self.jobs_root = root

    def _claim_uid(self, config: dict[str, Any]) -> None:
        base = config.get("base", "/run/tracefix-sandbox")
        os.makedirs(os.path.join(base, "locks"), mode=0o700, exist_ok=True)
        st = os.lstat(base)
        if st.st_uid != 0 or not os.path.isdir(base) or os.path.islink(base):
            raise OSError(f"{base} is not a root-owned directory")
        os.chmod(base, 0o711)
        first = int(config.get("uid_base", 20000))
        for uid in range(first, first + 4096):
            fd = os.open(os.path.join(base, "locks", f"{uid}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            if not _can_become(uid):
                os.close(fd)
                raise OSError(f"cannot switch to uid {uid} (user namespace without it?)")
            self.uid, self.lock_fd = uid, fd
            break
        else:
            raise OSError("no free slot uid")

    def _preload(self) -> tuple[int, list[str]]:
        missing = []
        names = list(PRELOAD) + [spec.partition(":")[0] for spec in DRIVERS.values()]
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - e.g. the trace driver is not written yet
                missing.append(name)
        # Warm lazily-built caches that would otherwise need file access after the uid drop.
        "x".encode("idna")
        time.strptime("2000", "%Y")
        return len(names) - len(missing), missing

    def _warm_up(self) -> None:
        """Run the test driver a few times in-process on a trusted sample program.

        Every child starts from a copy of this process, so caches, interned strings and the
        interpreter's specialised bytecode built here are paid once instead of once per job.
        """
        saved = signal.getsignal(signal.SIGALRM)
        for _ in range(3):
            run_job("tests", dict(_WARM_UP_PAYLOAD), self.null_fd)
        signal.signal(signal.SIGALRM, saved)

    def hello(self) -> dict[str, Any]:
        return {
            "ok": True, "pid": self.pid, "root": self.is_root, "uid": self.uid,
            "landlock_abi": self.abi, "seccomp": self.seccomp is not None,
            "seccomp_instructions": self.seccomp.instructions if self.seccomp else 0,
            "disk_quota": self.mounted is not None, "jobs_root": self.jobs_root,
            "namespaces": self.namespaces, "private_root": bool(self.namespaces),
            "preloaded": self.preloaded, "missing": self.missing, "notes": self.notes,
            "drivers": {name: spec.partition(":")[0] not in self.missing for name, spec in DRIVERS.items()},
        }

    def shutdown(self) -> None:
        self._collect_dying(block=True)
        if self.uid is not None:
            self._reap()
        if self.namespaces:
            return  # the private root and every job's tmpfs go away with this process
        if self.mounted:
            _umount(self.mounted)
        shutil.rmtree(self.jobs_root, ignore_errors=True)

    # -- serving ----------------------------------------------------------------------------

    def serve(self) -> None:
        warm = self._spawn()
        try:
            while True:
                try:
                    head_len, blob_len = _HEADER.unpack(_read_exact(self.cmd_fd, _HEADER.size))
                    header = json.loads(_read_exact(self.cmd_fd, head_len))
                    self._read_payload(blob_len)
                except EOFError:
                    return
                if header.get("op") == "ping":
                    _send(self.resp_fd, {"ok": True})
                    continue
                if warm is None or _exited(warm.pidfd):
                    if warm is not None:
                        self._retire(warm, reap=True)
                    warm = self._spawn()
                if warm is None:
                    _wipe(self.buf, blob_len)
                    _send(self.resp_fd, {"setup_error": "fork failed"})
                    continue
                response, parts, reap = self._run(warm, header, blob_len)
                _send_parts(self.resp_fd, response, parts)
                self._retire(warm, reap=reap)
                warm = self._spawn()
        finally:
            if warm is not None:
                self._retire(warm, reap=True)

    def _read_payload(self, blob_len: int) -> None:
        if blob_len > len(self.buf):
            _wipe(self.buf, len(self.buf))
            self.buf = bytearray(max(blob_len, 2 * len(self.buf)))
        view = memoryview(self.buf)
        try:
            got = 0
            while got < blob_len:
                n = os.readv(self.cmd_fd, [view[got:blob_len]])
                if not n:
                    raise EOFError
                got += n
        finally:
            view.release()

    def _spawn(self) -> _Warm | None:
        """Fork the next job's child now, so its confinement is ready before its job arrives.

        The child is forked *before* the payload is read, so it never holds any payload
        in its memory but its own.
        """
        self.seq += 1
        try:
            jobdir = self._make_jobdir()
        except OSError:
            self._collect_dying(block=True)  # e.g. a job used up every inode: free its files first
            jobdir = self._make_jobdir()
        dir_fd = _high(os.open(jobdir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        # records, stdout, stderr (the child writes), request (the child reads)
        pipes = [(_high(r), _high(w)) for r, w in (os.pipe() for _ in range(4))]
        try:
            pid = os.fork()
        except OSError:
            for r, w in pipes:
                os.close(r)
                os.close(w)
            os.close(dir_fd)
            self._drop_jobdir(jobdir)
            return None
        if pid == 0:
            self._child(jobdir, dir_fd, pipes)
        os.close(dir_fd)
        for _, w in pipes[:3]:
            os.close(w)
        os.close(pipes[3][0])
        return _Warm(pid, os.pidfd_open(pid), jobdir, [r for r, _ in pipes[:3]], pipes[3][1])

    def _make_jobdir(self) -> str:
        """A fresh, private job directory: a new tmpfs on ``/work``, or ``jobs_root/jN``."""
        owner = self.uid if self.uid is not None else os.getuid()
        if self.namespaces:
            _confine.mount("tmpfs", _WORK, "tmpfs", _confine.MS_NOSUID | _confine.MS_NODEV | _confine.MS_NOEXEC,
                           f"size={max(1, self.disk_mb)}m,nr_inodes={_JOB_INODES},mode=0700,uid={owner},gid={owner}")
            return _WORK
        jobdir = os.path.join(self.jobs_root, f"j{self.seq}")
        os.mkdir(jobdir, 0o700)
        if self.uid is not None:
            os.chown(jobdir, self.uid, self.uid)
        return jobdir

    def _drop_jobdir(self, jobdir: str) -> None:
        """Remove a job's directory (its processes are dead or killed)."""
        if self.namespaces:
            # Detached now, freed by the kernel once the last process inside it has exited.
            _confine.umount(jobdir)
        else:
            _rmdir(jobdir)

    def _retire(self, warm: _Warm, *, reap: bool) -> None:
        """Release a finished job's resources; a killed child is reaped later, not waited for."""
        for fd in (*warm.fds, warm.pidfd):
            os.close(fd)
        if warm.req_fd >= 0:
            os.close(warm.req_fd)
        if not warm.waited:
            try:
                os.killpg(warm.pid, signal.SIGKILL)
            except OSError:
                pass
            # Waiting here would put the kernel's tear-down of the child's address space on
            # the critical path; its directory is removed once it has been reaped.
            if self.namespaces:
                self._drop_jobdir(warm.jobdir)
                self.dying.append((warm.pid, ""))
            else:
                self.dying.append((warm.pid, warm.jobdir))
        else:
            self._drop_jobdir(warm.jobdir)
        if reap and self.uid is not None:
            self._reap()
        self._collect_dying(block=False)
        for buf, used in self.used:
            _wipe(buf, used)
        self.used = []

    def _collect_dying(self, *, block: bool) -> None:
        still = []
        for pid, jobdir in self.dying:
            try:
                done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                if jobdir:
                    _rmdir(jobdir)
            else:
                still.append((pid, jobdir))
        self.dying = still
        _sweep()

    def _stream_buffer(self, i: int, size: int) -> bytearray:
        buf = self.streams[i]
        if len(buf) < size:
            _wipe(buf, len(buf))
            buf = self.streams[i] = bytearray(size)
        return buf

    def _run(self, warm: _Warm, header: dict[str, Any], blob_len: int) -> tuple[dict[str, Any], list[Any], bool]:
        limits = header["limits"]
        started = time.perf_counter()
        request = json.dumps({"driver": header["driver"], "limits": limits}).encode() + b"\n"
        try:
            _writev_all(warm.req_fd, [request, memoryview(self.buf)[:blob_len]])
        except OSError:
            pass  # the child died during set-up; collected below as a set-up error
        os.close(warm.req_fd)
        warm.req_fd = -1
        _wipe(self.buf, blob_len)

        deadline = started + float(limits["wall_s"])
        nice_after = float(limits.get("nice_after_s", 0) or 0)
        demote_at = started + nice_after if nice_after > 0 else float("inf")
        cap = int(limits["output_bytes"])
        flood = max(16 * cap, 1 << 20)
        record_cap = max(1024, min(int(limits.get("record_bytes", _MAX_RECORD_BYTES)), _MAX_RECORD_BYTES))
        max_lines = int(limits.get("max_records", 10_000)) + 1  # + the "ready" line
        lines = 0
        bufs = [self._stream_buffer(0, record_cap + _CHUNK),
                self._stream_buffer(1, 2 * cap + _CHUNK), self._stream_buffer(2, 2 * cap + _CHUNK)]
        views = [memoryview(b) for b in bufs]
        pos = [0, 0, 0]
        totals = [0, 0, 0]

        n_read = [0]

        def read(i: int, fd: int) -> bool:
            """Read one chunk into stream ``i``; False at end-of-file or when nothing is ready."""
            if i and pos[i] + _CHUNK > len(bufs[i]):  # keep the tail: move the last ``cap`` bytes down
                ctypes.memmove(_address(bufs[i]), _address(bufs[i]) + pos[i] - cap, cap)
                pos[i] = cap
            try:
                n = os.readv(fd, [views[i][pos[i]:pos[i] + _CHUNK]])
            except BlockingIOError:
                return False
            pos[i] += n
            totals[i] += n
            n_read[0] = n
            return n > 0

        poller = select.poll()
        index = {}
        for i, fd in enumerate(warm.fds):
            poller.register(fd, select.POLLIN)
            index[fd] = i
        poller.register(warm.pidfd, select.POLLIN)
        open_fds = set(warm.fds)
        exited = timed_out = done = False
        killed = ""
        while open_fds or not exited:
            now = time.perf_counter()
            remaining = deadline - now
            if remaining <= 0:
                timed_out = True
                break
            if now >= demote_at:
                demote_at = float("inf")
                try:  # every thread of the job's process group, including ones started later
                    os.setpriority(os.PRIO_PGRP, warm.pid, 19)
                except OSError:
                    pass
            for fd, _ in poller.poll(min(remaining, demote_at - now) * 1000 + 1):
                if fd == warm.pidfd:
                    exited = True
                    poller.unregister(fd)
                    continue
                i = index[fd]
                if not read(i, fd):
                    poller.unregister(fd)
                    open_fds.discard(fd)
                    continue
                if i == 0:
                    lines += bufs[0].count(b"\n", pos[0] - n_read[0], pos[0])
                    if totals[0] > record_cap or lines > max_lines:
                        killed = "records"
                    elif views[0][pos[0] - len(_DONE):pos[0]] == _DONE:
                        done = True
                elif totals[i] > flood:
                    killed = "stdout" if i == 1 else "stderr"
            if killed or done:
                break
        try:
            os.killpg(warm.pid, signal.SIGKILL)
        except OSError:
            pass
        cpu_s: float | None = None
        if done and not killed:
            # The driver finished (it flushed stdio before "done"): report now, reap later.
            status = 0
        else:
            _, raw, usage = os.wait4(warm.pid, 0)
            warm.waited = True
            status = os.waitstatus_to_exitcode(raw)
            cpu_s = usage.ru_utime + usage.ru_stime
        for fd in warm.fds:
            if fd in open_fds and not killed:  # output written just before the end still counts
                os.set_blocking(fd, False)
                i = index[fd]
                while totals[i] <= (record_cap if i == 0 else flood) and read(i, fd):
                    pass
        self.used = [(bufs[i], pos[i]) for i in range(3)]
        records = views[0][:min(pos[0], record_cap)]
        setup_error = ""
        if records[:len(_READY)] == _READY:
            records = records[len(_READY):]
        else:
            line = bytes(records[:4096]).split(b"\n", 1)[0]
            try:
                setup_error = json.loads(line).get("setup_error", "") or "child died during set-up"
            except (ValueError, AttributeError):
                setup_error = "child died during set-up"
            records = records[:0]
        tails = []
        for i in (1, 2):
            start = max(0, pos[i] - cap)
            tails.append(views[i][start:pos[i]])
        response = {
            "status": status, "timed_out": timed_out, "killed": killed, "setup_error": setup_error,
            "cpu_s": cpu_s, "dropped": [0, totals[1] - len(tails[0]), totals[2] - len(tails[1])],
            "lens": [len(records), len(tails[0]), len(tails[1])],
            "server_ms": (time.perf_counter() - started) * 1000,
        }
        reap = self.seccomp is None or bool(killed) or timed_out or status < 0
        return response, [records, *tails], reap

    def _child(self, jobdir: str, dir_fd: int, pipes: list[tuple[int, int]]) -> None:
        rec_w = pipes[0][1]
        try:
            os.setsid()
            _confine.set_pdeathsig(signal.SIGKILL)
            if os.getppid() not in (self.pid, 0):  # 0: the parent is outside the job's pid namespace
                os._exit(1)
            os.dup2(self.null_fd, 0)
            os.dup2(pipes[1][1], 1)
            os.dup2(pipes[2][1], 2)
            os.dup2(rec_w, _JOB_FD)
            rec_w = _JOB_FD
            os.dup2(pipes[3][0], _REQUEST_FD)
            _limit(resource.RLIMIT_CORE, 0)
            _limit(resource.RLIMIT_NICE, 0)  # a demoted job cannot raise its priority again
            _limit(resource.RLIMIT_RTPRIO, 0)
            os.chdir(jobdir)
            if self.uid is not None:
                os.setgroups([])
                os.setresgid(self.uid, self.uid, self.uid)
                os.setresuid(self.uid, self.uid, self.uid)
            else:  # root, or the owner of a user namespace: capabilities must go
                _confine.drop_capabilities()
            _confine.set_no_new_privs()
            if self.abi:
                _confine.landlock_restrict(self.abi, [], dir_fd, self.dev_fds)
            os.closerange(_REQUEST_FD + 1, 1 << 16)
            if self.seccomp is not None:
                self.seccomp.load()
            chunks = []
            while True:
                chunk = os.read(_REQUEST_FD, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            os.close(_REQUEST_FD)
            head, _, blob = b"".join(chunks).partition(b"\n")
            request = json.loads(head)
            limits = request["limits"]
            if int(limits["nofile"]) < 16 or int(limits["memory_mb"]) < 64:
                raise ValueError(f"limits too small to run a job: {limits}")
            _limit(resource.RLIMIT_CPU, int(limits["cpu_s"]), int(limits["cpu_s"]) + 1)
            _limit(resource.RLIMIT_AS, int(limits["memory_mb"]) << 20)
            _limit(resource.RLIMIT_FSIZE, int(limits["fsize_mb"]) << 20)
            _limit(resource.RLIMIT_NOFILE, int(limits["nofile"]))
            if self.uid is not None:
                _limit(resource.RLIMIT_NPROC, int(limits["nproc"]))
            driver = request["driver"]
            payload = json.loads(blob)
            del chunks, head, blob, request
            os.write(rec_w, _READY)
        except BaseException as exc:  # noqa: BLE001 - report any set-up failure, never run the job
            try:
                os.write(rec_w, json.dumps({"setup_error": f"{type(exc).__name__}: {exc}"}).encode() + b"\n")
            finally:
                os._exit(1)
        code = 0
        try:
            run_job(driver, payload, rec_w)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except MemoryError:
            os.write(2, b"\nMemoryError\n")
            code = 1
        except BaseException:  # noqa: BLE001
            try:
                traceback.print_exc()
            except BaseException:  # noqa: BLE001
                pass
            code = 1
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code)

    def _reap(self) -> None:
        """Kill every process of the slot uid (as that uid, so nothing else can be hit)."""
        assert self.uid is not None
        pid = os.fork()
        if pid == 0:
            try:
                os.setresgid(self.uid, self.uid, self.uid)
                os.setresuid(self.uid, self.uid, self.uid)
                os.kill(-1, signal.SIGKILL)
            except BaseException:  # noqa: BLE001 - ESRCH when nothing is left
                pass
            os._exit(0)
        os.waitpid(pid, 0)
        _sweep()


class _Warm:
    """A forked, confined child waiting for its job on ``req_fd``."""

    __slots__ = ("pid", "pidfd", "jobdir", "fds", "req_fd", "waited")

    def __init__(self, pid: int, pidfd: int, jobdir: str, fds: list[int], req_fd: int) -> None:
        self.pid, self.pidfd, self.jobdir, self.fds, self.req_fd = pid, pidfd, jobdir, fds, req_fd
        self.waited = False


def _high(fd: int) -> int:
    """Move ``fd`` above the numbers the child dup2()s its stdio and channels onto."""
    if fd > _REQUEST_FD:
        return fd
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _REQUEST_FD + 1)
    os.close(fd)
    return new


def _exited(pidfd: int) -> bool:
    return bool(select.select([pidfd], [], [], 0)[0])


def _address(buf: bytearray) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


def _writev_all(fd: int, parts: list[Any]) -> None:
    views = [memoryview(p) for p in parts if len(p)]
    while views:
        n = os.writev(fd, views)
        while views and n >= len(views[0]):
            n -= len(views[0])
            views.pop(0)
        if views and n:
            views[0] = views[0][n:]


def _send_parts(fd: int, header: dict[str, Any], parts: list[Any]) -> None:
    head = json.dumps(header).encode()
    _writev_all(fd, [_HEADER.pack(len(head), sum(len(p) for p in parts)) + head, *parts])


def _pid_init(pipe_fd: int) -> None:
    """Pid 1 of the jobs' pid namespace: reap orphans until the server goes away, then exit
    (the kernel then kills every process left in the namespace)."""
    try:
        _confine.set_pdeathsig(signal.SIGKILL)
        os.closerange(0, pipe_fd)
        os.closerange(pipe_fd + 1, 1 << 16)
        poller = select.poll()
        poller.register(pipe_fd, select.POLLIN)
        while not poller.poll(1000):  # end-of-file: the server has exited
            _sweep()
    finally:
        os._exit(0)


def _in_child(action: Any) -> str:
    """Run ``action()`` in a throwaway fork; return ``""`` if it succeeded, else the error."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            action()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            try:
                os.write(write_fd, f"{type(exc).__name__}: {exc}".encode()[:4000] or b"failed")
            finally:
                os._exit(1)
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        message = fh.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return ""
    return message or f"exit status {os.waitstatus_to_exitcode(status)}"


def _can_become(uid: int) -> bool:
    """Whether a child of this process can switch to ``uid`` (probed in a throwaway fork)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        except BaseException:  # noqa: BLE001
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _limit(which: int, soft: int, hard: int | None = None) -> None:
    resource.setrlimit(which, (soft, soft if hard is None else hard))


def _wipe(buf: bytearray, n: int) -> None:
    if n:
        ctypes.memset((ctypes.c_char * n).from_buffer(buf), 0, n)


def _sweep() -> None:
    """Reap any zombie reparented to us (we are a child subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        def fix(func: Any, p: str, exc: Any) -> None:
            try:
                os.chmod(os.path.dirname(p), 0o700)
                os.chmod(p, 0o700)
                func(p)
            except OSError:
                pass

        try:
            shutil.rmtree(path, onerror=fix)
        except RecursionError:  # a job nested directories thousands deep (host-directory mode)
            import subprocess

            subprocess.run(["rm", "-rf", "--one-file-system", path], check=False)


def _mount_tmpfs(path: str, size_mb: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    opts = f"size={size_mb}m,mode=0711".encode()
    flags = 0x2 | 0x4 | 0x8  # MS_NOSUID | MS_NODEV | MS_NOEXEC
    if libc.mount(b"tmpfs", path.encode(), b"tmpfs", flags, opts) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _umount(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.umount2(path.encode(), _MNT_DETACH)


def main(config_json: str) -> None:
    """Entry point of the fork-server process: reply hello, then serve until EOF."""
    config = json.loads(config_json)
    cmd_fd = os.dup(0)
    resp_fd = os.dup(1)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    for fd in (cmd_fd, resp_fd):
        os.set_inheritable(fd, False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server = _Server(config, cmd_fd, resp_fd)
    except BaseException as exc:  # noqa: BLE001 - tell the parent why, then stop
        _send(resp_fd, {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                        "traceback": traceback.format_exc()})
        return
    _send(resp_fd, server.hello())
    try:
        server.serve()
    finally:
        server.shutdown()
