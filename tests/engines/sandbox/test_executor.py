"""The fork-server executor, through real processes: every way a job can end, concurrency,
restarts, set-up failures, determinism, and the selection/fallback logic of get_sandbox."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

from tracefix_rl.core.errors import SandboxError, SandboxStartError
from tracefix_rl.core.values import canonical, values_match
from tracefix_rl.data.tasks import get_task
from tracefix_rl.engines.sandbox import Limits, Outcome, describe_isolation
from tracefix_rl.engines.sandbox._forkserver import ForkServerSandbox
from tracefix_rl.engines.sandbox._subprocess import SubprocessSandbox


def records_of(ex: Any) -> list[dict[str, Any]]:
    return [r for r in ex.records if r.get("kind") == "test"]


def payload_for(source: str, task: Any) -> dict[str, Any]:
    return {"source": source, "tests": [t.to_payload() for t in task.all_tests]}


def score(ex: Any, task: Any) -> list[bool]:
    by_index = {r["index"]: r for r in records_of(ex)}
    out = []
    for i, spec in enumerate(task.all_tests):
        rec = by_index.get(i)
        out.append(rec is not None and rec["status"] == "returned"
                   and values_match(rec["value"], spec.expected_value(), approx=spec.approx))
    return out


def test_builtin_task_buggy_and_reference(sandbox: Any) -> None:
    task = get_task("binary_search_off_by_one")
    ref = sandbox.execute("tests", payload_for(task.reference, task), Limits())
    assert ref.outcome is Outcome.OK and ref.isolation == sandbox.isolation
    assert all(score(ref, task))
    bug = sandbox.execute("tests", payload_for(task.buggy, task), Limits())
    assert bug.outcome is Outcome.OK
    results = score(bug, task)
    assert not all(results) and any(results)
    raised = [r for r in records_of(bug) if r["status"] == "raised"]
    assert raised and raised[0]["exc_type"] == "IndexError"
    assert raised[0]["traceback"][0][1] == "binary_search"


def test_syntax_error_is_reported_not_crashed(run: Any) -> None:
    ex = run("def f(:\n    pass\n", "f()")
    assert ex.outcome is Outcome.OK
    assert ex.records[0]["kind"] == "compile" and ex.records[0]["ok"] is False
    assert ex.records[0]["line"] == 1


def test_prints_are_captured_per_test(run: Any) -> None:
    ex = run("print('loading')\ndef f(x):\n    print('got', x)\n    return x * 2\n", "f(21)")
    assert ex.outcome is Outcome.OK
    module = [r for r in ex.records if r["kind"] == "module"][0]
    assert module["stdout"] == "loading\n"
    (rec,) = records_of(ex)
    assert rec["value"] == "42" and rec["stdout"] == "got 21\n"


def test_sleep_forever_dies_on_time(run: Any) -> None:
    src = ("import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
           "def f():\n    time.sleep(1000)\n")
    started = time.perf_counter()
    ex = run(src, "1 + 1", "f()", "3", limits=Limits(wall_s=1.0, per_test_s=30))
    elapsed = time.perf_counter() - started
    assert ex.outcome is Outcome.TIMEOUT
    assert 1.0 <= elapsed < 2.5
    recs = records_of(ex)
    assert [r["index"] for r in recs] == [0] and recs[0]["value"] == "2"  # kept after the kill
    assert ex.records[-1] == {"kind": "start", "index": 1}


def test_per_test_timeout_is_cooperative(run: Any) -> None:
    ex = run("def f():\n    while True:\n        pass\n", "f()", "7", limits=Limits(per_test_s=0.2))
    assert ex.outcome is Outcome.OK
    first, second = records_of(ex)
    assert first["status"] == "timeout" and second["value"] == "7"


def test_cpu_limit(run: Any) -> None:
    src = ("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
           "def f():\n    while True:\n        pass\n")
    ex = run(src, "f()", limits=Limits(cpu_s=1, wall_s=20, per_test_s=30))
    assert ex.outcome is Outcome.CPU_LIMIT  # not TIMEOUT: RLIMIT_CPU struck first


def test_cpu_limit_even_when_sigxcpu_is_ignored(run: Any) -> None:
    src = ("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
           "signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
           "def f():\n    while True:\n        pass\n")
    ex = run(src, "f()", limits=Limits(cpu_s=1, wall_s=20, per_test_s=30))
    assert ex.outcome is Outcome.CPU_LIMIT and ex.signal == signal.SIGKILL


def test_memory_error_in_a_test_is_a_raised_test(run: Any) -> None:
    ex = run("def f():\n    return bytearray(4 << 30)\n", "f()", "1", limits=Limits(memory_mb=512))
    assert ex.outcome is Outcome.OK
    first, second = records_of(ex)
    assert first["status"] == "raised" and first["exc_type"] == "MemoryError"
    assert second["value"] == "1"


def test_memory_exhausted_while_loading_the_program(run: Any) -> None:
    ex = run("hog = bytearray(4 << 30)\n", "1", limits=Limits(memory_mb=512))
    assert ex.outcome is Outcome.MEMORY
    assert ex.records[-1]["kind"] == "module" and ex.records[-1]["exc_type"] == "MemoryError"


def test_output_flood_is_cut(run: Any) -> None:
    ex = run("import os\ndef f():\n    while True:\n        os.write(1, b'x' * 65536)\n", "f()")
    assert ex.outcome is Outcome.OUTPUT_LIMIT
    assert ex.stdout_truncated and len(ex.stdout) <= Limits().output_bytes + 100
    assert ex.duration_ms < Limits().wall_s * 1000  # cut for flooding, not at the deadline


def test_stdout_and_stderr_are_capped_tail_kept(run: Any) -> None:
    src = "import os\nos.write(1, b'a' * 100000 + b'END')\nos.write(2, b'e' * 5000)\n"
    ex = run(src, "1", limits=Limits(output_bytes=1000))
    assert ex.outcome is Outcome.OK
    assert ex.stdout.endswith("END") and ex.stdout_truncated
    assert ex.stderr.endswith("e" * 100) and ex.stderr_truncated


def test_os_exit_ends_the_job(run: Any) -> None:
    ex = run("import os\ndef f():\n    os._exit(0)\n", "5", "f()", "6")
    assert ex.outcome is Outcome.EXITED and ex.exit_code == 0
    assert [r["value"] for r in records_of(ex)] == ["5"]


def test_sys_exit_in_a_test_is_a_raised_test(run: Any) -> None:
    ex = run("import sys\ndef f():\n    sys.exit(0)\n", "f()", "6")
    assert ex.outcome is Outcome.OK
    first, second = records_of(ex)
    assert first["status"] == "raised" and first["exc_type"] == "SystemExit"
    assert second["value"] == "6"


def test_sys_exit_at_module_level(run: Any) -> None:
    ex = run("import sys\nsys.exit(3)\n", "1")
    assert ex.outcome is Outcome.OK
    module = [r for r in ex.records if r["kind"] == "module"][0]
    assert module["ok"] is False and module["exc_type"] == "SystemExit"
    assert records_of(ex) == []


def test_segfault_is_a_crash(run: Any) -> None:
    ex = run("import ctypes\ndef f():\n    return ctypes.string_at(0)\n", "1", "f()")
    assert ex.outcome is Outcome.CRASHED and ex.signal == signal.SIGSEGV
    assert [r["value"] for r in records_of(ex)] == ["1"]


def test_abort_is_a_crash(run: Any) -> None:
    ex = run("import os\ndef f():\n    os.abort()\n", "f()")
    assert ex.outcome is Outcome.CRASHED and ex.signal == signal.SIGABRT


def test_determinism(run: Any) -> None:
    src = "import random, time\ndef f():\n    return [hash('abc'), random.random(), time.tzname, sorted({'b', 'a', 'c'})]\n"
    a = records_of(run(src, "f()", "f()", seed=7))
    b = records_of(run(src, "f()", seed=7))
    assert a[0]["value"] == a[1]["value"] == b[0]["value"]
    assert "('UTC', 'UTC')" in a[0]["value"]


def test_environment_is_scrubbed(run: Any) -> None:
    ex = run("import os\ndef f():\n    return dict(os.environ)\n", "f()")
    from tracefix_rl.engines.sandbox._subprocess import job_environment

    assert records_of(ex)[0]["value"] == canonical(job_environment())


def test_non_preloaded_import_fails_as_a_test_error(run: Any) -> None:
    ex = run("def f():\n    import sqlite3\n    return 1\n", "f()")
    (rec,) = records_of(ex)
    assert rec["status"] == "raised" and rec["exc_type"] in ("ModuleNotFoundError", "ImportError", "PermissionError")


def test_preloaded_stdlib_is_usable(run: Any) -> None:
    src = ("import collections, heapq, bisect, itertools, functools, math, re, string, typing, dataclasses\n"
           "import operator, statistics, fractions, decimal, json, copy, enum, array, textwrap, datetime\n"
           "@dataclasses.dataclass\nclass P:\n    x: int\n"
           "def f():\n    return [P(3).x, heapq.nsmallest(1, [3, 1]), str(decimal.Decimal('1.1') + 1),\n"
           "            datetime.datetime.strptime('2020', '%Y').year, statistics.mean([1, 2, 3])]\n")
    (rec,) = records_of(run(src, "f()"))
    assert rec["status"] == "returned", rec
    assert rec["value"] == "[3, [1], '2.1', 2020, 2]"


def test_threads_still_work(run: Any) -> None:
    src = ("import threading\nout = []\ndef f():\n    ts = [threading.Thread(target=out.append, args=(i,)) for i in range(4)]\n"
           "    [t.start() for t in ts]\n    [t.join() for t in ts]\n    return sorted(out)\n")
    (rec,) = records_of(run(src, "f()"))
    assert rec["value"] == "[0, 1, 2, 3]"


def test_unknown_driver_is_misuse(sandbox: Any) -> None:
    with pytest.raises(SandboxError):
        sandbox.execute("nope", {}, Limits())


def test_setup_failure_is_an_infra_error() -> None:
    with ForkServerSandbox(workers=1) as sb:
        ex = sb.execute("tests", {"source": "", "tests": []}, Limits(nofile=2))
        assert ex.outcome is Outcome.INFRA_ERROR and "set-up" in ex.detail
        assert sb.execute("tests", {"source": "", "tests": []}, Limits()).outcome is Outcome.OK


def test_concurrent_jobs_are_not_mixed_up(sandbox: Any) -> None:
    errors: list[str] = []

    def worker(n: int) -> None:
        for j in range(8):
            src = f"def f():\n    return ({n}, {j})\n"
            ex = sandbox.execute("tests", {"source": src, "tests": [{"name": "t", "setup": "", "call": "f()"}]},
                                 Limits())
            recs = [r for r in ex.records if r.get("kind") == "test"]
            if ex.outcome is not Outcome.OK or recs[0]["value"] != f"({n}, {j})":
                errors.append(f"{n}/{j}: {ex.outcome} {recs}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_killed_fork_server_is_restarted_and_in_flight_job_is_infra_error() -> None:
    with ForkServerSandbox(workers=1) as sb:
        ok = {"source": "def f():\n    return 1\n", "tests": [{"name": "t", "setup": "", "call": "f()"}]}
        assert sb.execute("tests", ok, Limits()).outcome is Outcome.OK
        (pid,) = sb.server_pids()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_dead(pid)
        assert sb.execute("tests", ok, Limits()).outcome is Outcome.OK
        (pid2,) = sb.server_pids()
        assert pid2 not in (None, pid)

        slow = {"source": "import time\ndef f():\n    time.sleep(30)\n",
                "tests": [{"name": "t", "setup": "", "call": "f()"}]}
        result: list[Any] = []
        thread = threading.Thread(target=lambda: result.append(sb.execute("tests", slow, Limits(wall_s=20))))
        thread.start()
        time.sleep(0.5)
        assert pid2 is not None
        os.kill(pid2, signal.SIGKILL)
        thread.join(10)
        assert result and result[0].outcome is Outcome.INFRA_ERROR
        assert sb.execute("tests", ok, Limits()).outcome is Outcome.OK


def wait_dead(pid: int) -> None:
    for _ in range(200):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except OSError:
            return
        time.sleep(0.01)


def test_closed_sandbox_refuses_jobs() -> None:
    sb = ForkServerSandbox(workers=1)
    sb.close()
    sb.close()
    with pytest.raises(SandboxError):
        sb.execute("tests", {"source": "", "tests": []}, Limits())


def test_without_uid_drop_landlock_and_seccomp_still_hold() -> None:
    with ForkServerSandbox(workers=1, drop_uid=False) as sb:
        assert sb.isolation == "forkserver+landlock+seccomp+ns"
        src = ("import socket\ndef f():\n    try:\n        open('/etc/passwd').read()\n        return 'read'\n"
               "    except OSError as e:\n        return type(e).__name__\n"
               "def g():\n    try:\n        socket.socket()\n        return 'socket'\n"
               "    except OSError as e:\n        return type(e).__name__\n"
               "def h():\n    import os\n    try:\n        os.chown('.', 1, 1)\n        return 'chown'\n"
               "    except OSError as e:\n        return type(e).__name__\n")
        tests = [{"name": n, "setup": "", "call": f"{n}()"} for n in "fgh"]
        ex = sb.execute("tests", {"source": src, "tests": tests}, Limits())
        # As root without a slot uid, the job also loses every capability (no CAP_CHOWN here).
        assert [r["value"] for r in records_of(ex)] == ["'FileNotFoundError'", "'PermissionError'", "'PermissionError'"]


def test_subprocess_fallback_runs_jobs() -> None:
    sb = SubprocessSandbox()
    ex = sb.execute("tests", {"source": "def f():\n    return 2\n", "tests": [{"name": "t", "setup": "", "call": "f()"}]},
                    Limits())
    assert ex.outcome is Outcome.OK and records_of(ex)[0]["value"] == "2" and ex.isolation == "subprocess"


def test_unsandboxed_needs_explicit_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracefix_rl.engines import sandbox as pkg

    monkeypatch.setenv("TRACEFIX_SANDBOX", "subprocess")
    monkeypatch.delenv("TRACEFIX_ALLOW_UNSANDBOXED", raising=False)
    with pytest.raises(SandboxStartError, match="TRACEFIX_ALLOW_UNSANDBOXED"):
        pkg._create(None)
    sb, reasons = pkg._create(True)
    assert sb.isolation == "subprocess" and reasons
    monkeypatch.setenv("TRACEFIX_ALLOW_UNSANDBOXED", "1")
    sb, _ = pkg._create(None)
    assert sb.isolation == "subprocess"


def test_describe_isolation(sandbox: Any) -> None:
    info = describe_isolation()
    assert info["level"] == sandbox.isolation
    assert info["root"] == (os.geteuid() == 0)
    assert info["landlock_abi"] >= 1 and info["seccomp"] is True
    assert info["forkserver"]["workers"] >= 2
    assert all(info["forkserver"]["drivers"].values()), info["forkserver"]["missing"]
    if info["root"]:  # root always gets the private root; so does non-root with user namespaces
        assert info["forkserver"]["namespaces"] == ["mount", "ipc", "uts", "net", "cgroup", "pid"]
        assert sandbox.isolation == "forkserver+landlock+seccomp+uid+ns" and info["forkserver"]["notes"] == []
    if info["root"]:
        uids = info["forkserver"]["uids"]
        assert len(set(uids)) == len(uids) and all(u >= 20000 for u in uids)
