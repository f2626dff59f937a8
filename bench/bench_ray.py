"""Episodes per minute and step latency on a Ray pool against in-process, in the same run.

    python bench/bench_ray.py [--quick] [--json PATH] [--hosts N] [--cpus-per-host C]

Starts a local Ray cluster (every CPU of this machine, loopback, no dashboard, a fresh auth
token in the environment) and a :class:`TraceFixRayPool` of ``--hosts`` hosts. The same oracle
episodes (every built-in task x seeds; about 6 steps each: view, run, trace, fix, run, submit)
are played:

* in process: one loop in this process (the anchor), then 8 threads in this process;
* on the pool: ``run_episodes`` with 8 episodes in flight per host (the steps run in the
  hosts; the driver only chooses actions).

Every episode is recorded in both cases (a SQLite file per run, one per host on the pool).
Step latency is one caller stepping VIEW_CODE (pure overhead: ~20 us of work) and RUN_TESTS
(a sandbox job) back to back, in process and through the pool (an actor round trip each),
with the CPU the calling process spends per pool call (what limits how many steps one driver
can push).
``steps_per_s_per_cpu`` divides the mixed-step throughput by the CPUs the run could use, the
figure the README's capacity model extrapolates from.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import emit, latency, percentile  # noqa: E402

from tracefix_rl.agents.scripted import OraclePolicy  # noqa: E402
from tracefix_rl.core.config import EnvConfig  # noqa: E402
from tracefix_rl.core.models import CodeAction  # noqa: E402
from tracefix_rl.data.tasks import list_tasks  # noqa: E402
from tracefix_rl.env import RecordEpisodes, TraceFixEnvironment  # noqa: E402

LONG = EnvConfig(max_steps=10_000)
"""Both sides' settings: oracle episodes end at SUBMIT; the latency episodes need a long budget."""


def _in_process(specs: list[dict], threads: int, db: Path) -> dict:
    from tracefix_rl.data.trajectories import SQLiteRecorder

    recorder = SQLiteRecorder(db)
    local = threading.local()
    steps = [0]
    lock = threading.Lock()

    def play(reset: dict) -> None:
        env = getattr(local, "env", None)
        if env is None:
            env = local.env = RecordEpisodes(TraceFixEnvironment(LONG), recorder)
        obs = env.reset(**reset)
        policy = OraclePolicy(reset)
        while not obs.done:
            obs = env.step(policy.act(obs))
        with lock:
            steps[0] += obs.step_count

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(play, specs))
    seconds = time.perf_counter() - started
    recorder.close()
    return {"episodes": len(specs), "steps": steps[0], "seconds": seconds}


def _pooled(pool, specs: list[dict], concurrency: int) -> dict:
    started = time.perf_counter()
    outcomes = pool.run_episodes(OraclePolicy, specs, seeds=None, concurrency=concurrency)
    seconds = time.perf_counter() - started
    bad = [o.error for o in outcomes if not o.ok]
    if bad:
        raise SystemExit(f"{len(bad)} pool episodes failed: {bad[:3]}")
    return {"episodes": len(outcomes), "steps": sum(o.steps for o in outcomes), "seconds": seconds}


def _row(setup: str, where: str, run: dict, cpus: float, anchor: float | None) -> dict:
    per_min = 60 * run["episodes"] / run["seconds"]
    return {"setup": setup, "where": where, "episodes": run["episodes"], "seconds": round(run["seconds"], 2),
            "episodes_per_minute": round(per_min, 1), "steps_per_s": round(run["steps"] / run["seconds"], 1),
            "steps_per_s_per_cpu": round(run["steps"] / run["seconds"] / cpus, 1),
            "ratio_vs_in_process": round(per_min / anchor, 2) if anchor else 1.0}


