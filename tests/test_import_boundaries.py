"""``import tracefix_rl`` stays cheap and never pulls in the server stack."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("openenv", "openai", "gradio", "fastapi", "uvicorn", "fastmcp", "torch", "trl", "transformers", "datasets",
         "ray", "gymnasium", "skyrl_gym")
#: What the training integrations may never pull in by themselves (they import their library on use).
TRAINING_STACK = ("torch", "trl", "transformers", "datasets", "ray", "accelerate")


def _probe(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_import_is_fast_and_light():
    data = _probe(
        "import json, sys, time; t = time.perf_counter(); import tracefix_rl; "
        "d = time.perf_counter() - t; print(json.dumps({'s': d, 'mods': sorted(sys.modules)}))"
    )
    assert data["s"] < 0.5, f"import took {data['s']:.3f}s"
    loaded = [m for m in data["mods"] if m.split(".")[0] in HEAVY]
    assert loaded == [], loaded


def test_in_process_episode_does_not_load_the_server_stack():
    data = _probe(
        "import json, sys; from tracefix_rl import TraceFixEnvironment, CodeAction; "
        "e = TraceFixEnvironment(); e.reset(task_name='binary_search_off_by_one', seed=0); "
        "e.step(CodeAction(action_type='RUN_TESTS')); print(json.dumps({'mods': sorted(sys.modules)}))"
    )
    loaded = [m for m in data["mods"] if m.split(".")[0] in HEAVY]
    assert loaded == [], loaded


def test_public_names_are_exported():
    import tracefix_rl

    assert sorted(tracefix_rl.__all__) == tracefix_rl.__all__
    for name in tracefix_rl.__all__:
        if name != "TraceFixRLEnv":  # needs the server extra; covered by the server tests
            assert getattr(tracefix_rl, name) is not None


def test_the_trl_and_text_integrations_run_episodes_without_the_training_stack():
    data = _probe(
        "import json, sys; from tracefix_rl.integrations.trl import make_env_factory; "
        "from tracefix_rl.integrations.text_env import TraceFixTextEnv; "
        "e = make_env_factory(record=False)(); e.reset(task_name='binary_search_off_by_one', seed=0); "
        "e.run_tests(); e.submit(); e.get_reward(); "
        "t = TraceFixTextEnv(record=False); t.reset(seed=0); t.step('{\"action_type\": \"RUN_TESTS\"}'); "
        "print(json.dumps({'mods': sorted(sys.modules)}))"
    )
    loaded = [m for m in data["mods"] if m.split(".")[0] in (*TRAINING_STACK, "openenv", "gymnasium", "skyrl_gym")]
    assert loaded == [], loaded
