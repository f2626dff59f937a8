"""Malformed-input fuzzers for a running TraceFix-RL server: WebSocket messages and HTTP requests.

Shared by ``bench/bench_fuzz.py`` (the large run, a table and JSON) and
``tests/server/test_fuzz.py`` (a small sample in the test suite). Both fuzzers are seeded
(``random.Random``), so a run is reproducible, and only talk to the URL they are given.

WebSocket (:func:`ws_fuzz`): sessions open ``/ws``, reset once, then send malformed messages:
frames that are binary, not JSON, JSON that is not an object, ``NaN``, deep nesting, lone
surrogates in any string or key, unknown or mistyped message types, and ``reset`` / ``step``
data with each argument mistyped, out of range, unknown or missing, plus oversized frames. Each
case names the keywords an error about it must contain (the field, or the frame problem). After
every malformed message a ``state`` probe checks that the session is alive and that its episode
(id and step count) did not change. Counted: replies that are errors naming the problem, errors
that do not, malformed input accepted as valid, sessions ended (socket closed) and stalls (no
reply within the timeout).

HTTP (:func:`http_fuzz`): malformed requests to every operation of ``/openapi.json`` plus the
reset fields TraceFix accepts: bodies that are not JSON or not objects, each body field and
query parameter mistyped or out of range, unknown fields, odd path parameters. Counted: status
classes, responses of 500 or more, 4xx whose detail does not name the field, and transport
errors on the shared keep-alive connection (a 500 used to break the next request on it).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Case", "http_cases", "http_fuzz", "ws_cases", "ws_fuzz"]

SURROGATE = "\ud800"
HUGE = [2**63, 2**64, 10**30, -(2**63) - 1]
RESET_FIELDS = ("seed", "episode_id", "task_name", "task_id", "difficulty", "variant", "task_pack", "split", "index")


@dataclass
class Case:
    """One malformed message or request and the words an error about it must contain (any one)."""

    kind: str
    payload: Any
    expect: tuple[str, ...]
    binary: bool = False
    may_succeed: bool = False  # extreme but well-formed: an observation is fine too


def _msg(kind: str, data: Any = None, **extra: Any) -> str:
    body: dict[str, Any] = {"type": kind, **extra}
    if data is not None:
        body["data"] = data
    return json.dumps(body)  # ensure_ascii: lone surrogates travel as \ud800 escapes (valid UTF-8 text)


def _junk(rng: random.Random, avoid: type | tuple[type, ...] = ()) -> Any:
    values: list[Any] = [None, True, 1.5, -1, "x", "", [], [1, "a"], {}, {"a": {"b": 1}}, SURROGATE,
                         "z" * 5000, rng.choice(HUGE), "12abc", 3]
    while True:
        v = rng.choice(values)
        if not isinstance(v, avoid) or v is None:
            return v


def _reset_case(rng: random.Random) -> Case:
    name = rng.choice([*RESET_FIELDS, "unknown", "unknown", "data"])
    if name == "unknown":
        bogus = rng.choice(["tsak_name", "taskname", "bogus", "seed_", "episodeId"])
        return Case("reset unknown argument", _msg("reset", {bogus: rng.choice(["x", 1])}), (bogus,))
    if name == "data":
        return Case("reset data not an object", _msg("reset", rng.choice([[], "x", 5, True])), ("data",))
    bad: dict[str, list[Any]] = {
        "seed": [1.5, "abc", -1, *HUGE, True, [1], {}, SURROGATE],
        "episode_id": [5, "", SURROGATE, "x" * 300, [], True, "a\x00b"],
        "task_name": [5, [], "no_such_task", SURROGATE, "x" * 1000, {}],
        "task_id": [5, "no_such_task_either", SURROGATE],
        "difficulty": ["impossible", 5, SURROGATE, ""],
        "variant": [10**9, -1, 1.5, "x", *HUGE, 100000],
        "task_pack": ["/dev/zero", "../../etc/passwd", "/tmp", 5, "/proc/self/environ", SURROGATE, "nope.jsonl"],
        "split": ["nope", 5, SURROGATE],
        "index": [-1, 10**9, "x", 1.5],
    }
    value = rng.choice(bad[name])
    expect: tuple[str, ...] = (name,)
    if name == "task_name" and value == "no_such_task" or name == "task_id" and isinstance(value, str) \
            and value.startswith("no_such"):
        expect = (name, str(value))
    data = {name: value}
    if name == "index":
        data["split"] = "all"
    return Case(f"reset bad {name}", _msg("reset", data), expect)


def _step_case(rng: random.Random) -> Case:
    which = rng.choice(["missing_data", "data_type", "action_type", "missing_action_type", "line", "block",
                        "thought", "unknown", "trace_format", "test_name", "nan", "metadata", "extreme"])
    if which == "missing_data":
        return Case("step without data", json.dumps({"type": "step"}), ("data",))
    if which == "data_type":
        return Case("step data not an object", _msg("step", rng.choice([[], "x", 5, True, [1, 2]])), ("data",))
    if which == "action_type":
        return Case("step bad action_type", _msg("step", {"action_type": rng.choice(
            ["view_code", "FOO", 5, None, SURROGATE, "", []])}), ("action_type",))
    if which == "missing_action_type":
        return Case("step without action_type", _msg("step", {"thought": "hi"}), ("action_type",))
    if which == "line":
        f = rng.choice(["start_line", "end_line"])
        return Case(f"step bad {f}", _msg("step", {"action_type": "REPLACE_LINES", f: rng.choice(
            ["abc", 1.5, [], {}, "1.5", SURROGATE, True]), "new_code_block": "x = 1"}), (f,))
    if which == "block":
        return Case("step bad new_code_block", _msg("step", {"action_type": "REPLACE_LINES", "start_line": 1,
                                                             "end_line": 1, "new_code_block": rng.choice(
                                                                 [5, [], {}, "y" * 20_001, SURROGATE])}),
                    ("new_code_block",))
    if which == "thought":
        return Case("step bad thought", _msg("step", {"action_type": "VIEW_CODE", "thought": rng.choice(
            [5, [], "t" * 20_001, SURROGATE, "ok" + SURROGATE + "ok"])}), ("thought",))
    if which == "unknown":
        bogus = rng.choice(["bogus", "actiontype", "line", "code"])
        return Case("step unknown field", _msg("step", {"action_type": "VIEW_CODE", bogus: 1}), (bogus,))
    if which == "trace_format":
        return Case("step bad trace_format", _msg("step", {"action_type": "TRACE", "trace_format": rng.choice(
            ["xml", 5, SURROGATE])}), ("trace_format",))
    if which == "test_name":
        return Case("step bad test_name", _msg("step", {"action_type": "TRACE", "test_name": rng.choice(
            ["n" * 300, 5, [], SURROGATE])}), ("test_name",))
    if which == "nan":
        lit = rng.choice(["NaN", "Infinity", "-Infinity"])
        text = ('{"type": "step", "data": {"action_type": "REPLACE_LINES", "start_line": ' + lit
                + ', "end_line": 1, "new_code_block": "x"}}')
        return Case("NaN/Infinity literal", text, ("nan", "infinity", "start_line"))
    if which == "metadata":
        return Case("step bad metadata", _msg("step", {"action_type": "VIEW_CODE", "metadata": rng.choice(
            ["x", 5, []])}), ("metadata",))
    # well-formed but extreme values: an observation with last_action_error is fine too
    n = rng.choice([2**40, -5, 0, 2**62])
    return Case("step extreme line numbers", _msg("step", {"action_type": "REPLACE_LINES", "start_line": n,
                                                           "end_line": n, "new_code_block": "x = 1"}),
                ("start_line", "end_line"), may_succeed=True)


def _frame_case(rng: random.Random, max_bytes: int) -> Case:
    which = rng.choice(["binary", "binary_json", "not_json", "not_object", "deep", "deep_inside", "no_type",
                        "type_type", "unknown_type", "surrogate_type", "surrogate_key", "oversized", "mcp",
                        "empty", "invalid_utf8_escape"])
    if which == "binary":
        return Case("binary frame", bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64))), ("binary",),
                    binary=True)
    if which == "binary_json":
        return Case("binary frame holding JSON", _msg("state").encode(), ("binary",), binary=True)
    if which == "not_json":
        return Case("not JSON", rng.choice(["{", "hello", "{'type': 'state'}", "\x00", "[1,", '{"type": "step",}']),
                    ("json",))
    if which == "not_object":
        return Case("JSON that is not an object", rng.choice(["[]", "5", '"step"', "null", "true", "[{}]", "1e999"]),
                    ("object", "number"))
    if which == "deep":
        depth = rng.choice([5_000, 50_000, 200_000])
        return Case("deep nesting", "[" * depth + "]" * depth, ("nest", "deep", "depth"))
    if which == "deep_inside":
        depth = rng.choice([5_000, 100_000])
        text = '{"type": "step", "data": {"action_type": "VIEW_CODE", "thought": ' + "[" * depth + "]" * depth + "}}"
        return Case("deep nesting inside data", text, ("nest", "deep", "depth"))
    if which == "no_type":
        return Case("message without type", json.dumps({"data": {}}), ("type",))
    if which == "type_type":
        return Case("type not a string", json.dumps({"type": rng.choice([5, None, [], {}, True])}), ("type",))
    if which == "unknown_type":
        t = rng.choice(["bogus", "RESET", "steps", ""])
        return Case("unknown message type", json.dumps({"type": t}), ("type",))
    if which == "surrogate_type":
        return Case("lone surrogate in type", _msg(SURROGATE), ("type", "surrogate"))
    if which == "surrogate_key":
        return Case("lone surrogate in a key", _msg("step", {SURROGATE: 1, "action_type": "VIEW_CODE"}),
                    ("surrogate",))
    if which == "oversized":
        size = rng.choice([max_bytes + 1, max_bytes + 4096, max_bytes * 2])
        text = _msg("step", {"action_type": "VIEW_CODE", "thought": "t" * size})
        return Case("oversized frame", text, ("too large", "bytes", "limit", "thought"))
    if which == "mcp":
        return Case("mcp with bad data", _msg("mcp", rng.choice([5, "x", [], {"jsonrpc": 1}])),
                    ("data", "mcp", "json-rpc", "jsonrpc", "invalid"))
    if which == "empty":
        return Case("empty frame", "", ("json", "empty"))
    return Case("surrogate pair split", '{"type": "state", "x": "\\udc00\\ud800"}', ("surrogate",))


def ws_cases(rng: random.Random, n: int, *, max_bytes: int = 1 << 20) -> list[Case]:
    """``n`` malformed WebSocket messages, a mix of frame, reset and step problems."""
    out = []
    for _ in range(n):
        roll = rng.random()
        out.append(_frame_case(rng, max_bytes) if roll < 0.35 else _reset_case(rng) if roll < 0.65
                   else _step_case(rng))
    return out


@dataclass
class WSReport:
    """Counts of one WebSocket fuzz run (see the module docstring)."""

    messages: int = 0
    error_replies: int = 0
    named: int = 0
    unnamed: int = 0
    accepted_malformed: int = 0
    accepted_extreme: int = 0
    sessions_killed: int = 0
    stalls: int = 0
    episode_disturbed: int = 0
    server_down: int = 0
    probes: int = 0
    python_internals: int = 0
    seconds: float = 0.0
    by_kind: Counter = field(default_factory=Counter)
    killed_by: Counter = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able counts (examples capped)."""
        d = {k: v for k, v in self.__dict__.items() if not isinstance(v, Counter | list)}
        d["killed_by"] = dict(self.killed_by)
        d["examples"] = self.examples[:25]
        return d


