"""AST mutation engine: seeded, documented operators that plant realistic bugs.

A *site* is one place an operator can act (a node of the reference's AST plus a choice, such
as ``+1`` or ``-1`` for a constant). :func:`find_sites` lists every site of a program in a
deterministic order; :func:`apply_mutations` applies one or more non-overlapping sites and
returns a :class:`Mutant` whose source is the reference text with only the mutated spans
rewritten (comments, blank lines and formatting elsewhere are preserved), plus provenance:
operator, line in the buggy program, line in the reference, original and mutated line text.

Operators (``OPERATORS``; every one is documented on its class):

========================  ===============================================================
``off_by_one_const``      an integer constant ``c`` becomes ``c + 1`` or ``c - 1``
``off_by_one_range``      ``range(...)``'s stop (or start) argument is shifted by one
``arith_swap``            ``+``/``-``, ``*``/``//``, ``/``/``//``, ``%``/``//``, ``**``/``*``
``compare_swap``          ``<``/``<=``, ``>``/``>=``, ``<``/``>``, ``==``/``!=``, ``in``/``not in``
``condition_flip``        an ``if``/``while``/ternary condition is negated
``bool_op_swap``          ``and`` becomes ``or`` and vice versa
``wrong_variable``        a variable read is replaced by another local of the same function
``swap_arguments``        two adjacent positional call arguments (or operands of ``-``, ``/``,
                          ``//``, ``%``, ``**``) trade places
``remove_statement``      an expression statement or assignment is deleted
``missing_return``        a ``return <value>`` loses its value (the function returns ``None``)
``missing_accumulator``   an augmented assignment inside a loop (``total += x``) is deleted
``wrong_slice``           a slice bound is shifted by one or dropped, or a step's sign flips
``wrong_initial_value``   an initialising assignment gets a different starting constant
``wrong_builtin``         ``min``/``max``, ``any``/``all``, ``append``/``extend``, ``lower``/
                          ``upper`` and similar look-alike calls are exchanged
``broken_base_case``      a recursive function's base case is tightened, loosened, returns a
                          different constant, or is removed
``invert_if``             an ``if``'s body and ``else`` branch are exchanged
========================  ===============================================================

Everything is deterministic: the same program yields the same sites in the same order, and
:func:`sample_mutants` draws from them with ``random.Random(seed)``.
"""

from __future__ import annotations

from tracefix_rl.engines.mutation._apply import apply_mutations, find_sites
from tracefix_rl.engines.mutation._model import Mutant, Mutation, MutationError, Site, normalized
from tracefix_rl.engines.mutation._sampling import sample_mutants
from tracefix_rl.engines.mutation.operators import OPERATORS, Operator, operator_names

__all__ = [
    "OPERATORS",
    "Mutant",
    "Mutation",
    "MutationError",
    "Operator",
    "Site",
    "apply_mutations",
    "find_sites",
    "normalized",
    "operator_names",
    "sample_mutants",
]