def _latency_rows(step_local, step_pool, n: int) -> list[dict]:
    rows = []
    for action in ("VIEW_CODE", "RUN_TESTS"):
        a = CodeAction(action_type=action)
        local = latency(lambda a=a: step_local(a), n, warmup=10)
        cpu = time.process_time()
        pooled = latency(lambda a=a: step_pool(a), n, warmup=10)
        cpu = (time.process_time() - cpu) / (n + 10) * 1000  # this process's CPU per call, all threads
        lm, pm = statistics.median(local), statistics.median(pooled)
        rows.append({"action": action, "in_process_median_ms": round(lm, 3),
                     "in_process_p99_ms": round(percentile(local, 0.99), 3), "pool_median_ms": round(pm, 3),
                     "pool_p99_ms": round(percentile(pooled, 0.99), 3), "pool_overhead_ms": round(pm - lm, 3),
                     "ratio_pool_vs_in_process": round(pm / lm, 2), "driver_cpu_ms_per_call": round(cpu, 3)})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 episodes, 50 latency samples (the CI smoke run)")
    ap.add_argument("--json", default=None, help="where to write the JSON result")
    ap.add_argument("--hosts", type=int, default=2)
    ap.add_argument("--cpus-per-host", type=float, default=1.0)
    args = ap.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="tfbench-"))
    # Ray reads its token once, at import: a fresh one for this run, nothing read from ~/.ray.
    os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                       "TRACEFIX_DB": str(scratch / "default.sqlite3")})
    try:
        import ray
    except ImportError:
        emit("ray", [], {"skipped": "ray is not installed (pip install 'tracefix-rl[ray]')"}, args.json)
        return
    from tracefix_rl.integrations.ray import TraceFixRayPool

    names = [t.name for t in list_tasks()]
    seeds = range(1) if args.quick else range(4)
    specs = [{"task_name": n, "seed": s} for s in seeds for n in names]
    n_latency = 50 if args.quick else 400
    cpus = os.cpu_count() or 1
    started = time.perf_counter()
    ray.init(num_cpus=cpus, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False,
             _temp_dir=str(scratch / "r"))
    init_s = time.perf_counter() - started
    try:
        started = time.perf_counter()
        pool = TraceFixRayPool(num_hosts=args.hosts, cpus_per_host=args.cpus_per_host, env_config=LONG,
                               db_dir=str(scratch / "hosts"))
        pool_start_s = time.perf_counter() - started
        _in_process(specs[:10], 1, scratch / "warm.sqlite3")  # warm-up: the sandbox pool, imports
        _pooled(pool, specs[:10], 8)

        base = _in_process(specs, 1, scratch / "one.sqlite3")
        anchor = 60 * base["episodes"] / base["seconds"]
        rows = [_row("in-process, 1 loop", "this process", base, 1, None),
                _row("in-process, 8 threads", "this process", _in_process(specs, 8, scratch / "eight.sqlite3"),
                     cpus, anchor),
                _row(f"Ray pool, {args.hosts} hosts x {args.cpus_per_host:g} CPU, {8 * args.hosts} in flight",
                     "actors", _pooled(pool, specs, 8 * args.hosts), min(cpus, args.hosts * args.cpus_per_host),
                     anchor)]

        from tracefix_rl.data.trajectories import SQLiteRecorder

        recorder = SQLiteRecorder(scratch / "latency.sqlite3")  # recorded, as on the hosts
        env = RecordEpisodes(TraceFixEnvironment(LONG), recorder)
        env.reset(task_name="binary_search_off_by_one", seed=0)
        sid = pool.open()
        pool.reset(sid, task_name="binary_search_off_by_one", seed=0)
        latency_rows = _latency_rows(env.step, lambda a: pool.step(sid, a), n_latency)
        pool.close(sid)
        recorder.close()
        pool.shutdown()
    finally:
        ray.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"ray.init {init_s:.1f} s, pool of {args.hosts} hosts ready in {pool_start_s:.1f} s")
    emit("ray", rows, {"latency": latency_rows, "quick": args.quick, "ray_version": ray.__version__,
                       "hosts": args.hosts, "cpus_per_host": args.cpus_per_host, "ray_init_s": round(init_s, 2),
                       "pool_start_s": round(pool_start_s, 2), "episodes": len(specs)}, args.json)


if __name__ == "__main__":
    main()
