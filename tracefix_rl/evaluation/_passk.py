"""The unbiased pass@k estimator (Chen et al. 2021, HumanEval's ``estimate_pass_at_k``)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["mean_pass_at_k", "pass_at_k"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of ``k`` samples drawn without replacement from ``n``
    rollouts, ``c`` of them correct, is correct: ``1 - C(n-c, k) / C(n, k)``.

    Computed as the product ``1 - prod(1 - k / i for i in n-c+1 .. n)``, which is exact in
    rational terms and numerically stable. Raises ``ValueError`` unless ``0 <= c <= n`` and
    ``1 <= k <= n``.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (got n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> tuple[float | None, int]:
    """pass@k averaged over tasks given as ``(n, c)`` pairs; tasks with ``n < k`` are left out.

    Returns the mean (``None`` when no task has ``k`` rollouts) and how many tasks it covers.
    """
    values = [pass_at_k(n, c, k) for n, c in counts if n >= k]
    return (sum(values) / len(values) if values else None), len(values)
