"""``tracefix``: run demo episodes, browse tasks, play by hand, inspect the sandbox."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from tracefix_rl._version import __version__
from tracefix_rl.cli._task_cmds import pack_commands as _pack_commands

app = typer.Typer(help="TraceFix-RL: an RL environment in which agents debug Python programs.",
                  no_args_is_help=True, add_completion=False)
tasks_app = typer.Typer(help="Browse the built-in bank; build, validate, import and inspect task packs.",
                        no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
console = Console()


def _version(value: bool) -> None:
    if value:
        console.print(f"tracefix-rl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,  # noqa: UP045
                                                    help="Print the version and exit.")] = None,
) -> None:
    """TraceFix-RL command line."""


@tasks_app.command("list")
def tasks_list(
    difficulty: Annotated[Optional[str], typer.Option(help="Only this tier: easy, medium or hard.")] = None,  # noqa: UP045
) -> None:
    """List built-in tasks with their tier, bug type and test counts."""
    from tracefix_rl.data.tasks import list_tasks

    table = Table(title="Built-in tasks")
    for col in ("name", "tier", "bug type", "visible", "hidden", "aliases"):
        table.add_column(col)
    tasks = list_tasks(difficulty)
    for t in tasks:
        table.add_row(t.name, t.difficulty, t.bug_type, str(len(t.tests)), str(len(t.hidden_tests)),
                      ", ".join(t.aliases))
    console.print(table)
    console.print(f"{len(tasks)} tasks")


@tasks_app.command("show")
def tasks_show(
    name: str,
    solution: Annotated[bool, typer.Option("--solution", help="Also print the reference solution.")] = False,
) -> None:
    """Show a task as the agent sees it: description, buggy program, visible tests."""
    from tracefix_rl.data.tasks import get_task
    from tracefix_rl.env import listing

    t = get_task(name)
    console.print(f"[bold]{t.name}[/bold] ({t.difficulty}, {t.bug_type}); aliases: {', '.join(t.aliases) or '-'}")
    console.print(t.description)
    console.print("\n[bold]Program[/bold]")
    console.print(listing(t.buggy.splitlines()), markup=False, highlight=False)
    console.print("\n[bold]Visible tests[/bold]")
    for s in t.tests:
        console.print(f"  {s.name}: {s.describe_call()} -> {s.describe_expectation()}", markup=False)
    console.print(f"  (+ {len(t.hidden_tests)} hidden tests run at SUBMIT)")
    if solution:
        console.print("\n[bold]Reference solution[/bold]")
        console.print(listing(t.reference.splitlines()), markup=False, highlight=False)


@app.command()
def demo(
    task: Annotated[str, typer.Argument(help="Task name or alias.")] = "binary_search_off_by_one",
    seed: int = 0,
    trace: Annotated[bool, typer.Option(help="Include a TRACE step.")] = True,
) -> None:
    """Run an end-to-end episode with the oracle agent (no model needed) and print every step."""
    from tracefix_rl.agents import oracle_actions
    from tracefix_rl.cli._common import recorded_env
    from tracefix_rl.data.tasks import get_task

    env, store = recorded_env()
    obs = env.reset(task_name=task, seed=seed)
    console.print(f"[bold]reset[/bold] task={obs.task_name} ({obs.difficulty}) episode={obs.episode_id} "
                  f"isolation={env.state.isolation}")
    console.print(obs.last_execution_output, markup=False, highlight=False)
    for action in oracle_actions(get_task(task), trace=_trace_available() and trace):
        obs = env.step(action)
        args = ""
        if action.action_type == "REPLACE_LINES":
            args = f" lines {action.start_line}-{action.end_line} <- {action.new_code_block!r}"
        console.rule(f"step {obs.step_count}: {action.action_type}{args}")
        console.print(obs.last_execution_output, markup=False, highlight=False)
        terms = ", ".join(f"{k}={v:+.2f}" for k, v in obs.reward_breakdown.items())
        console.print(f"[dim]reward {obs.reward:+.2f} ({terms}); done={obs.done}[/dim]")
        if obs.done:
            break
    console.print(f"\n[bold green]final score {obs.final_score:.2f}[/bold green] after {obs.step_count} steps")


def _trace_available() -> bool:
    try:
        importlib.import_module("tracefix_rl.engines.trace")
        return True
    except ImportError:
        return False


_PLAY_HELP = """Commands:
  view | run | trace [TEST] [--cwm] | undo | reset | submit | quit
  replace START END   then type the new block; finish with a line containing only '.'
  {json}              any CodeAction as JSON, e.g. {"action_type": "RUN_TESTS"}"""


@app.command()
def play(
    task: Annotated[str, typer.Argument(help="Task name or alias.")] = "binary_search_off_by_one",
    seed: int = 0,
) -> None:
    """Play an episode by hand in the terminal: type actions, read observations."""
    from pydantic import ValidationError

    from tracefix_rl.cli._common import recorded_env
    from tracefix_rl.core.models import CodeAction

    env, store = recorded_env()
    obs = env.reset(task_name=task, seed=seed)
    console.print(obs.last_execution_output, markup=False, highlight=False)
    console.print(_PLAY_HELP, markup=False)
    simple = {"view": "VIEW_CODE", "run": "RUN_TESTS", "undo": "UNDO_EDIT",
              "reset": "RESET_TO_ORIGINAL", "submit": "SUBMIT"}
    while not obs.done:
        try:
            line = input("tracefix> ").strip()
        except EOFError:
            break
        if not line:
            continue
        word, *rest = line.split()
        try:
            if word in ("quit", "exit"):
                break
            if word == "help":
                console.print(_PLAY_HELP, markup=False)
                continue
            if word in simple:
                action = CodeAction(action_type=simple[word])  # type: ignore[arg-type]
            elif word == "trace":
                names = [r for r in rest if r != "--cwm"]
                action = CodeAction(action_type="TRACE", test_name=names[0] if names else None,
                                    trace_format="cwm" if "--cwm" in rest else None)
            elif word == "replace" and len(rest) == 2:
                block = []
                while (ln := input("... ")) != ".":
                    block.append(ln)
                action = CodeAction(action_type="REPLACE_LINES", start_line=int(rest[0]),
                                    end_line=int(rest[1]), new_code_block="\n".join(block))
            elif line.startswith("{"):
                action = CodeAction.model_validate(json.loads(line))
            else:
                console.print("Unknown command; type 'help'.")
                continue
        except (ValidationError, ValueError) as exc:
            console.print(f"Not a valid action: {exc}", markup=False)
            continue
        obs = env.step(action)
        console.print(obs.last_execution_output, markup=False, highlight=False)
        if action.action_type == "TRACE" and obs.trace:
            console.print(obs.trace, markup=False, highlight=False)
        if obs.last_action_error:
            console.print(f"[red]error:[/red] {obs.last_action_error}")
        console.print(f"[dim]reward {obs.reward:+.2f}  steps left {obs.steps_remaining}[/dim]")
    if obs.done:
        console.print(f"[bold]final score {obs.final_score:.2f}[/bold]")


@app.command()
def doctor() -> None:
    """Show the sandbox isolation this machine provides and what the environment will use."""
    import platform

    from tracefix_rl.core.errors import SandboxStartError
    from tracefix_rl.engines import sandbox

    console.print(f"tracefix-rl {__version__} on Python {platform.python_version()} ({sys.executable})")
    try:
        sandbox.get_sandbox()  # start the executor so the report shows the level in use
    except SandboxStartError as exc:
        console.print(f"[red]no usable sandbox:[/red] {exc}")
    info = sandbox.describe_isolation()
    pool = info.pop("forkserver", None)
    for key, value in info.items():
        console.print(f"  {key}: {value}", markup=False)
    if pool:
        for key in ("workers", "uids", "namespaces", "landlock_abi", "seccomp_instructions", "disk_quota",
                    "jobs_root", "drivers", "preloaded", "missing", "notes"):
            if key in pool:
                console.print(f"  forkserver.{key}: {pool[key]}", markup=False)


def _register_optional() -> None:
    """Mount sub-commands that live in their own modules (each owns its dependencies)."""
    specs = [
        ("tracefix_rl.cli._trace_cmds", "trace_command", "trace", "traces_app", "traces"),
        ("tracefix_rl.cli._trajectory_cmds", "replay_command", "replay", "trajectories_app", "trajectories"),
        ("tracefix_rl.cli._serve_cmd", "serve_command", "serve", None, None),
        ("tracefix_rl.cli._eval_cmd", "eval_command", "eval", None, None),
    ]
    for module_name, cmd, cmd_name, group, group_name in specs:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, cmd):
            app.command(cmd_name)(getattr(module, cmd))
        if group and hasattr(module, group):
            app.add_typer(getattr(module, group), name=group_name)


_register_optional()
_pack_commands(tasks_app)

if __name__ == "__main__":
    app()
