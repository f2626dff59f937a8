"""Hostile programs run through the real sandbox and the real test driver.

Each attack is a small program plus a test call that reveals what happened inside the job; each
asserts the exact outcome. After every attack a canary job must still run and pass (nothing an
attack does may stop the next job), and score-integrity attacks are judged with
``values_match`` against expected values the program cannot know, as the environment does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tracefix_rl
from tracefix_rl.core.values import values_match
from tracefix_rl.data.tasks import get_task
from tracefix_rl.engines.sandbox import Limits, Outcome
from tracefix_rl.env import RecordEpisodes

PACKAGE_DIR = Path(tracefix_rl.__path__[0])
TASK_FILE = PACKAGE_DIR / "data" / "tasks" / "builtin" / "binary_search_off_by_one.toml"
VALUES_FILE = PACKAGE_DIR / "core" / "_values.py"
TEST_FILE = Path(__file__).resolve()


def records_of(ex: Any) -> list[dict[str, Any]]:
    return [r for r in ex.records if r.get("kind") == "test"]


def value(ex: Any, i: int = 0) -> str:
    rec = records_of(ex)[i]
    assert rec["status"] == "returned", rec
    return str(rec["value"])


def attack(run: Any, body: str, *calls: str, limits: Limits | None = None) -> Any:
    """Run ``body`` (dedented) as the program, with ``attack()`` as the default call."""
    return run(textwrap.dedent(body), *(calls or ("attack()",)), limits=limits)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def next_job_still_runs(run: Any, sandbox: Any) -> Iterator[None]:
    """After each attack, the sandbox must still run a normal job correctly, on every worker."""
    yield
    for _ in range(sandbox.workers):
        ex = run("def f(x):\n    return x + 1\n", "f(41)")
        assert ex.outcome is Outcome.OK and value(ex) == "42", ex


@pytest.fixture(scope="session")
def server_pid(sandbox: Any) -> int:
    """A fork-server's process id as the host sees it (inside the jobs' pid namespace their
    parent is outside: ``os.getppid()`` is 0, so attacks must guess or be told the id)."""
    pid: int = sandbox.server_pids()[0]
    return pid


@pytest.fixture(scope="session")
def no_such_process(sandbox: Any) -> str:
    """What signalling a host process gives: it does not exist (pid namespace), or EPERM."""
    return "'ProcessLookupError'" if "pid" in sandbox.info.get("namespaces", []) else "'PermissionError'"


@pytest.fixture(scope="session")
def absent(sandbox: Any) -> str:
    """What a job gets for any host path: with the private root it does not exist (the same
    answer as for a path that exists nowhere); without it, Landlock's denial."""
    return "'FileNotFoundError'" if sandbox.info.get("private_root") else "'PermissionError'"


def slot_processes(sandbox: Any) -> list[str]:
    """Processes of the slot uids other than each server's one idle, pre-forked child."""
    uids = {u for u in sandbox.info.get("uids", []) if u is not None}
    servers = set(sandbox.server_pids())
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as fh:
                    status = dict(line.split(":\t", 1) for line in fh.read().splitlines() if ":\t" in line)
            except OSError:
                continue
            if int(status["Uid"].split()[0]) not in uids or status["State"].startswith("Z"):
                continue  # zombies are dead: killed children are reaped after the reply
            if int(status["PPid"]) in servers and status["Threads"].strip() == "1":
                servers.discard(int(status["PPid"]))  # the one idle child of that server
                continue
            found.append(f"{entry} ppid={status['PPid']} threads={status['Threads'].strip()}")
    return found


def assert_no_leftovers(sandbox: Any) -> None:
    """No stray slot-uid process survives a job (killed ones may take a moment to die)."""
    for _ in range(100):
        left = slot_processes(sandbox)
        if not left:
            return
        time.sleep(0.02)
    raise AssertionError(f"processes left behind: {left}")


OSERR = """
    def attack():
        try:
            {expr}
            return "allowed"
        except OSError as e:
            return type(e).__name__
"""


def oserr(run: Any, expr: str, prelude: str = "import os, socket") -> str:
    return value(attack(run, prelude + "\n" + textwrap.dedent(OSERR).format(expr=expr)))


# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------


def test_tcp_connect_to_host_listener(run: Any) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    try:
        assert oserr(run, f"socket.create_connection(('127.0.0.1', {port}), timeout=1)") == "'PermissionError'"
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_tcp_listen(run: Any) -> None:
    assert oserr(run, "s = socket.socket(); s.bind(('0.0.0.0', 0)); s.listen()") == "'PermissionError'"


def test_udp_send(run: Any) -> None:
    assert oserr(run, "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))") \
        == "'PermissionError'"


def test_ipv6(run: Any) -> None:
    assert oserr(run, "socket.socket(socket.AF_INET6, socket.SOCK_STREAM)") == "'PermissionError'"


def test_dns_lookup(run: Any) -> None:
    result = oserr(run, "socket.getaddrinfo('example.com', 80)")
    assert result in ("'gaierror'", "'PermissionError'")


