"""The non-root tier for real: a fork-server started as an unprivileged user (uid 65534).

Runs a small script under ``setpriv`` with a world-readable interpreter, because the pyenv
interpreter lives under root's 0700 home. Jobs then run without a uid drop, confined by
Landlock and seccomp and, through an unprivileged user namespace, in the same private root
as under root (tier ``forkserver+landlock+seccomp+ns``). With namespaces turned off the tier
says so (no ``+ns``) and the notes explain what is lost.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import tracefix_rl

PARENT = Path(tracefix_rl.__path__[0]).resolve().parent

SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from tracefix_rl.engines.sandbox import Limits
from tracefix_rl.engines.sandbox._forkserver import ForkServerSandbox

def job(sb, src, *calls, **limits):
    tests = [{"name": f"t{i}", "setup": "", "call": c} for i, c in enumerate(calls)]
    ex = sb.execute("tests", {"source": src, "tests": tests}, Limits(**limits))
    return ex.outcome.value, [r.get("value") for r in ex.records if r["kind"] == "test"]

probe = ("import os, socket\n"
         "def e(fn):\n    try:\n        fn()\n        return 'allowed'\n"
         "    except BaseException as x:\n        return type(x).__name__\n")
with ForkServerSandbox(workers=1, namespaces=False) as plain:
    degraded = {"isolation": plain.isolation, "notes": plain.info["notes"],
                "attacks": job(plain, probe, "e(lambda: open('/etc/passwd').read())", "e(lambda: socket.socket())")}
with ForkServerSandbox(workers=1) as sb:
    out = {"isolation": sb.isolation, "root": sb.info["root"], "degraded": degraded,
           "ok": job(sb, "def f(x):\n    return x + 1\n", "f(1)"),
           "attacks": job(sb, probe, "e(lambda: open('/etc/passwd').read())",
                          "e(lambda: open('/tmp/tracefix-nonroot-attack', 'w'))", "e(lambda: socket.socket())",
                          "e(os.fork)", f"e(lambda: os.kill({sb.server_pids()[0]}, 9))",
                          f"e(lambda: open('/proc/{sb.server_pids()[0]}/environ').read())"),
           "sleep": job(sb, "import time\ndef f():\n    time.sleep(100)\n", "f()", wall_s=1.0, per_test_s=50)}
print(json.dumps(out))
"""


def _world_traversable(path: Path) -> bool:
    for p in (path, *path.parents):
        if not os.stat(p).st_mode & stat.S_IXOTH:
            return False
    return True


def _interpreter() -> str | None:
    for candidate in (f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}", "/usr/bin/python3"):
        if os.path.exists(candidate) and os.stat(candidate).st_mode & stat.S_IXOTH:
            return candidate
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a process as another user")
def test_fork_server_as_unprivileged_user() -> None:
    python, setpriv = _interpreter(), shutil.which("setpriv")
    if python is None or setpriv is None or not _world_traversable(PARENT):
        pytest.skip("no world-readable interpreter, no setpriv, or the checkout is not world-readable")
    proc = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", python, "-S", "-s", "-c", SCRIPT, str(PARENT)],
        capture_output=True, text=True, timeout=60, cwd="/",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["isolation"] == "forkserver+landlock+seccomp+ns" and out["root"] is False
    assert out["ok"] == ["ok", ["2"]]
    absent, denied = "'FileNotFoundError'", "'PermissionError'"
    assert out["attacks"] == ["ok", [absent, absent, denied, denied, "'ProcessLookupError'", absent]]
    degraded = out["degraded"]
    assert degraded["isolation"] == "forkserver+landlock+seccomp"
    assert degraded["attacks"] == ["ok", [denied, denied]]
    assert any("namespaces" in note for note in degraded["notes"])
    assert out["sleep"] == ["timeout", []]
    assert not os.path.exists("/tmp/tracefix-nonroot-attack")
