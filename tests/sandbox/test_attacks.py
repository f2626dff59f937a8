"""Hostile programs run through the real sandbox and the real test driver.

Each attack is a small program plus a test call that reveals what happened inside the job; each
asserts the exact outcome. After every attack a canary job must still run and pass (nothing an
attack does may stop the next job), and score-integrity attacks are judged with
``values_match`` against expected values the program cannot know, as the environment does.
"""

from __future__ import annotations

import hashlib
import os
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
from tracefix_rl._values import values_match
from tracefix_rl.sandbox import Limits, Outcome
from tracefix_rl.tasks import get_task

PACKAGE_DIR = Path(tracefix_rl.__path__[0])
TASK_FILE = PACKAGE_DIR / "tasks" / "builtin" / "binary_search_off_by_one.toml"
VALUES_FILE = PACKAGE_DIR / "_values.py"
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


def test_read_server_environment(run: Any, absent: str) -> None:
    assert oserr(run, "open(f'/proc/{os.getppid()}/environ').read()") == absent
    assert oserr(run, "open('/proc/self/environ').read()") == absent
    assert oserr(run, "open('/proc/1/environ').read()") == absent


def test_api_keys_never_reach_a_job(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracefix_rl.sandbox._forkserver import ForkServerSandbox

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
                return inspect.getsource(sys.modules['tracefix_rl._values'])[:10]
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


def test_signal_the_fork_server(run: Any, sandbox: Any) -> None:
    pids_before = sandbox.server_pids()
    assert oserr(run, "os.kill(os.getppid(), 9)") == "'PermissionError'"
    assert sandbox.server_pids() == pids_before


def test_signal_the_environment_process(run: Any) -> None:
    assert oserr(run, f"os.kill({os.getpid()}, 15)") == "'PermissionError'"


def test_signal_everything(run: Any, sandbox: Any) -> None:
    pids_before = sandbox.server_pids()
    ex = attack(run, "import os\ndef attack():\n    os.kill(-1, 9)\n    return 'alive'\n")
    assert ex.outcome in (Outcome.OK, Outcome.CRASHED)
    assert sandbox.server_pids() == pids_before and all(p is not None for p in pids_before)


def test_ptrace_the_server(run: Any) -> None:
    body = """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        def attack():
            r = libc.ptrace(16, os.getppid(), 0, 0)  # PTRACE_ATTACH
            return [r, os.strerror(ctypes.get_errno())]
    """
    assert value(attack(run, body)) == "[-1, 'Operation not permitted']"


def test_read_server_memory(run: Any, absent: str) -> None:
    assert oserr(run, "open(f'/proc/{os.getppid()}/mem', 'rb').read(1)") == absent


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
    ("patch canonical", "import tracefix_rl._values as v, tracefix_rl.sandbox._driver_tests as d\n"
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
    body = ("import tracefix_rl.sandbox._driver_tests as d\n"
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

    from tracefix_rl.sandbox._forkserver import ForkServerSandbox

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