def test_unix_socket_to_host_path(run: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s")
        server = socket.socket(socket.AF_UNIX)
        server.bind(path)
        server.listen(1)
        os.chmod(tmp, 0o777)
        os.chmod(path, 0o777)
        try:
            assert oserr(run, f"socket.socket(socket.AF_UNIX).connect({path!r})") == "'PermissionError'"
        finally:
            server.close()


def test_abstract_unix_socket(run: Any) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind("\0tracefix-attack-test")
    server.listen(1)
    try:
        assert oserr(run, "socket.socket(socket.AF_UNIX).connect('\\0tracefix-attack-test')") == "'PermissionError'"
    finally:
        server.close()


def test_raw_and_netlink_sockets(run: Any) -> None:
    assert oserr(run, "socket.socket(socket.AF_PACKET, socket.SOCK_RAW)") == "'PermissionError'"
    assert oserr(run, "socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)") == "'PermissionError'"


# ---------------------------------------------------------------------------------------------
# Reading secrets
# ---------------------------------------------------------------------------------------------


def test_read_etc_shadow(run: Any, absent: str) -> None:
    assert oserr(run, "open('/etc/shadow').read()") == absent


def test_read_etc_passwd_is_denied_too(run: Any, absent: str) -> None:
    assert oserr(run, "open('/etc/passwd').read()") == absent


def test_read_server_environment(run: Any, absent: str, server_pid: int) -> None:
    assert oserr(run, f"open('/proc/{server_pid}/environ').read()") == absent
    assert oserr(run, "open('/proc/self/environ').read()") == absent
    assert oserr(run, "open('/proc/1/environ').read()") == absent


def test_api_keys_never_reach_a_job(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracefix_rl.engines.sandbox._forkserver import ForkServerSandbox

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-should-not-leak")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_should_not_leak")
    with ForkServerSandbox(workers=1) as sb:
        src = "import os, gc\ndef attack():\n    return sorted(os.environ)\n"
        ex = sb.execute("tests", {"source": src, "tests": [{"name": "t", "setup": "", "call": "attack()"}]},
                        Limits())
        keys = value(ex)
        assert "API_KEY" not in keys and "HF_TOKEN" not in keys
        src2 = ("import gc\ndef attack():\n    return any(isinstance(o, str) and 'secret_should_not' in o "
                "for o in gc.get_objects())\n")
        ex2 = sb.execute("tests", {"source": src2, "tests": [{"name": "t", "setup": "", "call": "attack()"}]},
                         Limits())
        assert value(ex2) == "False"


def test_read_task_bank_with_reference_and_hidden_tests(run: Any, absent: str) -> None:
    assert oserr(run, f"open({str(TASK_FILE)!r}).read()") == absent
    assert oserr(run, f"os.listdir({str(TASK_FILE.parent)!r})") == absent


def test_read_package_source(run: Any, absent: str) -> None:
    assert oserr(run, f"open({str(VALUES_FILE)!r}).read()") == absent


def test_read_other_jobs_directories(run: Any, sandbox: Any, absent: str) -> None:
    gate = threading.Event()
    holder: list[Any] = []

    def long_job() -> None:
        src = "import time\nopen('secret.txt', 'w').write('other job secret')\ndef f():\n    time.sleep(1.5)\n    return 1\n"
        holder.append(run(src, "f()"))
        gate.set()

    thread = threading.Thread(target=long_job)
    thread.start()
    time.sleep(0.3)
    snoop = """
        import os
        def attack():
            out = []
            parent = os.path.dirname(os.getcwd())
            for target in (parent, '/run/tracefix-sandbox', '/tmp'):
                try:
                    out.append(sorted(os.listdir(target)))
                except OSError as e:
                    out.append(type(e).__name__)
            for n in range(1, 10000):
                try:
                    out.append(open(os.path.join(parent, f'j{n}', 'secret.txt')).read())
                except OSError:
                    pass
            return out
    """
    ex = attack(run, snoop)
    thread.join()
    # The parent of the job directory may not be listed; the other places do not exist.
    assert value(ex) == f"['PermissionError', {absent}, {absent}]"
    assert holder[0].outcome is Outcome.OK


def test_gc_and_frames_hold_no_expected_values_or_reference(sandbox: Any) -> None:
    task = get_task("binary_search_off_by_one")
    marker = "right = len(arr) - 1"  # only in the reference solution
    snoop = textwrap.dedent("""
        import gc, sys
        def binary_search(arr, target):
            seen = []
            for o in gc.get_objects():
                if isinstance(o, dict):
                    seen.extend(repr(k) for k in o.keys())
                    seen.extend(v for v in o.values() if isinstance(v, str))
                elif isinstance(o, str):
                    seen.append(o)
            frame = sys._getframe()
            while frame is not None:
                seen.extend(repr(v)[:2000] for v in frame.f_locals.values())
                frame = frame.f_back
            blob = '\\n'.join(seen)
            # The needles are built at run time: the program's own source is in memory too.
            needles = [w[::-1] for w in %r]
            return [n in blob for n in needles]
    """ % [w[::-1] for w in ("expected", marker, "hidden_tests", "reference")])
    ex = sandbox.execute("tests", {"source": snoop, "tests": [t.to_payload() for t in task.all_tests]}, Limits())
    assert ex.outcome is Outcome.OK
    assert value(ex) == "[False, False, False, False]"


def test_inspect_driver_source_is_unreadable(run: Any) -> None:
    body = """
        import inspect, sys
        def attack():
            try:
                return inspect.getsource(sys.modules['tracefix_rl.core.values'])[:10]
            except OSError as e:
                return type(e).__name__
    """
    assert value(attack(run, body)) in ("'OSError'", "'PermissionError'")


# ---------------------------------------------------------------------------------------------
# Writing outside the job directory, tampering with tests and solutions
# ---------------------------------------------------------------------------------------------


def test_write_tmp(run: Any, absent: str) -> None:
    assert oserr(run, "open('/tmp/tracefix-attack', 'w').write('x')") == absent
    assert not os.path.exists("/tmp/tracefix-attack")


def test_write_dev_shm(run: Any, absent: str) -> None:
    assert oserr(run, "open('/dev/shm/tracefix-attack', 'w').write('x')") == absent


def test_overwrite_package_module(run: Any, absent: str) -> None:
    before = digest(VALUES_FILE)
    assert oserr(run, f"open({str(VALUES_FILE)!r}, 'a').write('\\nHACKED = 1\\n')") == absent
    assert digest(VALUES_FILE) == before


def test_delete_or_edit_test_files_hidden_tests_and_reference(run: Any, absent: str) -> None:
    before = {p: digest(p) for p in (TASK_FILE, TEST_FILE)}
    assert oserr(run, f"os.remove({str(TEST_FILE)!r})") == absent
    assert oserr(run, f"open({str(TASK_FILE)!r}, 'w').write('')") == absent
    assert oserr(run, f"os.rename({str(TASK_FILE)!r}, 'stolen.toml')") in (absent, "'OSError'")
    assert {p: digest(p) for p in before} == before


def test_symlink_escape(run: Any, absent: str) -> None:
    assert oserr(run, "os.symlink('/etc/hostname', 'link'); open('link').read()") == absent


def test_hardlink_escape(run: Any, absent: str) -> None:
    assert oserr(run, "os.link('/etc/hostname', 'hard')") in (absent, "'OSError'")


def test_working_directory_is_private_and_fresh(run: Any) -> None:
    body = """
        import os, stat
        def attack():
            st = os.stat('.')
            return [os.listdir('.'), oct(stat.S_IMODE(st.st_mode)), st.st_uid == os.getuid()]
    """
    first = attack(run, "open('left-behind', 'w').write('x')\n" + textwrap.dedent(body))
    assert value(first) == "[['left-behind'], '0o700', True]"
    second = attack(run, body)
    assert value(second) == "[[], '0o700', True]"


def test_mount_and_namespaces(run: Any) -> None:
    body = """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        def attack():
            r1 = libc.mount(b'none', b'/', None, 32 | 4096, None)  # MS_REMOUNT | MS_BIND
            e1 = ctypes.get_errno()
            r2 = libc.unshare(0x10000000)  # CLONE_NEWUSER
            e2 = ctypes.get_errno()
            return [r1, os.strerror(e1), r2, os.strerror(e2)]
    """
    assert value(attack(run, body)) == "[-1, 'Operation not permitted', -1, 'Operation not permitted']"


# ---------------------------------------------------------------------------------------------
# Resource exhaustion
# ---------------------------------------------------------------------------------------------


def test_fork_bomb(run: Any, sandbox: Any) -> None:
    ex = attack(run, "import os\nwhile True:\n    os.fork()\n", "1")
    assert ex.outcome is Outcome.OK
    module = [r for r in ex.records if r["kind"] == "module"][0]
    assert module["ok"] is False and module["exc_type"] == "PermissionError"
    assert_no_leftovers(sandbox)


def test_shelling_out(run: Any) -> None:
    assert oserr(run, "subprocess.run(['id'])", "import subprocess") == "'PermissionError'"
    body = "import os\ndef attack():\n    return os.system('echo pwned')\n"
    ex = attack(run, body)
    assert value(ex) != "0" and "pwned" not in ex.stdout


def test_exec_replaces_process(run: Any) -> None:
    assert oserr(run, "os.execv('/bin/sh', ['sh', '-c', 'echo pwned'])") == "'PermissionError'"


def test_thread_bomb(run: Any, sandbox: Any) -> None:
    body = """
        import threading, time
        def attack():
            n = 0
            try:
                while n < 100000:
                    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
                    n += 1
            except RuntimeError as e:
                return ['stopped', n < 1000, str(e)]
            return ['unbounded', n]
    """
    ex = attack(run, body, limits=Limits(wall_s=10))
    assert ex.outcome is Outcome.OK
    assert value(ex) == "['stopped', True, \"can't start new thread\"]"
    assert_no_leftovers(sandbox)


def test_memory_bomb(run: Any) -> None:
    body = "def attack():\n    hog = []\n    while True:\n        hog.append(bytearray(1 << 24))\n"
    ex = attack(run, body, "attack()", "1", limits=Limits(memory_mb=256))
    assert ex.outcome is Outcome.OK
    first, second = records_of(ex)
    assert first["status"] == "raised" and first["exc_type"] == "MemoryError"
    assert second["value"] == "1"


def test_single_huge_file(run: Any) -> None:
    body = """
        import errno
        def attack():
            try:
                with open('big', 'wb') as fh:
                    for _ in range(64):
                        fh.write(b'x' * (1 << 20))
                return 'wrote 64 MiB'
            except OSError as e:
                return errno.errorcode[e.errno]
    """
    assert value(attack(run, body)) == "'EFBIG'"


def test_disk_fill_with_many_files(run: Any, sandbox: Any) -> None:
    body = """
        import errno
        def attack():
            try:
                for i in range(4096):
                    with open(f'f{i}', 'wb') as fh:
                        fh.write(b'x' * (15 << 20))
                return 'filled'
            except OSError as e:
                return errno.errorcode[e.errno]
    """
    ex = attack(run, body, limits=Limits(wall_s=20))
    if sandbox.info.get("disk_quota"):
        assert value(ex) == "'ENOSPC'"
    else:
        pytest.skip("no tmpfs quota for job directories (not root)")


def test_file_descriptor_exhaustion(run: Any) -> None:
    body = """
        import errno
        def attack():
            fds = []
            try:
                while len(fds) < 100000:
                    fds.append(open('/dev/null'))
            except OSError as e:
                return [errno.errorcode[e.errno], len(fds) < 300]
    """
    assert value(attack(run, body)) == "['EMFILE', True]"


def test_output_flood_on_stdout(run: Any) -> None:
    ex = attack(run, "import sys\ndef attack():\n    while True:\n        sys.__stdout__.write('A' * 10000)\n")
    assert ex.outcome is Outcome.OUTPUT_LIMIT and len(ex.stdout) < 70000


def test_output_flood_on_the_record_channel(run: Any) -> None:
    body = """
        import os
        def attack():
            for fd in range(3, 10):
                try:
                    while True:
                        os.write(fd, b'{"kind": "test"}\\n' * 4096)
                except OSError:
                    pass
    """
    ex = attack(run, body)
    assert ex.outcome is Outcome.OUTPUT_LIMIT


def test_infinite_loop(run: Any) -> None:
    ex = attack(run, "def attack():\n    while True:\n        pass\n", "attack()", "2",
                limits=Limits(per_test_s=0.3))
    assert ex.outcome is Outcome.OK
    assert [r["status"] for r in records_of(ex)] == ["timeout", "returned"]


def test_sleep_with_alarm_disabled(run: Any) -> None:
    body = "import signal, time\nsignal.setitimer = lambda *a: None\ndef attack():\n    time.sleep(3600)\n"
    started = time.perf_counter()
    ex = attack(run, body, limits=Limits(wall_s=1.0))
    assert ex.outcome is Outcome.TIMEOUT and time.perf_counter() - started < 2.5


def test_deep_recursion(run: Any) -> None:
    ex = attack(run, "def attack(n=0):\n    return attack(n + 1)\n")
    assert records_of(ex)[0]["exc_type"] == "RecursionError"


def test_c_stack_overflow(run: Any) -> None:
    body = ("import sys\nsys.setrecursionlimit(10 ** 7)\n"
            "def attack():\n    x = []\n    for _ in range(100000):\n        x = [x]\n    return repr(x)\n")
    ex = attack(run, body, "1", "attack()", limits=Limits(per_test_s=20, wall_s=20))
    assert ex.outcome is Outcome.CRASHED and ex.signal == signal.SIGSEGV
    assert value(ex, 0) == "1"


# ---------------------------------------------------------------------------------------------
# Processes and signals
# ---------------------------------------------------------------------------------------------


def test_signal_the_fork_server(run: Any, sandbox: Any, server_pid: int, no_such_process: str) -> None:
    pids_before = sandbox.server_pids()
    assert oserr(run, f"os.kill({server_pid}, 9)") == no_such_process
    assert sandbox.server_pids() == pids_before


def test_signal_the_environment_process(run: Any, no_such_process: str) -> None:
    assert oserr(run, f"os.kill({os.getpid()}, 15)") == no_such_process


def test_signal_everything(run: Any, sandbox: Any) -> None:
    pids_before = sandbox.server_pids()
    ex = attack(run, "import os\ndef attack():\n    os.kill(-1, 9)\n    return 'alive'\n")
    assert ex.outcome in (Outcome.OK, Outcome.CRASHED)
    assert sandbox.server_pids() == pids_before and all(p is not None for p in pids_before)


def test_ptrace_the_server(run: Any, server_pid: int) -> None:
    body = f"""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        def attack():
            r = libc.ptrace(16, {server_pid}, 0, 0)  # PTRACE_ATTACH
            return [r, os.strerror(ctypes.get_errno())]
    """
    assert value(attack(run, body)) == "[-1, 'Operation not permitted']"


def test_read_server_memory(run: Any, absent: str, server_pid: int) -> None:
    assert oserr(run, f"open('/proc/{server_pid}/mem', 'rb').read(1)") == absent


def test_ctypes_segfault(run: Any) -> None:
    ex = attack(run, "import ctypes\ndef attack():\n    ctypes.memset(0, 1, 64)\n", "1", "attack()")
    assert ex.outcome is Outcome.CRASHED and ex.signal == signal.SIGSEGV


def test_x32_and_io_uring_syscalls(run: Any) -> None:
    body = """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        def attack():
            r = libc.syscall(425, 8, ctypes.create_string_buffer(120))  # io_uring_setup
            return [r, os.strerror(ctypes.get_errno())]
    """
    assert value(attack(run, body)) == "[-1, 'Operation not permitted']"
    x32 = "import ctypes\ndef attack():\n    ctypes.CDLL(None).syscall(0x40000000 + 39)\n"
    ex = attack(run, x32, "1", "attack()")
    assert ex.outcome is Outcome.CRASHED and ex.signal == signal.SIGSYS


def test_background_process_or_thread_left_behind(run: Any, sandbox: Any) -> None:
    body = """
        import os, threading, time
        def spin():
            while True:
                time.sleep(0.01)
        def attack():
            threading.Thread(target=spin).start()  # non-daemon: would block a normal exit
            try:
                if os.fork() == 0:
                    os.setsid()
                    time.sleep(3600)
            except OSError as e:
                return type(e).__name__
    """
    ex = attack(run, body, limits=Limits(wall_s=10))
    assert ex.outcome is Outcome.OK and value(ex) == "'PermissionError'"
    assert ex.duration_ms < 5000  # the job did not wait for its non-daemon thread
    assert_no_leftovers(sandbox)


# ---------------------------------------------------------------------------------------------
# Ending the job early
# ---------------------------------------------------------------------------------------------


def test_os_exit_zero_before_the_tests_finish(run: Any) -> None:
    ex = attack(run, "import os\ndef attack():\n    os._exit(0)\n", "1", "attack()", "2")
    assert ex.outcome is Outcome.EXITED
    assert [r["index"] for r in records_of(ex)] == [0]


def test_os_exit_at_import(run: Any) -> None:
    ex = attack(run, "import os\nos._exit(0)\n", "1")
    assert ex.outcome is Outcome.EXITED and records_of(ex) == []


def test_sys_exit_zero(run: Any) -> None:
    ex = attack(run, "import sys\ndef attack():\n    sys.exit(0)\n", "attack()", "2")
    assert ex.outcome is Outcome.OK
    assert [r["status"] for r in records_of(ex)] == ["raised", "returned"]
    assert records_of(ex)[0]["exc_type"] == "SystemExit"


def test_raise_base_exception(run: Any) -> None:
    body = "class Boom(BaseException):\n    pass\ndef attack():\n    raise KeyboardInterrupt\ndef boom():\n    raise Boom\n"
    ex = attack(run, body, "attack()", "boom()", "3")
    assert ex.outcome is Outcome.OK
    assert [r.get("exc_type") for r in records_of(ex)] == ["KeyboardInterrupt", "Boom", None]


# ---------------------------------------------------------------------------------------------
# Score integrity
# ---------------------------------------------------------------------------------------------


def graded(ex: Any, task: Any) -> list[bool]:
    first: dict[int, dict[str, Any]] = {}
    for rec in records_of(ex):
        first.setdefault(rec["index"], rec)
    return [i in first and first[i]["status"] == "returned"
            and values_match(first[i]["value"], spec.expected_value(), approx=spec.approx)
            for i, spec in enumerate(task.all_tests)]


BUGGY_TAIL = "\n" + get_task("binary_search_off_by_one").buggy


@pytest.mark.parametrize("name, hack", [
    ("fake markers", "print('9 passed, 0 failed'); print('{\"kind\": \"done\"}'); print('OK')\n"),
    ("patch canonical", "import tracefix_rl.core.values as v, tracefix_rl.engines.sandbox._driver_tests as d\n"
                        "d.canonical = v.canonical = lambda value, _depth=0: 'True'\n"),
    ("patch builtins", "import builtins\nbuiltins.repr = lambda o: '0'\nbuiltins.eval = lambda *a, **k: 0\n"),
    ("forge records", "import os, json\nfor i in range(9):\n"
                      "    os.write(3, (json.dumps({'kind': 'test', 'index': i, 'name': 'x', 'status': 'returned',"
                      " 'value': '0', 'display': '0', 'stdout': '', 'duration_ms': 0}) + '\\n').encode())\n"
                      "os.write(3, b'{\"kind\": \"done\"}\\n')\nos._exit(0)\n"),
    ("rewrite the test calls", "import gc\nfor o in gc.get_objects():\n"
                               "    if isinstance(o, dict) and 'call' in o and 'name' in o:\n"
                               "        o['call'] = '-1'\n"),
])
def test_score_cannot_be_forged(sandbox: Any, name: str, hack: str) -> None:
    task = get_task("binary_search_off_by_one")
    payload = {"source": hack + BUGGY_TAIL, "tests": [t.to_payload() for t in task.all_tests]}
    ex = sandbox.execute("tests", payload, Limits())
    assert ex.outcome in (Outcome.OK, Outcome.EXITED)
    results = graded(ex, task)
    # Whatever a hack forges, it is one value for every test; tests expect different values.
    assert not all(results), (name, ex.records)


def test_monkeypatching_the_driver_cannot_skip_the_alarm(run: Any) -> None:
    body = ("import tracefix_rl.engines.sandbox._driver_tests as d\n"
            "class Nope(BaseException):\n    pass\n"
            "d._TestTimeout = Nope\n"
            "def attack():\n    while True:\n        pass\n")
    ex = attack(run, body, "attack()", "2", limits=Limits(per_test_s=0.3, wall_s=3))
    assert ex.outcome in (Outcome.OK, Outcome.TIMEOUT)
    assert records_of(ex)[0]["status"] in ("timeout", "raised")


def test_stdin_is_empty(run: Any) -> None:
    assert value(attack(run, "import sys\ndef attack():\n    return sys.stdin.read()\n")) == "''"


@pytest.mark.skipif(os.geteuid() != 0, reason="reading another process's memory needs root")
def test_no_earlier_job_lingers_in_fork_server_memory() -> None:
    """Children are forked from the server, so nothing of an earlier job may stay in its memory."""
    import re
    import secrets

    from tracefix_rl.engines.sandbox._forkserver import ForkServerSandbox

    tag = secrets.token_hex(8)
    src = (f"PROGRAM_{tag} = 1\nimport os\nos.write(1, b'STDOUT_{tag}' * 100)\n"
           f"def f():\n    print('PRINTED_{tag}')\n    return 'VALUE_{tag}' * 50\n")
    needles = [f"{kind}_{tag}".encode() for kind in ("PROGRAM", "STDOUT", "PRINTED", "VALUE", "CALL")]
    with ForkServerSandbox(workers=1) as sb:
        ex = sb.execute("tests", {"source": src, "tests": [{"name": "t", "setup": f"CALL_{tag} = 2", "call": "f()"}]},
                        Limits())
        assert ex.outcome is Outcome.OK and f"VALUE_{tag}" in value(ex)
        sb.execute("tests", {"source": "x = 1", "tests": []}, Limits())  # the child forked after it
        (pid,) = sb.server_pids()
        found = set()
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
            for line in maps:
                m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (r)", line)
                if not m or "[vvar]" in line or "[vsyscall]" in line:
                    continue
                start, end = int(m.group(1), 16), int(m.group(2), 16)
                try:
                    mem.seek(start)
                    chunk = mem.read(end - start)
                except OSError:
                    continue
                found.update(n for n in needles if n in chunk)
        assert found == set(), f"found in the fork-server's memory: {found}"


def rewrite(env: Any, obs: Any, program: str) -> Any:
    """Replace the whole program in ``env`` (whose latest observation is ``obs``) by ``program``."""
    from tracefix_rl import CodeAction

    new = env.step(CodeAction(action_type="REPLACE_LINES", start_line=1, end_line=len(obs.code_dict),
                              new_code_block=program))
    assert new.last_action_error is None, new.last_action_error
    return new


# ---------------------------------------------------------------------------------------------
# IPC and other kernel objects: nothing a job creates may outlive it or reach another session
# ---------------------------------------------------------------------------------------------

IPC = """
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    def errno_of(ret):
        return [ret, os.strerror(ctypes.get_errno()) if ret == -1 else None]
"""


def test_sysv_shared_memory_is_denied(run: Any) -> None:
    body = IPC + """
    def attack():
        return [errno_of(libc.shmget(0x7ace0001, 4096, 0o1666)),  # a fixed key another session could read
                errno_of(libc.shmget(0, 4096, 0o1600))]           # IPC_PRIVATE
    """
    assert value(attack(run, body)) == "[[-1, 'Operation not permitted'], [-1, 'Operation not permitted']]"


def test_sysv_message_queues_and_semaphores_are_denied(run: Any) -> None:
    body = IPC + """
    def attack():
        return [errno_of(libc.msgget(0x7ace0002, 0o1666)), errno_of(libc.semget(0x7ace0003, 1, 0o1666)),
                errno_of(libc.syscall(70, 0, 0, 0, 0, 0))]  # msgrcv on queue 0
    """
    assert value(attack(run, body)) == ("[[-1, 'Operation not permitted'], [-1, 'Operation not permitted'], "
                                        "[-1, 'Operation not permitted']]")


def test_posix_message_queue_is_denied(run: Any) -> None:
    body = IPC + """
    def attack():
        return errno_of(libc.syscall(240, b'tracefix-attack', 0o100 | 2, 0o666, None))  # mq_open O_CREAT|O_RDWR
    """
    assert value(attack(run, body)) == "[-1, 'Operation not permitted']"


def test_posix_shared_memory_has_nowhere_to_live(run: Any, absent: str) -> None:
    assert oserr(run, "os.open('/dev/shm/tracefix-attack', os.O_CREAT | os.O_RDWR, 0o666)") == absent


def test_memfd_is_denied(run: Any) -> None:
    # Memory in an anonymous file is not counted by RLIMIT_AS.
    assert oserr(run, "os.memfd_create('hog')") == "'PermissionError'"


def _host_shm_segments(uids: set[int]) -> list[str]:
    with open("/proc/sysvipc/shm") as fh:
        rows = [line.split() for line in fh.read().splitlines()[1:]]
    return [f"shmid {r[1]}, {r[3]} bytes" for r in rows if int(r[7]) in uids]  # owned by a slot uid


@pytest.mark.skipif(not os.path.exists("/proc/sysvipc/shm"), reason="no SysV IPC in this kernel")
def test_shared_memory_cannot_pin_host_memory(run: Any, sandbox: Any) -> None:
    body = IPC + """
    def attack():
        shmid = libc.shmget(0, 256 << 20, 0o1600)
        if shmid == -1:
            return errno_of(shmid)
        addr = libc.shmat(shmid, None, 0)
        ctypes.memset(addr, 1, 256 << 20)  # touch every page
        return 'pinned 256 MiB'
    """
    uids = {u for u in sandbox.info.get("uids", []) if u is not None}
    before = _host_shm_segments(uids)
    assert value(attack(run, body, limits=Limits(wall_s=20))) == "[-1, 'Operation not permitted']"
    assert _host_shm_segments(uids) == before


def test_eventfd_timerfd_inotify_and_pipes_stay_inside_the_job(run: Any, sandbox: Any, absent: str) -> None:
    body = """
        import ctypes, os, select
        libc = ctypes.CDLL(None, use_errno=True)
        def attack():
            efd = libc.eventfd(7, 0)
            tfd = libc.timerfd_create(1, 0)
            ifd = libc.inotify_init1(0)
            watch_host = libc.inotify_add_watch(ifd, b'/etc', 0xfff)
            host_errno = ctypes.get_errno()
            r, w = os.pipe()
            return [efd > 2, tfd > 2, ifd > 2, watch_host, os.strerror(host_errno), len(os.listdir('.'))]
    """
    host = "No such file or directory" if absent == "'FileNotFoundError'" else "Permission denied"
    assert value(attack(run, body)) == f"[True, True, True, -1, '{host}', 0]"
    assert_no_leftovers(sandbox)


# ---------------------------------------------------------------------------------------------
# The filesystem view: the same on every machine, and no host path exists
# ---------------------------------------------------------------------------------------------

def skip_without_private_root(sandbox: Any) -> None:
    """Root always gets the private root; a non-root machine without user namespaces cannot."""
    if os.geteuid() != 0 and not sandbox.info.get("private_root"):
        pytest.skip("no private root on this machine (see tracefix doctor)")


HOST_PATHS = ["/etc/passwd", "/etc/hostname", "/usr/bin/env", "/root", "/home", "/proc/self/status", "/sys",
              "/tmp", "/run/tracefix-sandbox", str(PACKAGE_DIR), "/nonexistent/tracefix"]


@pytest.mark.parametrize("path", HOST_PATHS)
def test_host_paths_do_not_exist(run: Any, sandbox: Any, path: str) -> None:
    body = f"""
        import os
        def attack():
            out = [os.path.exists({path!r}), os.path.lexists({path!r})]
            for probe in (os.stat, open, os.listdir):
                try:
                    probe({path!r})
                    out.append('ok')
                except OSError as e:
                    out.append(type(e).__name__)
            return out
    """
    skip_without_private_root(sandbox)
    assert value(attack(run, body)) == "[False, False, 'FileNotFoundError', 'FileNotFoundError', 'FileNotFoundError']"


def test_a_host_file_is_invisible_while_it_exists(run: Any, sandbox: Any) -> None:
    skip_without_private_root(sandbox)
    with tempfile.NamedTemporaryFile(dir="/tmp", prefix="tracefix-probe-") as fh:
        os.chmod(fh.name, 0o644)
        probe = f"import os\ndef attack():\n    return [os.path.exists({fh.name!r}), os.path.exists('/tmp')]\n"
        assert value(attack(run, probe)) == "[False, False]"


def test_the_jobs_world_is_the_same_on_every_worker(run: Any, sandbox: Any) -> None:
    skip_without_private_root(sandbox)
    body = """
        import os, platform, socket
        def attack():
            dev = sorted(n for n in ('null', 'zero', 'urandom', 'random', 'shm', 'tty', 'sda') if os.path.exists('/dev/' + n))
            return [os.getcwd(), socket.gethostname(), platform.node(), os.listdir('.'), dev,
                    oct(os.stat('.').st_mode & 0o7777), os.path.exists('/work'), os.path.exists('/dev')]
    """
    seen = {value(attack(run, body)) for _ in range(2 * sandbox.workers)}
    assert seen == {"['/work', 'sandbox', 'sandbox', [], ['null', 'random', 'urandom', 'zero'], '0o700', True, True]"}


def test_replay_does_not_depend_on_host_files(tmp_path: Path, sandbox: Any) -> None:
    """An episode that looked at a host path replays verified after the path is gone."""
    from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment
    from tracefix_rl.data.trajectories import SQLiteRecorder
    from tracefix_rl.env.replay import replay

    skip_without_private_root(sandbox)
    public = Path(tempfile.mkdtemp(prefix="tracefix-replay-", dir="/tmp"))
    try:
        os.chmod(public, 0o755)  # a path any uid could see on the host
        marker = public / "present-at-record-time"
        marker.write_text("x")
        db = tmp_path / "t.sqlite3"
        recorder = SQLiteRecorder(db)
        env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=5)), recorder)
        obs = env.reset(task_name="binary_search_off_by_one", seed=1)
        probe = f"import os\nprint('host path exists:', os.path.exists({str(marker)!r}))\n"
        obs = rewrite(env, obs, probe + get_task("binary_search_off_by_one").buggy)
        obs = env.step(CodeAction(action_type="RUN_TESTS"))
        assert "host path exists: False" in obs.last_execution_output
        recorder.close()
    finally:
        shutil.rmtree(public)
    report = replay(obs.episode_id, db=db)
    assert report.verified, report.diff