_INTERNALS = ("object has no attribute", "'text'", "'bytes'", "Traceback", "KeyError", "NoneType",
              "codec can't", "not subscriptable", "unhashable")


async def ws_fuzz(base_url: str, n: int, *, sessions: int = 8, seed: int = 0, timeout_s: float = 20.0,
                  max_bytes: int = 1 << 20, headers: dict[str, str] | None = None) -> WSReport:
    """Send ``n`` malformed messages over ``sessions`` concurrent sessions; return the counts."""
    import websockets

    url = base_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/ws"
    rng = random.Random(seed)
    cases = ws_cases(rng, n, max_bytes=max_bytes)
    report = WSReport()
    started = time.perf_counter()

    async def connect() -> tuple[Any, dict[str, Any]]:
        ws = await websockets.connect(url, max_size=None, open_timeout=30, additional_headers=headers or {})
        await ws.send(_msg("reset", {"task_name": "task1_easy", "seed": 1}))
        await asyncio.wait_for(ws.recv(), timeout_s)
        await ws.send(_msg("step", {"action_type": "VIEW_CODE"}))
        await asyncio.wait_for(ws.recv(), timeout_s)
        return ws, await state_of(ws)

    async def state_of(ws: Any) -> dict[str, Any]:
        await ws.send(json.dumps({"type": "state"}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
        if reply.get("type") != "state":
            raise RuntimeError(f"state probe failed: {reply}")
        return reply["data"]

    async def worker(mine: list[Case]) -> None:
        try:
            await run(mine)
        except OSError as exc:  # the server process is gone (it crashed): nothing more to send
            report.server_down += 1
            report.examples.append({"problem": f"server unreachable: {exc}"})

    async def run(mine: list[Case]) -> None:
        ws, base = await connect()
        for case in mine:
            report.messages += 1
            report.by_kind[case.kind] += 1
            try:
                await ws.send(case.payload)
                raw = await asyncio.wait_for(ws.recv(), timeout_s)
            except TimeoutError:
                report.stalls += 1
                report.examples.append({"kind": case.kind, "problem": "no reply", "payload": _short(case.payload)})
                await _close(ws)
                ws, base = await connect()
                continue
            except Exception as exc:  # the server closed the socket: the session is gone
                report.sessions_killed += 1
                report.killed_by[case.kind] += 1
                report.examples.append({"kind": case.kind, "problem": f"session ended: {type(exc).__name__} {exc}",
                                        "payload": _short(case.payload)})
                await _close(ws)
                ws, base = await connect()
                continue
            reply = json.loads(raw) if isinstance(raw, str) else {"type": "binary"}
            if reply.get("type") == "error":
                report.error_replies += 1
                message = json.dumps(reply.get("data", {}), ensure_ascii=False).lower()
                if any(word.lower() in message for word in case.expect):
                    report.named += 1
                else:
                    report.unnamed += 1
                    report.examples.append({"kind": case.kind, "problem": "error does not name it",
                                            "expect": case.expect, "reply": _short(message, 300),
                                            "payload": _short(case.payload)})
                if any(w.lower() in message for w in _INTERNALS):
                    report.python_internals += 1
            elif case.may_succeed:
                report.accepted_extreme += 1
            else:
                report.accepted_malformed += 1
                report.examples.append({"kind": case.kind, "problem": "accepted", "payload": _short(case.payload),
                                        "reply": _short(raw, 200)})
            try:
                report.probes += 1
                now = await state_of(ws)
            except Exception as exc:
                report.sessions_killed += 1
                report.killed_by[case.kind] += 1
                report.examples.append({"kind": case.kind, "problem": f"session dead after it: {exc}",
                                        "payload": _short(case.payload)})
                await _close(ws)
                ws, base = await connect()
                continue
            if reply.get("type") == "error" and (now.get("episode_id"), now.get("step_count"), now.get("task_name")) \
                    != (base.get("episode_id"), base.get("step_count"), base.get("task_name")):
                report.episode_disturbed += 1
                report.examples.append({"kind": case.kind, "problem": "rejected message changed the episode",
                                        "before": base, "after": now, "payload": _short(case.payload)})
            base = now
        await _close(ws)

    shares = [cases[i::sessions] for i in range(sessions)]
    await asyncio.gather(*(worker(s) for s in shares if s))
    report.seconds = round(time.perf_counter() - started, 2)
    return report


async def _close(ws: Any) -> None:
    try:
        await asyncio.wait_for(ws.close(), 5)
    except Exception:
        pass


def _short(value: Any, limit: int = 160) -> str:
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


# -- HTTP --------------------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"].split("/")[1:]
        node: Any = spec
        for part in ref:
            node = node[part]
        schema = node
    return schema


def http_cases(spec: dict[str, Any], rng: random.Random, n: int) -> list[Case]:
    """``n`` malformed requests over every operation of the OpenAPI ``spec``.

    A case's payload is ``(method, path, params, content, content_type)``.
    """
    ops: list[tuple[str, str, dict[str, Any]]] = []
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method in ("get", "post", "put", "delete", "patch"):
                ops.append((method.upper(), path, op))
    out: list[Case] = []
    while len(out) < n:
        method, path, op = rng.choice(ops)
        out.append(_http_case(rng, spec, method, path, op))
    return out


def _fill_path(rng: random.Random, path: str) -> tuple[str, tuple[str, ...]]:
    odd = rng.choice(["x", "%ED%A0%80", "..%2F..%2Fetc", "a" * 2000, "%00", "nope-episode", "0"])
    out, names = path, []
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        names.append(out[start + 1:end])
        out = out[:start] + (odd if out[start + 1:end] != "env_name" else rng.choice(["tracefix_rl", odd])) \
            + out[end + 1:]
    return out, tuple(names)


def _http_case(rng: random.Random, spec: dict[str, Any], method: str, path: str, op: dict[str, Any]) -> Case:
    url, path_names = _fill_path(rng, path)
    expect = (*path_names, "not found", "no recorded", "unknown", "episode", "disabled", "api key")
    body_schema = None
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body_schema = _resolve(content["application/json"].get("schema", {}), spec)
    props = dict(body_schema.get("properties", {})) if body_schema else {}
    if path == "/reset":
        props.update({f: {} for f in RESET_FIELDS})
    query = [p for p in op.get("parameters", []) if p.get("in") == "query"]
    choices = ["body_not_json", "body_not_object", "field", "unknown_field", "query", "deep", "nan"]
    if method == "GET":
        choices = ["query", "query", "path"]
    which = rng.choice(choices)
    if which == "query" and query:
        p = rng.choice(query)
        value = rng.choice(["x", "-1", "1.5", "99999999999999999999999", "%ED%A0%80", "", "true", "NaN"])
        return Case(f"{method} {path} bad query {p['name']}", (method, url, {p["name"]: value}, None, None),
                    (p["name"], *expect), may_succeed=True)
    if which in ("body_not_json", "path") or method == "GET" or which == "query":
        text = rng.choice(["{", "not json", "{'a': 1}", "\x00\x01", '{"a": 1,}'])
        ctype = rng.choice(["application/json", "text/plain", None])
        return Case(f"{method} {path} body not JSON", (method, url, None, text.encode(), ctype),
                    ("json", "body", *expect), may_succeed=method == "GET" or ctype != "application/json")
    if which == "body_not_object":
        text = rng.choice(["[]", "5", '"x"', "null", "true", "[1, 2]"])
        return Case(f"{method} {path} body not an object", (method, url, None, text.encode(), "application/json"),
                    ("body", "object", "dict", "json", *expect), may_succeed=not props)
    if which == "deep":
        depth = rng.choice([2_000, 20_000])
        text = "[" * depth + "]" * depth
        return Case(f"{method} {path} deep nesting", (method, url, None, text.encode(), "application/json"),
                    ("body", "json", "nest", "depth", "object", *expect), may_succeed=not props)
    if which == "nan":
        name = rng.choice(list(props)) if props else "x"
        text = '{"' + name + '": NaN}'
        return Case(f"{method} {path} NaN", (method, url, None, text.encode(), "application/json"),
                    (name, "json", "nan", *expect), may_succeed=not props)
    if which == "unknown_field" or not props:
        bogus = rng.choice(["tsak_name", "bogus", "seeds"])
        body = json.dumps({bogus: rng.choice([1, "x"])})
        return Case(f"{method} {path} unknown field", (method, url, None, body.encode(), "application/json"),
                    (bogus, *expect), may_succeed=True)
    name = rng.choice(list(props))
    value = _junk(rng)
    body = json.dumps({name: value})
    return Case(f"{method} {path} bad {name}", (method, url, None, body.encode(), "application/json"),
                (name, *expect), may_succeed=True)


@dataclass
class HTTPReport:
    """Counts of one HTTP fuzz run."""

    requests: int = 0
    status: Counter = field(default_factory=Counter)
    server_errors: int = 0
    transport_errors: int = 0
    unnamed_4xx: int = 0
    seconds: float = 0.0
    by_route: Counter = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able counts."""
        return {"requests": self.requests, "status": {str(k): v for k, v in sorted(self.status.items())},
                "server_errors": self.server_errors, "transport_errors": self.transport_errors,
                "unnamed_4xx": self.unnamed_4xx, "seconds": self.seconds,
                "server_errors_by_route": dict(self.by_route), "examples": self.examples[:25]}


def http_fuzz(base_url: str, n: int, *, seed: int = 0, headers: dict[str, str] | None = None,
              timeout_s: float = 30.0) -> HTTPReport:
    """Send ``n`` malformed requests over one keep-alive connection; return the counts."""
    import httpx

    rng = random.Random(seed)
    report = HTTPReport()
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, headers=headers or {}, timeout=timeout_s) as client:
        spec = client.get("/openapi.json").json()
        for case in http_cases(spec, rng, n):
            method, url, params, content, ctype = case.payload
            hdrs = {"content-type": ctype} if ctype else {}
            report.requests += 1
            try:
                resp = client.request(method, url, params=params, content=content, headers=hdrs)
            except httpx.TransportError as exc:
                report.transport_errors += 1
                report.examples.append({"kind": case.kind, "problem": f"{type(exc).__name__}: {exc}"})
                continue
            report.status[resp.status_code] += 1
            if resp.status_code >= 500:
                report.server_errors += 1
                report.by_route[f"{method} {url.split('?')[0][:60]}"] += 1
                report.examples.append({"kind": case.kind, "status": resp.status_code,
                                        "body": _short(case.payload[3]), "reply": resp.text[:200]})
            elif 400 <= resp.status_code < 500 and resp.status_code not in (404, 405):
                text = resp.text.lower()
                if not any(w.lower() in text for w in case.expect):
                    report.unnamed_4xx += 1
                    report.examples.append({"kind": case.kind, "status": resp.status_code, "expect": case.expect,
                                            "body": _short(case.payload[3]), "reply": resp.text[:300]})
    report.seconds = round(time.perf_counter() - started, 2)
    return report
