"""Curriculum sampling over difficulty tiers, by schedule or by the agent's recent success.

Two modes:

``schedule``
    the tier is a function of the episode index: ``schedule`` is a list of
    ``(first_episode, tier)`` steps, e.g. ``[(0, "easy"), (200, "medium"), (600, "hard")]``.
``success``
    the tier moves up when the success rate over the last ``window`` episodes *at the current
    tier* reaches ``promote_at``, and down when it falls to ``demote_at`` (the window is
    cleared on every move, and a full window is needed before any move).

In both modes a fraction ``review`` of episodes is drawn from a random easier tier, so skills
are not forgotten. Every draw is deterministic: episode ``i`` of a curriculum with seed ``s``
uses ``random.Random(f"{s}:{i}")``, so a run can be reproduced (and resumed from
:meth:`Curriculum.to_dict`). Use it with any task source::

    cur = Curriculum(mode="success", seed=7)
    obs = env.reset(**cur.next_reset_kwargs())   # {"difficulty": ..., "seed": ...}
    ...
    cur.record(bool(obs.resolved))   # success = every FAIL_TO_PASS and PASS_TO_PASS test passes
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from typing import Any

from tracefix_rl.core.errors import TaskError
from tracefix_rl.core.task import DIFFICULTIES, Task

__all__ = ["DEFAULT_SCHEDULE", "Curriculum"]

DEFAULT_SCHEDULE: tuple[tuple[int, str], ...] = ((0, "easy"), (200, "medium"), (600, "hard"))


class Curriculum:
    """Chooses the difficulty tier (and a seed) for each next episode; see the module docstring."""

    def __init__(self, *, mode: str = "schedule", seed: int = 0,
                 schedule: Sequence[tuple[int, str]] = DEFAULT_SCHEDULE, window: int = 20,
                 promote_at: float = 0.7, demote_at: float = 0.3, review: float = 0.1,
                 start: str = "easy", tiers: Sequence[str] = DIFFICULTIES, source: Any = None) -> None:
        if mode not in ("schedule", "success"):
            raise TaskError(f"curriculum mode must be 'schedule' or 'success', got {mode!r}")
        self.tiers = tuple(tiers)
        for _, tier in schedule:
            if tier not in self.tiers:
                raise TaskError(f"schedule tier {tier!r} is not one of {self.tiers}")
        if start not in self.tiers:
            raise TaskError(f"start tier {start!r} is not one of {self.tiers}")
        if not 0 <= demote_at < promote_at <= 1:
            raise TaskError("need 0 <= demote_at < promote_at <= 1")
        if window < 1 or not 0 <= review < 1:
            raise TaskError("need window >= 1 and 0 <= review < 1")
        self.mode, self.seed, self.window = mode, seed, window
        self.schedule = sorted((int(e), t) for e, t in schedule)
        self.promote_at, self.demote_at, self.review = promote_at, demote_at, review
        self.source = source
        self.episode = 0
        self.level = self.tiers.index(start)
        self._recent: deque[float] = deque(maxlen=window)
        self.history: list[tuple[str, float | None]] = []

    # -- tier choice -----------------------------------------------------------------------

    @property
    def tier(self) -> str:
        """The tier the curriculum is at now (before any review draw)."""
        if self.mode == "schedule":
            current = self.schedule[0][1] if self.schedule else self.tiers[0]
            for first, tier in self.schedule:
                if self.episode >= first:
                    current = tier
            return current
        return self.tiers[self.level]

    def _rng(self) -> random.Random:
        return random.Random(f"{self.seed}:{self.episode}")

    def next_tier(self) -> str:
        """The tier of the next episode (deterministic; does not advance the curriculum)."""
        tier = self.tier
        level = self.tiers.index(tier)
        rng = self._rng()
        if level > 0 and rng.random() < self.review:
            return self.tiers[rng.randrange(level)]
        return tier

    def next_reset_kwargs(self) -> dict[str, Any]:
        """``{"difficulty": tier, "seed": s}`` for ``env.reset`` (deterministic per episode)."""
        rng = self._rng()
        rng.random()  # the review draw of next_tier
        return {"difficulty": self.next_tier(), "seed": rng.randrange(2**31)}

    def next_task(self, source: Any = None) -> Task:
        """The next episode's task drawn from ``source`` (or the one given at construction)."""
        src = source or self.source
        if src is None:
            from tracefix_rl.data.tasks._source import BuiltinSource

            src = BuiltinSource()
        kw = self.next_reset_kwargs()
        return src.sample(kw["seed"], kw["difficulty"])

    # -- feedback --------------------------------------------------------------------------

    def record(self, outcome: bool | float, tier: str | None = None) -> None:
        """Report the episode's outcome (success, or a score in [0, 1]) and advance.

        In ``success`` mode only outcomes of episodes at the current tier (``tier`` defaults
        to it) count toward promotion; review episodes at easier tiers are ignored.
        """
        value = float(outcome)
        played = tier or self.tier
        self.history.append((played, value))
        self.episode += 1
        if self.mode != "success" or played != self.tiers[self.level]:
            return
        self._recent.append(value)
        if len(self._recent) < self.window:
            return
        rate = sum(self._recent) / len(self._recent)
        if rate >= self.promote_at and self.level < len(self.tiers) - 1:
            self.level += 1
            self._recent.clear()
        elif rate <= self.demote_at and self.level > 0:
            self.level -= 1
            self._recent.clear()

    @property
    def success_rate(self) -> float | None:
        """Mean outcome over the current window (``None`` before any outcome)."""
        return sum(self._recent) / len(self._recent) if self._recent else None

    # -- persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to resume the curriculum exactly."""
        return {"mode": self.mode, "seed": self.seed, "schedule": [list(s) for s in self.schedule],
                "window": self.window, "promote_at": self.promote_at, "demote_at": self.demote_at,
                "review": self.review, "tiers": list(self.tiers), "episode": self.episode, "level": self.level,
                "recent": list(self._recent)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Any = None) -> Curriculum:
        """Rebuild a curriculum saved with :meth:`to_dict`."""
        cur = cls(mode=data["mode"], seed=data["seed"], schedule=[tuple(s) for s in data["schedule"]],
                  window=data["window"], promote_at=data["promote_at"], demote_at=data["demote_at"],
                  review=data["review"], tiers=data["tiers"], source=source)
        cur.episode, cur.level = data["episode"], data["level"]
        cur._recent.extend(data["recent"])
        return cur