# ---------------------------------------------------------------------------------------------
# The record channel is untrusted input: forged, malformed and flooding records
# ---------------------------------------------------------------------------------------------

CELSIUS = get_task("celsius_wrong_operator")


def forging(*records: str, at: str = "call") -> str:
    """A celsius program that writes raw ``records`` on the driver's record channel (fd 3)."""
    writes = "".join(f"    os.write(3, {r!r}.encode() + b'\\n')\n" for r in records)
    if at == "module":
        return "import os\n" + writes.replace("    os.write", "os.write") + CELSIUS.buggy
    return f"import os\ndef to_fahrenheit(celsius):\n{writes}    return celsius * 9 / 5 + 32\n"


def judge(source: str, sandbox: Any, limits: Limits | None = None) -> Any:
    from tracefix_rl.engines.judge import run_tests

    return run_tests(source, CELSIUS.tests, sandbox=sandbox, limits=limits)


def statuses(run_: Any) -> list[tuple[str, str | None]]:
    return [(r.status, r.error_message) for r in run_.results]


TEST0 = {"kind": "test", "index": 0, "name": "test_freezing", "status": "returned", "value": "32.0",
         "display": "32.0", "stdout": "", "duration_ms": 0.1}
BROKEN = "the program broke the harness protocol ({})"
NOT_RUN = "not run: " + BROKEN


