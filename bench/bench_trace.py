"""Benchmark: tracing a 1,000-iteration loop versus running it untraced.

Both sides do the same work per repetition: compile the program, execute its module code and
call ``f(1000)`` (a loop that adds to a running total). The traced side is
:func:`tracefix_rl.engines.trace.trace_program`, in process, in CWM mode (no value clipping), so the
numbers measure the tracer and not sandbox start-up. Reports median and p99 wall time of each
side and the ratio of the medians.

Usage::

    .venv/bin/python bench/bench_trace.py [--quick] [--repeats N] [--json PATH] [--sandbox]

``--sandbox`` also times :func:`tracefix_rl.engines.trace.trace_in_sandbox` end to end (process
start-up included), which is what the environment's TRACE action pays.

Measured on the 2-core development machine (CPython 3.11.7, shared with other jobs):
untraced median 0.050 ms, traced median 10.5 ms (2,008 frames; p99 17.8 ms), ratio ≈ 210x;
``trace_in_sandbox`` end to end (fresh interpreter per job) median 45-80 ms. See the printed
table for the current machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracefix_rl.engines.trace import trace_in_sandbox, trace_program  # noqa: E402

PROGRAM = """\
def f(n):
    total = 0
    for i in range(n):
        total += i
    return total
"""
CALL = "f(1000)"


def _untraced() -> None:
    ns: dict[str, object] = {"__name__": "__main__"}
    exec(compile(PROGRAM, "<bench>", "exec"), ns)
    ns["f"](1000)  # type: ignore[operator]


def _traced() -> int:
    r = trace_program(PROGRAM, call=CALL, max_frames=10**6, timeout_s=60.0)
    assert not r.truncated and r.return_value == "499500"
    return len(r.frames)


def _sandboxed() -> None:
    r = trace_in_sandbox(PROGRAM, call=CALL, max_frames=10**6, timeout_s=60.0)
    assert not r.truncated and r.return_value == "499500"


def _p99(xs: list[float]) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _time(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark, print a table, optionally write JSON; returns the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few repetitions (smoke test)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="write results as JSON here")
    ap.add_argument("--sandbox", action="store_true", help="also time trace_in_sandbox end to end")
    args = ap.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 50)
    frames = _traced()  # warm-up, and the frame count
    _untraced()
    untraced = _time(_untraced, repeats * 10)
    traced = _time(_traced, repeats)
    res = {
        "python": sys.version.split()[0], "iterations": 1000, "frames": frames, "repeats": repeats,
        "untraced_ms": {"median": statistics.median(untraced), "p99": _p99(untraced)},
        "traced_ms": {"median": statistics.median(traced), "p99": _p99(traced)},
    }
    res["ratio_median"] = res["traced_ms"]["median"] / res["untraced_ms"]["median"]
    if args.sandbox:
        sandboxed = _time(_sandboxed, max(3, repeats // 5))
        res["sandboxed_ms"] = {"median": statistics.median(sandboxed), "p99": _p99(sandboxed)}
    print(f"1,000-iteration loop, {frames} frames, CPython {res['python']}, {repeats} traced repeats")
    print(f"{'':10} {'median ms':>10} {'p99 ms':>10}")
    for key in ("untraced", "traced", "sandboxed"):
        if key + "_ms" not in res:
            continue
        print(f"{key:10} {res[key + '_ms']['median']:10.3f} {res[key + '_ms']['p99']:10.3f}")
    print(f"ratio (median traced / median untraced): {res['ratio_median']:.1f}x")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
