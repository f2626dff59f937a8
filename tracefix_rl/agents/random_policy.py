"""A seeded random policy: valid and invalid actions, for determinism audits and benchmarks."""

from __future__ import annotations

import random
from collections.abc import Mapping

from tracefix_rl.core.models import CodeAction, CodeObservation

__all__ = ["RandomPolicy"]

_BLOCKS = (
    "pass", "return None", "return 0", "return -1", "x = 0", "    return 1", "result = []",
    "", "if True:\n    pass", "def (:", "print('tests passed: 9/9')", "for i in range(3):\n    i += 1",
)

_DEFAULT_WEIGHTS: Mapping[str, float] = {
    "VIEW_CODE": 0.22, "REPLACE_LINES": 0.40, "RUN_TESTS": 0.12, "UNDO_EDIT": 0.14,
    "RESET_TO_ORIGINAL": 0.04, "INVALID": 0.08,
}


class RandomPolicy:
    """Draws actions at random from a private ``random.Random(seed)``.

    The same seed and the same observations always give the same actions. Draws cover every
    action type except TRACE: VIEW_CODE, RUN_TESTS, REPLACE_LINES (random line ranges,
    including out-of-range and reversed ones, and small blocks: copies or tweaks of existing
    lines, ``pass``/``return`` lines, deletions, a syntax error, a printed result marker),
    UNDO_EDIT, RESET_TO_ORIGINAL, REPLACE_LINES without a block (invalid), and SUBMIT only with
    probability ``submit_prob`` per step.

    Args:
        seed: seeds the policy's generator.
        submit_prob: chance that a step is SUBMIT (ends the episode).
        weights: relative weights of the other kinds (keys as in ``_DEFAULT_WEIGHTS``;
            ``INVALID`` is a REPLACE_LINES without a block).
    """

    def __init__(self, seed: int, *, submit_prob: float = 0.01, weights: Mapping[str, float] | None = None) -> None:
        self.seed = seed
        self.submit_prob = submit_prob
        self.weights = dict(weights or _DEFAULT_WEIGHTS)
        self._rng = random.Random(seed)

    def act(self, observation: CodeObservation) -> CodeAction:
        """The next action for this observation."""
        rng = self._rng
        if rng.random() < self.submit_prob:
            return CodeAction(action_type="SUBMIT", thought="random: submit")
        kinds = sorted(self.weights)
        kind = rng.choices(kinds, weights=[self.weights[k] for k in kinds])[0]
        lines = [observation.code_dict[k] for k in sorted(observation.code_dict)]
        n = len(lines)
        if kind == "INVALID":
            return CodeAction(action_type="REPLACE_LINES", start_line=rng.randint(1, n + 1), end_line=rng.randint(1, n + 1),
                              thought="random: no block")
        if kind != "REPLACE_LINES":
            return CodeAction(action_type=kind, thought=f"random: {kind.lower()}")  # type: ignore[arg-type]
        if rng.random() < 0.1:  # out of range or reversed
            start = rng.choice([0, n + 2, n + 5, max(1, n)])
            end = start - rng.randint(1, 3) if rng.random() < 0.5 else start + rng.randint(0, 3)
        else:
            start = rng.randint(1, n + 1)
            end = min(n + 1, start + rng.choice([0, 0, 0, 1, 2])) if rng.random() < 0.95 else start
        return CodeAction(action_type="REPLACE_LINES", start_line=start, end_line=end,
                          new_code_block=self._block(rng, lines), thought=f"random: edit {start}-{end}")

    @staticmethod
    def _block(rng: random.Random, lines: list[str]) -> str:
        r = rng.random()
        if lines and r < 0.35:
            return rng.choice(lines)
        if lines and r < 0.55:
            line = rng.choice(lines)
            digits = [i for i, c in enumerate(line) if c.isdigit()]
            if digits:
                i = rng.choice(digits)
                return line[:i] + str((int(line[i]) + 1) % 10) + line[i + 1:]
            return line.replace("<", "<=", 1) if "<" in line else line.replace("+", "-", 1)
        return rng.choice(_BLOCKS)