@pytest.mark.parametrize("field, bad, problem", [
    ("stdout", 5, "test record field test.stdout: Input should be a valid string"),
    ("value", 0, "test record field test.value: Input should be a valid string"),
    ("index", "0", "test record field test.index: Input should be a valid integer"),
    ("name", None, "test record field test.name: Input should be a valid string"),
    ("status", "passed", "test record field test.status: Input should be 'returned', 'raised' or 'timeout'"),
    ("duration_ms", "1", "test record field test.duration_ms: Input should be a valid number"),
    ("traceback", "x", "test record field test.traceback: Input should be a valid list"),
])
def test_forged_records_with_wrong_types_fail_that_test(sandbox: Any, field: str, bad: Any, problem: str) -> None:
    import json as _json

    forged = _json.dumps({**TEST0, field: bad})
    result = judge(forging(forged), sandbox)
    assert statuses(result) == [("error", BROKEN.format(problem)), ("not_run", NOT_RUN.format(problem)),
                                ("not_run", NOT_RUN.format(problem))]
    assert result.outcome is Outcome.OK and not result.infra_error


def test_forged_records_never_make_a_step_raise_and_the_step_is_recorded(tmp_path: Path) -> None:
    import json as _json

    from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment
    from tracefix_rl.data.trajectories import SQLiteRecorder, TrajectoryStore

    recorder = SQLiteRecorder(tmp_path / "t.sqlite3")
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=100)), recorder)
    obs = env.reset(task_name="celsius_wrong_operator", seed=0)
    shapes = [{**TEST0, "stdout": 5}, {**TEST0, "value": 0}, {**TEST0, "index": "0"}, {**TEST0, "name": None},
              {**TEST0, "status": "passed"}, {**TEST0, "duration_ms": "1"}, {**TEST0, "traceback": "x"},
              {"kind": "trace"}, {"kind": "trace_error", "message": "x"}, {"kind": "done"}, {}]
    for shape in shapes:
        obs = rewrite(env, obs, forging(_json.dumps(shape)))
        obs = env.step(CodeAction(action_type="RUN_TESTS"))
        assert obs.tests_passed == 0 and not obs.infra_error and "broke the harness protocol" in \
            obs.last_execution_output, (shape, obs.last_execution_output)
        obs = env.step(CodeAction(action_type="TRACE"))
        assert not obs.infra_error, (shape, obs.last_execution_output)
    recorder.close()
    store = TrajectoryStore(tmp_path / "t.sqlite3")
    assert len(store.load_episode(obs.episode_id)["steps"]) == obs.step_count == 3 * len(shapes)
    store.close()


