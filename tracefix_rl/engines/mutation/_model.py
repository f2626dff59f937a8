"""What the mutation engine works with and produces: sites, mutations, mutants."""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from typing import Any

from tracefix_rl.core import safe_ast

__all__ = ["Mutant", "Mutation", "MutationError", "Site", "normalized"]


@functools.lru_cache(maxsize=8192)
def normalized(source: str) -> str | None:
    """The AST dump of ``source`` without positions (``None`` if it does not parse).

    Two programs with the same normalised form differ only in formatting and comments.
    """
    try:
        return ast.dump(safe_ast.parse(source))
    except (SyntaxError, ValueError, RecursionError):
        return None


@dataclass(frozen=True)
class Site:
    """One place an operator can act: node ``index`` in ``ast.walk`` order, plus a ``choice``."""

    operator: str
    index: int
    choice: int
    line: int
    end_line: int
    note: str


@dataclass(frozen=True)
class Mutation:
    """Provenance of one applied site (stored with the task, never shown to the agent)."""

    operator: str
    note: str
    line: int
    reference_line: int
    original: str
    mutated: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the task's ``provenance``."""
        return {"operator": self.operator, "note": self.note, "line": self.line,
                "reference_line": self.reference_line, "original": self.original,
                "mutated": self.mutated}


@dataclass(frozen=True)
class Mutant:
    """A mutated program and the mutations that made it."""

    source: str
    mutations: tuple[Mutation, ...]
    key: str = field(default="", compare=False)

    @property
    def operators(self) -> tuple[str, ...]:
        """Operator names, in application order."""
        return tuple(m.operator for m in self.mutations)

    @property
    def lines(self) -> tuple[int, ...]:
        """Lines of the buggy program touched by a mutation."""
        return tuple(m.line for m in self.mutations)


class MutationError(ValueError):
    """The requested sites overlap, or the mutated program could not be rendered faithfully."""
