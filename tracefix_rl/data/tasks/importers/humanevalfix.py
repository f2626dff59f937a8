"""Import HumanEvalPack "fix" (HumanEvalFix) JSONL files as tasks.

Each line is an object with ``task_id``, ``prompt``, ``declaration``, ``buggy_solution``,
``canonical_solution``, ``test`` (defines ``check(candidate)``), ``example_test``,
``entry_point``, ``bug_type`` and ``failure_symptoms`` (``.jsonl`` or ``.jsonl.gz``).

* program = ``declaration`` + solution (``prompt`` + solution when there is no declaration);
  the reference uses ``canonical_solution``, the starting code ``buggy_solution``;
* description = the entry point's docstring from ``prompt`` (else the prompt text);
* tests: ``example_test``'s asserts are visible, ``test``'s asserts hidden (split per
  assert, see :mod:`tracefix_rl.data.tasks.importers._common`); hidden tests that repeat a
  visible one are dropped;
* ``bug_type`` is kept; ``failure_symptoms`` and ``task_id`` go to provenance.

Skipped with a reason: malformed lines, missing fields, tests that cannot be converted, a
reference that fails its own tests, a buggy program that passes all of them.
"""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path
from typing import Any

from tracefix_rl.core import safe_ast
from tracefix_rl.data.tasks.importers._common import ImportReport, check_tests, finish_task

__all__ = ["REQUIRED_FIELDS", "import_humanevalfix"]

REQUIRED_FIELDS = ("task_id", "declaration", "buggy_solution", "canonical_solution", "test", "example_test",
                   "entry_point")


def _lines(path: Path) -> list[str]:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read().splitlines()
    return path.read_text(encoding="utf-8").splitlines()


def _docstring(prompt: str, entry: str) -> str:
    try:
        tree = safe_ast.parse(prompt + "\n    pass\n")
    except SyntaxError:
        return prompt.strip()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == entry:
            return ast.get_docstring(node) or prompt.strip()
    return prompt.strip()


def _safe_name(task_id: str) -> str:
    return "humanevalfix_" + "".join(c if c.isalnum() else "_" for c in task_id.split("/")[-1]).strip("_")


def _record(row: dict[str, Any], report: ImportReport, where: str) -> None:
    missing = [f for f in REQUIRED_FIELDS if not isinstance(row.get(f), str)]
    if missing:
        report.skip(where, f"missing or non-text field(s): {', '.join(missing)}")
        return
    task_id, entry = row["task_id"], row["entry_point"]
    head = row["declaration"] or row.get("prompt") or ""
    if not head.endswith("\n"):
        head += "\n"
    reference, buggy = head + row["canonical_solution"], head + row["buggy_solution"]
    try:
        visible = check_tests(row["example_test"], entry, "test_example")
        hidden = check_tests(row["test"], entry, "test_hidden")
    except (ValueError, SyntaxError) as exc:
        report.skip(task_id, f"tests cannot be converted: {exc}")
        return
    calls = {(t.setup, t.call) for t in visible}
    hidden = [t for t in hidden if (t.setup, t.call) not in calls] or hidden
    task, reason = finish_task(
        name=_safe_name(task_id), entry_point=entry, description=_docstring(row.get("prompt") or "", entry),
        reference=reference, buggy=buggy, tests=visible, hidden=hidden, bug_type=str(row.get("bug_type") or ""),
        provenance={"source": "humanevalfix", "task_id": task_id,
                    "failure_symptoms": str(row.get("failure_symptoms") or "")},
        bug_description=str(row.get("failure_symptoms") or ""))
    if task is None:
        report.skip(task_id, reason)
    else:
        report.tasks.append(task)


def import_humanevalfix(source: str | Path) -> ImportReport:
    """Import every valid record of a HumanEvalFix JSONL file; see the module docstring."""
    path = Path(source)
    report = ImportReport(source=str(path), format="humanevalfix")
    for n, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            report.skip(where, f"malformed JSON: {exc.msg}")
            continue
        if not isinstance(row, dict):
            report.skip(where, "malformed record: not a JSON object")
            continue
        _record(row, report, str(row.get("task_id") or where))
    return report