def test_forged_trace_records_are_a_failed_trace_not_an_error(sandbox: Any) -> None:
    from tracefix_rl.engines.trace import trace_in_sandbox

    for forged, why in [('{"kind": "trace"}', "trace record field trace.text: Field required"),
                        ('{"kind": "trace_error", "message": "forged"}', "a trace record out of order")]:
        program = f"import os\nos.write(3, {forged!r}.encode() + b'\\n')\ndef f():\n    return 1\n"
        result = trace_in_sandbox(program, call="f()", sandbox=sandbox)
        assert result.truncated and result.truncation_reason == "error" and result.frames == []
        assert result.error == BROKEN.format(why)


def test_forged_trace_error_cannot_suspend_the_step_budget() -> None:
    from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment

    env = TraceFixEnvironment(EnvConfig(max_steps=5))
    obs = env.reset(task_name="celsius_wrong_operator", seed=0)
    program = "import os\nos.write(3, b'{\"kind\": \"trace_error\", \"message\": \"x\"}\\n')\n" + CELSIUS.buggy
    obs = rewrite(env, obs, program)
    while not obs.done:
        obs = env.step(CodeAction(action_type="TRACE"))
        assert not obs.infra_error
    assert obs.step_count == 5 and obs.end_reason == "step_budget" and obs.final_score is not None


