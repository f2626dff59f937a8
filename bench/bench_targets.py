"""The performance targets that need an anchor measured next to them, in one run.

    python bench/bench_targets.py [--quick] [--json PATH] [--before DIR]

Measured, each against its anchor in the same process and the same rounds (rounds alternate
what they time, so the machine's noise hits every figure):

* ``run_tests``: one RUN_TESTS step through the environment with recording off and on
  (``RecordEpisodes`` + ``SQLiteRecorder``), against the raw sandbox job it makes, the floor
  (a pre-forked child of a lean ``python -S -I`` interpreter running the same program and test
  calls, no isolation), ``python -m pytest`` on an equivalent test file as a clean venv would
  run it (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``: no third-party plugins) and as this project's
  venv runs it (with every installed plugin, hypothesis among them). debug-gym is reported
  only if it is importable: it is never faked.
* ``sandbox_cpu``: CPU time per sandbox job (the fork servers and every child they reaped,
  ``/proc/PID/stat``, plus the calling process), against an unconfined pre-forked child of a
  similar interpreter (the same floor server, with the package imported so its heap is alike).
* ``throughput``: isolated runs per minute with 2 callers on the default 2-worker sandbox.
* ``large_edit``: REPLACE_LINES of one line of a 2,500-line program, recording off and on.
* ``recorded_step_cpu``: CPU of one recorded REPLACE_LINES step and of the same step
  unrecorded (their difference is what recording costs the step's thread and the writer).

``--before DIR`` (a checkout of an earlier commit) measures that tree too, in the same run
(each tree in its own interpreter, alternating), and reports each figure before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _common import RUN_CALLS, make_pytest_job, throughput  # noqa: E402

# The floor: a lean interpreter that keeps one child forked ahead of each job; the child reads
# the job, runs the program and the test calls, writes the results and exits.
_FLOOR = RUN_CALLS + r"""
import json, os, struct, sys
if sys.argv[-1] == "similar":
    import tracefix_rl.engines.sandbox, tracefix_rl.engines.judge, tracefix_rl.env  # a heap like the sandbox's
def run(jr, rw):
    n = struct.unpack("<I", os.read(jr, 4))[0]
    data = b""
    while len(data) < n:
        data += os.read(jr, n - len(data))
    body = json.dumps(run_calls(json.loads(data))).encode()
    os.write(rw, struct.pack("<I", len(body)) + body)
    os._exit(0)
def prefork():
    jr, jw = os.pipe()
    rr, rw = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(jw); os.close(rr)
        run(jr, rw)
    os.close(jr); os.close(rw)
    return pid, jw, rr
inp, out = sys.stdin.buffer, sys.stdout.buffer
ahead = prefork()
while True:
    head = inp.read(4)
    if len(head) < 4:
        break
    data = inp.read(struct.unpack("<I", head)[0])
    pid, jw, rr = ahead
    os.write(jw, head + data)
    os.close(jw)
    resp = b""
    while chunk := os.read(rr, 65536):
        resp += chunk
    os.close(rr)
    os.waitpid(pid, 0)
    ahead = prefork()
    out.write(resp)
    out.flush()
"""


def _stats(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"p50_ms": statistics.median(s), "p99_ms": s[min(len(s) - 1, round(0.99 * (len(s) - 1)))],
            "min_ms": s[0], "n": len(s)}


def _cpu_of(pid: int) -> float:
    """CPU seconds of ``pid`` and of every child it has reaped."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class FloorServer:
    """The floor server (see the module docstring) and a client for it."""

    def __init__(self, payload: dict[str, Any], *, similar: bool = False) -> None:
        args = [sys.executable, "-c", _FLOOR, "similar"] if similar else [sys.executable, "-S", "-I", "-c", _FLOOR]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
        body = json.dumps(payload).encode()
        self._frame, self._tests = struct.pack("<I", len(body)) + body, len(payload["tests"])

    def job(self) -> None:
        """One job, checked for one result per test."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(self._frame)
        self.proc.stdin.flush()
        n = struct.unpack("<I", self.proc.stdout.read(4))[0]
        if len(json.loads(self.proc.stdout.read(n))) != self._tests:
            raise RuntimeError("the floor server returned the wrong number of results")

    def close(self) -> None:
        """Stop the server (it exits when its input closes)."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def _rounds(jobs: dict[str, Callable[[], None]], rounds: int, per_round: int, warmup: int = 3) -> dict[str, Any]:
    """Time every job ``per_round`` times per round, in a shuffled order each round."""
    samples: dict[str, list[float]] = {k: [] for k in jobs}
    for fn in jobs.values():
        for _ in range(warmup):
            fn()
    rng = random.Random(0)
    for _ in range(rounds):
        order = list(jobs)
        rng.shuffle(order)
        for name in order:
            fn = jobs[name]
            for _ in range(per_round):
                t = time.perf_counter()
                fn()
                samples[name].append((time.perf_counter() - t) * 1000)
    return {k: _stats(v) for k, v in samples.items()}


