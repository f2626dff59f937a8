r"""Scores for a predicted trace against the ground truth, positional (CWM Table 9) and aligned.

Notation: G is the list of ground-truth frames with the prompt's seeded frames removed, P the
parsed prediction, S = {i : G[i] is a call or line frame}. ``norm`` is
:func:`~tracefix_rl.engines.trace.format.normalize_source`. J(A, B) is the Jaccard index
\|A ∩ B\| / \|A ∪ B\|, with J(∅, ∅) = 1. Every metric is computed per trace, in [0, 1], then
macro-averaged over traces and multiplied by 100 by :func:`aggregate`.

Positional metrics (as the published harness computes them; frame i of P is compared with
frame i of G, and the event type is not compared):

* ``valid_trace_format`` = 1 if P is well formed (spec section 12) else 0.
* ``action_exact_match`` = #{i < \|G\| : i < \|P\| and norm(P[i].source) == norm(G[i].source)} / \|G\|.
* ``state_exact_match`` = #{i ∈ S : i < \|P\| and P[i].locals == G[i].locals} / \|S\|, on the
  diff (``..``) representation.
* ``valid_json`` = #{i ∈ S : i < \|P\| and P[i].locals parsed to a dict} / \|S\|.
* ``key_match`` = mean over i ∈ S of J(keys P[i].locals, keys G[i].locals); 0 when P[i] is
  missing or its locals did not parse.
* ``key_value_match`` = the same with J over (key, value) items.

Alignment-robust metrics (TraceFix-RL; one extra or missing frame costs one frame, not the
rest of the trace). P and G are aligned on the key (event, norm(source)) with
:class:`difflib.SequenceMatcher` (``autojunk=False``), giving matched pairs M (each G and P
frame at most once, order preserved). States are compared as *resolved* full states
(:func:`~tracefix_rl.engines.trace.format.resolve_locals`), so a value shown in full where G has ``..``
is not penalised; an unresolvable ``..`` in P is a wrong value.

* ``aligned_precision`` = \|M\| / \|P\| (1 when both are empty), ``aligned_recall`` = \|M\| / \|G\|,
  ``aligned_f1`` = their harmonic mean (0 when both are 0).
* ``aligned_state_exact_match`` = #{(i, j) ∈ M : i ∈ S and R_P[j] == R_G[i]} / \|S\|.
* ``aligned_key_match`` / ``aligned_key_value_match`` = sum over (i, j) ∈ M with i ∈ S of
  J(keys) / J(items) of R_P[j] and R_G[i], divided by \|S\| (unmatched frames of S score 0).
  A value that stayed unresolvable never equals a ground-truth value.
* ``aligned_value_match`` = #{(i, j) ∈ M : G[i] is a return/exception frame and
  P[j].arg == G[i].arg} / #{return/exception frames of G} (1 when G has none).

Ground-truth statistics (:func:`trace_statistics`, GT only): ``avg_state_length`` = mean
over call/line frames of tokens(``json.dumps(G[i].locals)``), ``avg_action_length`` = mean over
all frames of tokens(G[i].source). The CWM tokenizer is not available here, so tokens are
counted with a declared approximation (:data:`APPROX_TOKENIZER`: runs of word characters, runs
of spaces, and single other characters) and reported under that name.

Output metric:

* ``return_value_match`` = 1 if the VALUE of P's last return frame equals that of G's last
  return frame: identical strings, or, when both parse with :func:`ast.literal_eval`, equal
  literals of the same type (the CRUXEval ``assert expected == predicted`` check, without
  executing predicted text). 0 when P has no return frame.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from tracefix_rl.core import safe_ast
from tracefix_rl.engines.trace.format import (
    ParsedTrace,
    TraceEvent,
    TraceFrame,
    normalize_source,
    parse_trace,
    resolve_locals,
)

__all__ = [
    "ALIGNED_METRICS",
    "APPROX_TOKENIZER",
    "METRIC_LABELS",
    "POSITIONAL_METRICS",
    "TraceScore",
    "aggregate",
    "score_frames",
    "score_trace",
    "strip_seed",
    "trace_statistics",
]

#: Name of the token counter used for the length statistics (not the CWM tokenizer).
APPROX_TOKENIZER = "regex-approx (\\w+| +|other char); not the CWM tokenizer"
_TOKEN = re.compile(r"\w+| +|[^\w ]")

POSITIONAL_METRICS = (
    "valid_trace_format", "state_exact_match", "action_exact_match", "valid_json", "key_match",
    "key_value_match",
)
ALIGNED_METRICS = (
    "aligned_precision", "aligned_recall", "aligned_f1", "aligned_state_exact_match",
    "aligned_key_match", "aligned_key_value_match", "aligned_value_match",
)

#: Display names, in table order.
METRIC_LABELS: dict[str, str] = {
    "valid_trace_format": "Valid Trace Format",
    "state_exact_match": "State Exact Match",
    "action_exact_match": "Action Exact Match",
    "valid_json": "Valid JSON",
    "key_match": "Key Match",
    "key_value_match": "Key+Value Match",
    "return_value_match": "Return value",
    "aligned_precision": "Aligned frame precision",
    "aligned_recall": "Aligned frame recall",
    "aligned_f1": "Aligned frame F1",
    "aligned_state_exact_match": "Aligned State Exact Match",
    "aligned_key_match": "Aligned Key Match",
    "aligned_key_value_match": "Aligned Key+Value Match",
    "aligned_value_match": "Aligned return/exception value",
}


@dataclass
class TraceScore:
    """Per-trace scores, each in [0, 1]; see the module docstring for the formulas."""

    valid_trace_format: float
    state_exact_match: float
    action_exact_match: float
    valid_json: float
    key_match: float
    key_value_match: float
    return_value_match: float
    aligned_precision: float
    aligned_recall: float
    aligned_f1: float
    aligned_state_exact_match: float
    aligned_key_match: float
    aligned_key_value_match: float
    aligned_value_match: float
    truncated_prediction: bool = False

    def as_dict(self) -> dict[str, float | bool]:
        """All fields as a plain dict."""
        return asdict(self)


def _jaccard(a: set[object], b: set[object]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _ratio(num: float, den: int, empty: float = 1.0) -> float:
    return num / den if den else empty


def _literal_equal(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        x, y = safe_ast.literal_eval(a), safe_ast.literal_eval(b)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return type(x) is type(y) and x == y


def _last_return(frames: Sequence[TraceFrame]) -> TraceFrame | None:
    for f in reversed(frames):
        if f.event is TraceEvent.RETURN:
            return f
    return None


def strip_seed(pred: Sequence[TraceFrame], seed: Sequence[TraceFrame]) -> list[TraceFrame]:
    """Drop ``seed`` from the front of ``pred`` when the prediction repeated the prompt's frames.

    >>> from tracefix_rl.engines.trace.format import TraceFrame, TraceEvent
    >>> s = [TraceFrame(TraceEvent.CALL, "def main():", locals={})]
    >>> len(strip_seed(s + s, s))
    1
    """
    n = len(seed)
    if n and list(pred[:n]) == list(seed):
        return list(pred[n:])
    return list(pred)


def score_frames(pred: ParsedTrace, truth: Sequence[TraceFrame]) -> TraceScore:
    """Score a parsed prediction against ground-truth frames (seeded frames already removed)."""
    P, G = pred.frames, list(truth)
    S = [i for i, g in enumerate(G) if g.has_locals]

    action = sum(1 for i, g in enumerate(G) if i < len(P) and
                 normalize_source(P[i].source) == normalize_source(g.source))
    state = json_ok = 0
    keys = items = 0.0
    for i in S:
        p = P[i].locals if i < len(P) else None
        if p is None:
            continue
        g = G[i].locals or {}
        json_ok += 1
        state += p == g
        keys += _jaccard(set(p), set(g))
        items += _jaccard(set(p.items()), set(g.items()))

    key_of = [(f.event, normalize_source(f.source)) for f in P]
    key_og = [(f.event, normalize_source(f.source)) for f in G]
    matcher = difflib.SequenceMatcher(None, key_og, key_of, autojunk=False)
    pairs = [(blk.a + k, blk.b + k) for blk in matcher.get_matching_blocks() for k in range(blk.size)]
    rp, rg = resolve_locals(P), resolve_locals(G)
    a_state = 0
    a_keys = a_items = 0.0
    a_values = 0
    n_values = sum(1 for g in G if not g.has_locals)
    for i, j in pairs:
        if G[i].has_locals:
            p_state, g_state = rp[j], rg[i]
            if p_state is None or g_state is None:
                continue
            a_state += p_state == g_state
            a_keys += _jaccard(set(p_state), set(g_state))
            a_items += _jaccard({kv for kv in p_state.items() if kv[1] is not None},
                                set(g_state.items()))
        elif P[j].arg == G[i].arg and not P[j].malformed:
            a_values += 1
    precision = _ratio(len(pairs), len(P), 1.0 if not G else 0.0)
    recall = _ratio(len(pairs), len(G))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    last_p, last_g = _last_return(P), _last_return(G)
    if last_g is None:
        ret = 1.0 if last_p is None else 0.0
    else:
        ret = float(last_p is not None and last_p.arg is not None and last_g.arg is not None
                    and _literal_equal(last_p.arg, last_g.arg))
    return TraceScore(
        valid_trace_format=float(pred.well_formed),
        state_exact_match=_ratio(state, len(S)),
        action_exact_match=_ratio(action, len(G)),
        valid_json=_ratio(json_ok, len(S)),
        key_match=_ratio(keys, len(S)),
        key_value_match=_ratio(items, len(S)),
        return_value_match=ret,
        aligned_precision=precision,
        aligned_recall=recall,
        aligned_f1=f1,
        aligned_state_exact_match=_ratio(a_state, len(S)),
        aligned_key_match=_ratio(a_keys, len(S)),
        aligned_key_value_match=_ratio(a_items, len(S)),
        aligned_value_match=_ratio(a_values, n_values),
        truncated_prediction=pred.truncated,
    )


def score_trace(prediction: str, truth: str | Sequence[TraceFrame], *, seeded_frames: int = 0) -> TraceScore:
    """Score a predicted generation against a ground-truth trace (text or frames).

    Args:
        prediction: The model's generation.
        truth: The complete ground-truth trace (for example ``TraceResult.text``) or its frames.
        seeded_frames: How many leading ground-truth frames were in the prompt
            (``TraceResult.seeded_frames``). They are removed from G, and from P too when the
            prediction repeats them.

    >>> t = '<|call_sep|>{}<|action_sep|>def main():\\n<|frame_sep|><|end_of_text|>'
    >>> score_trace(t, t).state_exact_match
    1.0
    """
    gt = parse_trace(truth).frames if isinstance(truth, str) else list(truth)
    seed, gt = gt[:seeded_frames], gt[seeded_frames:]
    parsed = parse_trace(prediction)
    if seed:
        parsed = ParsedTrace(frames=strip_seed(parsed.frames, seed), well_formed=parsed.well_formed,
                             truncated=parsed.truncated, errors=parsed.errors)
        if not parsed.frames:
            parsed.well_formed = False
    return score_frames(parsed, gt)


def aggregate(scores: Iterable[TraceScore]) -> dict[str, float]:
    """Macro-average per-trace scores and scale to 0-100; also reports ``n`` (trace count).

    >>> aggregate([])["n"]
    0.0
    """
    rows = list(scores)
    out: dict[str, float] = {"n": float(len(rows))}
    for name in METRIC_LABELS:
        out[name] = 100.0 * sum(getattr(r, name) for r in rows) / len(rows) if rows else 0.0
    out["truncated_predictions"] = float(sum(r.truncated_prediction for r in rows))
    return out


def _count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def trace_statistics(frames: Sequence[TraceFrame]) -> dict[str, float | str]:
    """Average state and action length of a ground-truth trace, in approximate tokens.

    >>> from tracefix_rl.engines.trace.format import TraceFrame, TraceEvent
    >>> trace_statistics([TraceFrame(TraceEvent.CALL, "def f(n):", locals={"n": "3"})])["avg_action_length"]
    7.0
    """
    states = [_count_tokens(json.dumps(f.locals)) for f in frames if f.has_locals and f.locals is not None]
    actions = [_count_tokens(f.source) for f in frames]
    return {
        "avg_state_length": sum(states) / len(states) if states else 0.0,
        "avg_action_length": sum(actions) / len(actions) if actions else 0.0,
        "tokenizer": APPROX_TOKENIZER,
    }