def test_step_budget_ends_the_episode_even_when_grading_fails() -> None:
    from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment

    # Jobs cannot even be set up with 2 file descriptors: every run is an infrastructure error.
    env = TraceFixEnvironment(EnvConfig(max_steps=2, limits=Limits(nofile=2)))
    env.reset(task_name="celsius_wrong_operator", seed=0)
    first = env.step(CodeAction(action_type="RUN_TESTS"))
    assert first.infra_error and not first.done
    last = env.step(CodeAction(action_type="RUN_TESTS"))
    assert last.done and last.infra_error and last.end_reason == "step_budget" and last.final_score is None
    assert env.step(CodeAction(action_type="RUN_TESTS")).last_action_error == "episode is over; call reset()"


def test_record_flood_is_cut_while_reading(sandbox: Any) -> None:
    body = """
        import os
        def to_fahrenheit(c):
            line = b'{"kind": "test", "index": 0, "name": "x", "status": "returned", "value": "0", "display": "0", "stdout": "", "duration_ms": 0}\\n'
            for _ in range((16 << 20) // len(line)):
                os.write(3, line)
    """
    ex = sandbox.execute("tests", {"source": textwrap.dedent(body), "tests": [t.to_payload() for t in CELSIUS.tests]},
                         Limits())
    assert ex.outcome is Outcome.OUTPUT_LIMIT and ex.detail == "the job flooded records and was killed"
    assert len(ex.records) <= Limits().max_records
    assert sum(len(str(r)) for r in ex.records) <= Limits().record_bytes
    result = judge(textwrap.dedent(body), sandbox)
    assert [r.status for r in result.results] == ["error", "not_run", "not_run"]
    assert result.results[0].error_message == BROKEN.format("result for test 0 ('x') where test 0 was due")


