"""``tracefix_rl._openenv``: the server and the client load openenv without its Gradio web UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = ("import json, sys, {module}; loaded = 'gradio' in sys.modules; import gradio; "
         "print(json.dumps([loaded, 'gradio' in sys.modules]))")


def probe(module: str, **env: str) -> list[bool]:
    full = {k: v for k, v in os.environ.items() if k != "ENABLE_WEB_INTERFACE"} | env
    out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True,
                         env=full, timeout=300, check=True).stdout
    return json.loads(out)


@pytest.mark.parametrize("module", ["tracefix_rl.client", "tracefix_rl.server.app"])
def test_server_and_client_do_not_load_gradio_yet_leave_it_importable(module):
    assert probe(module) == [False, True]


def test_the_web_interface_switch_loads_openenv_as_it_is():
    assert probe("tracefix_rl.client", ENABLE_WEB_INTERFACE="true") == [True, True]