def _envs(task_source: Any = None) -> tuple[Any, Any, Any]:
    from tracefix_rl import EnvConfig, TraceFixEnvironment
    from tracefix_rl.data.trajectories import SQLiteRecorder
    from tracefix_rl.env.wrappers import RecordEpisodes

    cfg = EnvConfig(max_steps=10**9)
    tmp = tempfile.mkdtemp(prefix="tracefix-bench-")
    plain = TraceFixEnvironment(cfg, task_source=task_source)
    recorder = SQLiteRecorder(Path(tmp) / "t.sqlite3")
    recorded = RecordEpisodes(TraceFixEnvironment(cfg, task_source=task_source), recorder)
    return plain, recorded, recorder


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each number's median over ``runs`` (same shape); other values from the first run that has them."""
    out: dict[str, Any] = {}
    for key in dict.fromkeys(k for r in runs for k in r):
        values = [r[key] for r in runs if key in r]
        if isinstance(values[0], dict):
            out[key] = _median_of(values)
        elif isinstance(values[0], (int, float)) and not isinstance(values[0], bool):
            out[key] = statistics.median(values)
        else:
            out[key] = values[0]
    return out


def measure(quick: bool, *, pytest: bool = True) -> dict[str, Any]:
    """Every figure of this tree (runs in the interpreter whose ``tracefix_rl`` is measured)."""
    import dataclasses

    from tracefix_rl import CodeAction
    from tracefix_rl.data.tasks import get_task
    from tracefix_rl.data.tasks._source import BuiltinSource
    from tracefix_rl.engines.sandbox import Limits, get_sandbox
    from tracefix_rl.engines.sandbox._forkserver import ForkServerSandbox

    task = get_task("binary_search_off_by_one")
    payload = {"source": task.buggy, "tests": [t.to_payload() for t in task.tests]}
    out: dict[str, Any] = {}
    rounds, per = (3, 15) if quick else (8, 40)

    # RUN_TESTS through the environment, and its anchors
    plain, recorded, recorder = _envs()
    plain.reset(task_name=task.name, seed=0)
    recorded.reset(task_name=task.name, seed=0)
    run = CodeAction(action_type="RUN_TESTS")
    sandbox = get_sandbox()
    floor = FloorServer(payload)

    def raw() -> None:
        sandbox.execute("tests", payload, Limits())

    with tempfile.TemporaryDirectory() as tmp_plain, tempfile.TemporaryDirectory() as tmp_venv:
        jobs = {"env_recording_off": lambda: plain.step(run), "env_recording_on": lambda: recorded.step(run),
                "raw_sandbox_job": raw, "floor_preforked_lean_child": floor.job}
        out["run_tests"] = _rounds(jobs, rounds, per)
        slow = {} if not pytest else {"pytest_plain": make_pytest_job(Path(tmp_plain), task, plugins=False),
                "pytest_venv_plugins": make_pytest_job(Path(tmp_venv), task, plugins=True)}
        if slow:
            out["run_tests"].update(_rounds(slow, 1 if quick else 5, 1, warmup=0 if quick else 1))
    floor.close()
    if pytest:  # the same for every tree: measured with the tree under test only
        try:
            import debug_gym  # noqa: F401
            out["debug_gym"] = "installed, but its eval is not wired into this benchmark"
        except ImportError:
            out["debug_gym"] = "not installed: no figure"

    # CPU per sandbox job, and per job of an unconfined child of a similar interpreter
    n_cpu = 150 if quick else 600
    fork = ForkServerSandbox(workers=2)
    similar = FloorServer(payload, similar=True)
    try:
        fork_job = lambda: fork.execute("tests", payload, Limits())  # noqa: E731
        for _ in range(20):
            fork_job()
            similar.job()
        cpu: dict[str, list[float]] = {"sandbox_job": [], "unconfined_similar_child": []}
        for _ in range(rounds):
            for name, fn, pids in (("sandbox_job", fork_job, [p for p in fork.server_pids() if p]),
                                   ("unconfined_similar_child", similar.job, [similar.proc.pid])):
                before = sum(_cpu_of(p) for p in pids) + _self_cpu()
                for _ in range(n_cpu // rounds):
                    fn()
                cpu[name].append((sum(_cpu_of(p) for p in pids) + _self_cpu() - before) * 1000 / (n_cpu // rounds))
        out["cpu_per_job_ms"] = {k: statistics.median(v) for k, v in cpu.items()}
        out["isolation"] = fork.isolation
        # isolated runs per minute, 2 callers, 2 workers
        out["runs_per_minute_2_callers"] = throughput(fork_job, 150 if quick else 800) * 60
    finally:
        fork.close()
        similar.close()

    # REPLACE_LINES on a 2,500-line program, and the CPU of one recorded step
    filler = "".join(f"def helper_{i}(x):\n    y = x + {i}\n    return y * 2\n\n" for i in range(623))
    big = dataclasses.replace(task, buggy=filler + task.buggy, reference=filler + task.reference)

    class _Big(BuiltinSource):
        def get(self, name: str) -> Any:
            return big if name == "big" else get_task(name)

    big_plain, big_recorded, big_recorder = _envs(_Big())
    big_plain.reset(task_name="big", seed=0)
    big_recorded.reset(task_name="big", seed=0)
    out["large_edit_lines"] = big.buggy.count("\n")
    counter = [0]

    def edit(env: Any) -> Callable[[], None]:
        def step() -> None:
            counter[0] += 1  # a new text every step: nothing is answered from a cache
            env.step(CodeAction(action_type="REPLACE_LINES", start_line=2, end_line=2,
                                new_code_block=f"    y = x + {counter[0]}"))
        return step

    out["large_edit"] = _rounds({"recording_off": edit(big_plain), "recording_on": edit(big_recorded)},
                                rounds, 5 if quick else 15)
    small: dict[str, list[float]] = {"recording_off": [], "recording_on": []}
    line = task.buggy.splitlines().index(next(ln for ln in task.buggy.splitlines() if ln.strip())) + 1
    for env in (plain, recorded):
        env.reset(task_name=task.name, seed=1)
    text = task.buggy.splitlines()[line - 1]
    for _ in range(rounds):
        for env, name in ((plain, "recording_off"), (recorded, "recording_on")):
            n = 60 if quick else 300
            c0 = time.thread_time()
            for _ in range(n):
                counter[0] += 1
                env.step(CodeAction(action_type="REPLACE_LINES", start_line=line, end_line=line,
                                    new_code_block=f"{text}  # {counter[0]}"))
            small[name].append((time.thread_time() - c0) * 1000 / n)
    out["recorded_step_thread_cpu_ms"] = {k: statistics.median(v) for k, v in small.items()}
    proc: dict[str, list[float]] = {"recording_off": [], "recording_on": []}
    for _ in range(rounds):
        for env, name in ((plain, "recording_off"), (recorded, "recording_on")):
            n = 60 if quick else 300
            c0 = _self_cpu()
            for _ in range(n):
                counter[0] += 1
                env.step(CodeAction(action_type="REPLACE_LINES", start_line=line, end_line=line,
                                    new_code_block=f"{text}  # {counter[0]}"))
            proc[name].append((_self_cpu() - c0) * 1000 / n)
    out["recorded_step_cpu_ms"] = {k: statistics.median(v) for k, v in proc.items()}
    for r in (recorder, big_recorder):
        r.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure this tree (and ``--before``'s), print the figures, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "targets.json")
    ap.add_argument("--before", type=Path, help="another checkout to measure in the same run")
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-pytest", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.probe:
        print(json.dumps(measure(args.quick, pytest=not args.no_pytest)))
        return 0
    trees = {"now": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    # Trees alternate, in a shuffled order per outer round, so the machine's load hits both; each
    # figure is the median over the outer rounds. The pytest and debug-gym anchors are the same
    # for every tree: measured with this tree only.
    outer = 1 if args.quick else 2
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in trees}
    rng = random.Random(1)
    for i in range(outer):
        order = list(trees)
        rng.shuffle(order)
        for label in order:
            code = trees[label]
            cmd = [sys.executable, str(Path(__file__).resolve()), "--probe", *(["--quick"] if args.quick else []),
                   *(["--no-pytest"] if label != "now" or i else [])]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, cwd=ROOT,
                                  env={**os.environ, "PYTHONPATH": str(code), "TRACEFIX_RECORD": "0"})
            if proc.returncode != 0:
                raise SystemExit(f"measuring {code} failed:\n{proc.stderr[-3000:]}")
            runs[label].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"round {i + 1}/{outer}, {label} ({code}) measured", flush=True)
    results = {label: _median_of(r) for label, r in runs.items()}
    print(json.dumps(results, indent=1))
    data = {"benchmark": "targets", "quick": args.quick, "loadavg_1m": os.getloadavg()[0],
            "trees": {k: str(v) for k, v in trees.items()}, **results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