def test_record_count_flood(sandbox: Any) -> None:
    program = "import os\ndef to_fahrenheit(c):\n    os.write(3, b'{}\\n' * 20000)\n"
    ex = sandbox.execute("tests", {"source": program, "tests": [t.to_payload() for t in CELSIUS.tests]}, Limits())
    assert ex.outcome is Outcome.OUTPUT_LIMIT and ex.protocol_error == "more than 10000 records"
    result = judge(program, sandbox)
    assert result.results[0].status == "error" and "broke the harness protocol" in result.results[0].error_message


@pytest.mark.parametrize("line, problem", [
    ("[" * 100_000 + "]" * 100_000, "record 4 nests too deeply"),
    ('{"kind": "test", "index": 0, "name": "test_freezing", "status": "returned", "value": "32.0", '
     '"display": "32.0", "stdout": "", "duration_ms": NaN}', "record 4 is NaN or Infinity"),
    ('{"kind": "start", "index": Infinity}', "record 4 is NaN or Infinity"),
    ("hello", "record 4 is not valid JSON"),
    ("[1, 2]", "record 4 is not a JSON object"),
    ('{"kind": "test", "stdout": "' + "x" * (2 << 20) + '"}', f"record 4 is {(2 << 20) + 30} bytes (at most 1048576)"),
])
def test_malformed_record_lines(sandbox: Any, line: str, problem: str) -> None:
    program = forging(line)
    ex = sandbox.execute("tests", {"source": program, "tests": [t.to_payload() for t in CELSIUS.tests]}, Limits())
    assert ex.protocol_error == problem and [r["kind"] for r in ex.records] == ["compile", "module", "start"]
    assert statuses(judge(program, sandbox))[0] == ("error", BROKEN.format(problem))


@pytest.mark.parametrize("records, problem", [
    (['{"kind": "done"}'], "a done record where a test record was due (test 0)"),
    (['{"kind": "weird"}'], "weird record: Input tag 'weird' found using 'kind' does not match any of the expected "
                            "tags: 'compile', 'module', 'start', 'test', 'done', 'oversize'"),
    (['{"kind": "start", "index": 2}'], "a start record where a test record was due (test 0)"),
    (['{"kind": "test", "index": 0, "name": "test_freezing", "status": "returned", "stdout": "", '
      '"duration_ms": 0.1}'], "test 0 result with status 'returned' lacks its fields"),
])
def test_records_out_of_grammar(sandbox: Any, records: list[str], problem: str) -> None:
    assert statuses(judge(forging(*records), sandbox))[0] == ("error", BROKEN.format(problem))


def test_a_done_record_before_the_tests_ran(sandbox: Any) -> None:
    result = judge(forging('{"kind": "done"}', at="module"), sandbox)
    problem = "a done record where a module record was due"
    assert statuses(result) == [("error", BROKEN.format(problem)), ("not_run", NOT_RUN.format(problem)),
                                ("not_run", NOT_RUN.format(problem))]


def test_a_forged_result_then_the_real_one(sandbox: Any) -> None:
    """A well-formed forged result counts as the program's own answer; the real one after it
    breaks the order, which fails the next test."""
    import json as _json

    result = judge(forging(_json.dumps(TEST0)), sandbox)
    problem = "a test record where a start record was due (test 1)"
    assert statuses(result) == [("passed", None), ("error", BROKEN.format(problem)), ("not_run", NOT_RUN.format(problem))]


def test_lone_surrogates_in_program_output_are_replaced(tmp_path: Path) -> None:
    from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment
    from tracefix_rl.data.trajectories import SQLiteRecorder

    recorder = SQLiteRecorder(tmp_path / "t.sqlite3")
    env = RecordEpisodes(TraceFixEnvironment(EnvConfig(max_steps=5)), recorder)
    obs = env.reset(task_name="celsius_wrong_operator", seed=0)
    obs = rewrite(env, obs, "def to_fahrenheit(c):\n    print('\\ud800 lone')\n    raise ValueError('\\udfff')\n")
    obs = env.step(CodeAction(action_type="RUN_TESTS"))
    first = obs.test_results[0]
    assert first.stdout == "? lone\n" and first.exception == "ValueError: ?"
    obs.model_dump_json()  # encodable
    recorder.close()


# ---------------------------------------------------------------------------------------------
# Grading never raises, whatever the program returns
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("returned, shown", [
    ("10**400", None),
    ("-10**400", None),
    ("float('inf')", "inf"),
    ("float('nan')", "nan"),
    ("[[[[1.0]]]] * 3", "[[[[1.0]]], [[[1.0]]], [[[1.0]]]]"),
    ("eval('[' * 90 + ']' * 90)", None),
    ("10**5000", None),
    ("type('Evil', (float,), {'__eq__': lambda s, o: 1 / 0, '__repr__': lambda s: '32.0'})(32.0)", None),
    ("complex(32, 0)", "(32+0j)"),
    ("'32.0'", "'32.0'"),
])
def test_grading_never_raises(returned: str, shown: str | None) -> None:
    from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment

    env = TraceFixEnvironment(EnvConfig(max_steps=5))
    obs = env.reset(task_name="celsius_wrong_operator", seed=0)
    obs = rewrite(env, obs, f"def to_fahrenheit(celsius):\n    return {returned}\n")
    obs = env.step(CodeAction(action_type="RUN_TESTS"))
    assert obs.tests_passed == 0 and obs.tests_total == 3 and not obs.infra_error
    if shown is not None:
        assert obs.test_results[0].actual == shown
    assert env.step(CodeAction(action_type="SUBMIT")).done


# ---------------------------------------------------------------------------------------------
# Fair scheduling: sessions cannot starve each other
# ---------------------------------------------------------------------------------------------


def _in_order(sb: Any, jobs: list[tuple[str | None, float]], gap_s: float = 0.08) -> list[int]:
    """Start ``jobs`` (owner, seconds of sleep) one after another; return the finishing order."""
    finished: list[int] = []
    lock = threading.Lock()

    def one(i: int, owner: str | None, seconds: float) -> None:
        src = f"import time\ndef f():\n    time.sleep({seconds})\n    return {i}\n"
        ex = sb.execute("tests", {"source": src, "tests": [{"name": "t", "setup": "", "call": "f()"}]},
                        Limits(), owner=owner)
        assert ex.outcome is Outcome.OK
        with lock:
            finished.append(i)

    threads = []
    for i, (owner, seconds) in enumerate(jobs):
        threads.append(threading.Thread(target=one, args=(i, owner, seconds)))
        threads[-1].start()
        time.sleep(gap_s)
    for t in threads:
        t.join()
    return finished


def test_owners_are_served_in_turn_and_each_first_come_first_served() -> None:
    from tracefix_rl.engines.sandbox._forkserver import ForkServerSandbox

    with ForkServerSandbox(workers=1) as sb:
        # a holds the worker and queues two more; b arrives last but goes before a's queue.
        order = _in_order(sb, [("a", 0.4), ("a", 0.2), ("a", 0.2), ("b", 0.2)])
    assert order == [0, 3, 1, 2]


def test_a_waiting_caller_is_never_overtaken() -> None:
    from tracefix_rl.engines.sandbox._forkserver import ForkServerSandbox

    with ForkServerSandbox(workers=1) as sb:
        events: list[str] = []
        quick = {"source": "def f():\n    return 1\n", "tests": [{"name": "t", "setup": "", "call": "f()"}]}
        slow = {"source": "import time\ndef f():\n    time.sleep(0.3)\n", "tests": [{"name": "t", "setup": "", "call": "f()"}]}

        def hog() -> None:  # calls again the moment each job returns
            sb.execute("tests", slow, Limits())
            for i in range(4):
                sb.execute("tests", quick, Limits())
                events.append(f"hog{i}")

        thread = threading.Thread(target=hog)
        thread.start()
        time.sleep(0.1)  # the hog's slow job is running
        sb.execute("tests", quick, Limits())
        events.append("waiter")
        thread.join()
    assert events.index("waiter") <= 1, events


def test_sleeping_sessions_cannot_hold_every_worker(sandbox: Any) -> None:
    """Two sessions whose programs sleep to their wall limit; a third session still runs."""
    sleeping = {"source": "import time\ndef f():\n    time.sleep(30)\n", "tests": [{"name": "t", "setup": "", "call": "f()"}]}
    sleepers = [threading.Thread(target=sandbox.execute, args=("tests", sleeping, Limits(wall_s=3, per_test_s=30)),
                                 kwargs={"owner": f"sleeper{i}"}) for i in range(2)]
    for t in sleepers:
        t.start()
    time.sleep(0.3)
    ex = sandbox.execute("tests", {"source": "def f():\n    return 7\n",
                                   "tests": [{"name": "t", "setup": "", "call": "f()"}]}, Limits(), owner="victim")
    still_sleeping = [t.is_alive() for t in sleepers]
    for t in sleepers:
        t.join()
    assert value(ex) == "7" and still_sleeping == [True, True]


def test_long_jobs_run_at_the_lowest_priority_for_good(run: Any) -> None:
    body = """
        import os, threading, time
        seen = []
        def early():  # started before the job is lowered
            time.sleep(0.4)
            seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        def attack():
            t = threading.Thread(target=early)
            t.start()
            before = os.getpriority(os.PRIO_PROCESS, 0)
            time.sleep(0.4)
            t.join()
            try:
                os.setpriority(os.PRIO_PROCESS, 0, 0)
                undo = 'raised again'
            except OSError as e:
                undo = type(e).__name__
            return [before, os.getpriority(os.PRIO_PROCESS, 0), seen, undo]
    """
    assert value(attack(run, body)) == "[0, 19, [19], 'PermissionError']"


def test_priority_and_scheduler_abuse(run: Any, server_pid: int, no_such_process: str) -> None:
    assert oserr(run, "os.nice(-5)") == "'PermissionError'"
    assert oserr(run, "os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))") == "'PermissionError'"
    assert oserr(run, f"os.setpriority(os.PRIO_PROCESS, {server_pid}, 19)") == no_such_process
    assert oserr(run, "os.setpriority(os.PRIO_PGRP, 0, 19)") == "'allowed'"  # only itself


def test_cpu_affinity_changes_stay_in_the_job(run: Any, sandbox: Any) -> None:
    assert oserr(run, "os.sched_setaffinity(0, {0})") == "'allowed'"
    body = "import os\ndef attack():\n    return len(os.sched_getaffinity(0))\n"
    for _ in range(sandbox.workers):
        assert value(attack(run, body)) == str(len(os.sched_getaffinity(0)))


def test_hidden_test_calls_cannot_be_passed_to_the_next_episode() -> None:
    """At SUBMIT a program finds the hidden tests' calls in the driver's frames and tries to
    stash them for a later episode (another session) in SysV shared memory."""
    from tracefix_rl import CodeAction, EnvConfig, TraceFixEnvironment

    stash = textwrap.dedent(IPC) + textwrap.dedent("""
        import sys
        def _stash():
            calls, frame = [], sys._getframe()
            while frame is not None:
                for v in list(frame.f_locals.values()):
                    if isinstance(v, dict) and isinstance(v.get('tests'), list):
                        calls = [t['call'] for t in v['tests']]
                frame = frame.f_back
            data = repr(calls).encode()
            shmid = libc.shmget(0x7ace0005, 65536, 0o1666)
            if shmid != -1:
                ctypes.memmove(libc.shmat(shmid, None, 0), data, len(data))
        _stash()
    """)
    first = TraceFixEnvironment(EnvConfig(max_steps=5))
    rewrite(first, first.reset(task_name="celsius_wrong_operator", seed=0), stash + CELSIUS.buggy)
    assert first.step(CodeAction(action_type="SUBMIT")).done
    read = textwrap.dedent(IPC) + textwrap.dedent("""
        shmid = libc.shmget(0x7ace0005, 65536, 0)
        print('stash:', ctypes.string_at(libc.shmat(shmid, None, 0), 300) if shmid != -1 else errno_of(shmid))
    """)
    second = TraceFixEnvironment(EnvConfig(max_steps=5))
    rewrite(second, second.reset(task_name="binary_search_off_by_one", seed=0),
            read + get_task("binary_search_off_by_one").buggy)
    out = second.step(CodeAction(action_type="RUN_TESTS")).last_execution_output
    assert "stash: [-1, 'Operation not permitted']" in out
    assert not any(t.call in out for t in CELSIUS.hidden_tests)


def test_host_processes_do_not_exist(run: Any, sandbox: Any) -> None:
    """In the jobs' pid namespace no host process exists: not this one, not the fork-server."""
    skip_without_private_root(sandbox)
    targets = [os.getpid(), *[p for p in sandbox.server_pids() if p is not None], 1]
    body = f"""
        import os
        def attack():
            out = [os.getppid()]
            for pid in {targets!r}:
                try:
                    os.kill(pid, 0)
                    out.append('exists')
                except OSError as e:
                    out.append(type(e).__name__)
            return out
    """
    # pid 1 is the namespace's own init (root): it exists, but cannot be signalled
    expected = [0] + ["ProcessLookupError"] * (len(targets) - 1) + ["PermissionError"]
    assert value(attack(run, body)) == repr(expected)
