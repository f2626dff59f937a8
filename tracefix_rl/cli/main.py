"""``tracefix``: run demo episodes, browse tasks, play by hand, inspect the sandbox."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from tracefix_rl._version import __version__
from tracefix_rl.cli._common import (
    TASK_PACK_HELP,
    Col,
    dropped_note,
    fitted_table,
    print_json,
    recorded_env,
    task_source,
)
from tracefix_rl.cli._errors import ErrorBoundary, set_debug
from tracefix_rl.cli._task_cmds import pack_commands as _pack_commands

app = typer.Typer(help="TraceFix-RL: an RL environment in which agents debug Python programs.",
                  no_args_is_help=True, add_completion=False, cls=ErrorBoundary)
tasks_app = typer.Typer(help="Browse the built-in bank or a pack; build, validate, import and inspect task packs.",
                        no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
console = Console()

_DEFAULT_TASK = "binary_search_off_by_one"
TaskPackOption = Annotated[Optional[Path], typer.Option("--task-pack", help=TASK_PACK_HELP)]  # noqa: UP045


def _version(value: bool) -> None:
    if value:
        console.print(f"tracefix-rl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,  # noqa: UP045
                                                    help="Print the version and exit.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error (also "
                                                        "TRACEFIX_DEBUG=1).")] = False,
) -> None:
    """TraceFix-RL command line. A mistake prints one 'error:' line and exits with status 2."""
    set_debug(debug)


def _difficulty(value: str | None) -> str | None:
    from tracefix_rl.data.tasks import DIFFICULTIES

    if value is not None and value not in DIFFICULTIES:
        raise typer.BadParameter(f"{value!r} is not a tier; choose from {', '.join(DIFFICULTIES)}")
    return value


@tasks_app.command("list")
def tasks_list(
    difficulty: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Only this tier: easy, medium or hard.", callback=_difficulty)] = None,
    task_pack: TaskPackOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the tasks (built-in, or of a pack) with their tier, bug type and test counts."""
    tasks = task_source(task_pack).tasks(difficulty)
    if as_json:
        print_json([{"name": t.name, "difficulty": t.difficulty, "bug_type": t.bug_type,
                     "visible_tests": len(t.tests), "hidden_tests": len(t.hidden_tests),
                     "aliases": list(t.aliases)} for t in tasks])
        return
    rows = [[t.name, t.difficulty, f"{len(t.tests)}+{len(t.hidden_tests)}", t.bug_type, ", ".join(t.aliases)]
            for t in tasks]
    columns = [Col("name", keep=True), Col("tier"), Col("tests"), Col("bug type"), Col("aliases")]
    table, dropped = fitted_table(console, columns, rows)
    console.print(table)
    where = f"in {task_pack}" if task_pack else "built-in"
    console.print(f"{len(tasks)} task{'' if len(tasks) == 1 else 's'} {where} (tests: visible+hidden)", highlight=False)
    dropped_note(console, dropped)


@tasks_app.command("show")
def tasks_show(
    name: Annotated[str, typer.Argument(help="Task name or alias.")],
    solution: Annotated[bool, typer.Option("--solution", help="Also print the reference solution.")] = False,
    task_pack: TaskPackOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show a task as the agent sees it: description, buggy program, visible tests."""
    from tracefix_rl.env import listing

    t = task_source(task_pack).get(name)
    if as_json:
        data = {"name": t.name, "difficulty": t.difficulty, "bug_type": t.bug_type, "aliases": list(t.aliases),
                "description": t.description, "buggy": t.buggy,
                "visible_tests": [{"name": s.name, "call": s.describe_call(), "expect": s.describe_expectation()}
                                  for s in t.tests],
                "hidden_tests": len(t.hidden_tests)}
        if solution:
            data["reference"] = t.reference
        print_json(data)
        return
    console.print(f"[bold]{t.name}[/bold] ({t.difficulty}, {t.bug_type}); aliases: {', '.join(t.aliases) or '-'}",
                  highlight=False)
    console.print(t.description, markup=False, highlight=False)
    console.print("\n[bold]Program[/bold]")
    console.print(listing(t.buggy.splitlines()), markup=False, highlight=False)
    console.print("\n[bold]Visible tests[/bold]")
    for s in t.tests:
        console.print(f"  {s.name}: {s.describe_call()} -> {s.describe_expectation()}", markup=False)
    console.print(f"  (+ {len(t.hidden_tests)} hidden tests run at SUBMIT)")
    if solution:
        console.print("\n[bold]Reference solution[/bold]")
        console.print(listing(t.reference.splitlines()), markup=False, highlight=False)


def _start(task: str | None, task_pack: Path | None, seed: int) -> tuple[Any, Path | None, Any, Any]:
    """Open the source, the recording environment and reset it: (env, store, task, first observation)."""
    source = task_source(task_pack)
    chosen = source.get(task) if task else (source.tasks()[0] if task_pack else source.get(_DEFAULT_TASK))
    env, store = recorded_env(task_source=source)
    obs = env.reset(task_name=chosen.name, seed=seed)
    return env, store, chosen, obs


def _where_recorded(store: Path | None, episode_id: str) -> None:
    """The closing lines of demo and play: where the episode went and how to look at it again."""
    if store is None:
        console.print(f"episode {episode_id} was not recorded (TRACEFIX_RECORD=0)", highlight=False, soft_wrap=True)
        return
    db = f" --db {store}" if os.environ.get("TRACEFIX_DB") else ""  # else the commands' default
    console.print(f"episode {episode_id} recorded in {store}\n"
                  f"  view it:   tracefix trajectories show {episode_id[:12]}{db}\n"
                  f"  replay it: tracefix replay {episode_id[:12]}{db}", highlight=False, soft_wrap=True)


@app.command()
def demo(
    task: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        help=f"Task name or alias (default: {_DEFAULT_TASK}, or a pack's first task).")] = None,
    seed: int = 0,
    trace: Annotated[bool, typer.Option(help="Include a TRACE step.")] = True,
    task_pack: TaskPackOption = None,
) -> None:
    """Run an end-to-end episode with the oracle agent (no model needed) and print every step.

    The episode is recorded in ./.tracefix/trajectories.sqlite3 (or $TRACEFIX_DB).
    """
    from tracefix_rl.agents import oracle_actions

    env, store, chosen, obs = _start(task, task_pack, seed)
    console.print(f"[bold]reset[/bold] task={obs.task_name} ({obs.difficulty}) episode={obs.episode_id} "
                  f"isolation={env.state.isolation}", highlight=False)
    console.print(obs.last_execution_output, markup=False, highlight=False)
    for action in oracle_actions(chosen, trace=_trace_available() and trace):
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
    _where_recorded(store, obs.episode_id)


def _trace_available() -> bool:
    try:
        importlib.import_module("tracefix_rl.engines.trace")
        return True
    except ImportError:
        return False


_PLAY_HELP = """Commands:
  view | run | trace [TEST] [--cwm] | undo | reset | submit | quit
  replace START END   then type the new block; finish with a line containing only '.'
  {json}              any CodeAction as JSON, e.g. {"action_type": "RUN_TESTS"}
Arrow keys edit the line and recall earlier commands."""

_SIMPLE = {"view": "VIEW_CODE", "run": "RUN_TESTS", "undo": "UNDO_EDIT", "reset": "RESET_TO_ORIGINAL",
           "submit": "SUBMIT"}
_EDITS = ("REPLACE_LINES", "UNDO_EDIT", "RESET_TO_ORIGINAL")


def _line_editing(store: Path | None) -> Path | None:
    """Turn on readline line editing and a history file beside the store (interactive only)."""
    if not sys.stdin.isatty():
        return None
    try:
        import readline
    except ImportError:  # not on every platform
        return None
    history = (store.parent if store is not None else Path(".tracefix")) / "play_history"
    with contextlib.suppress(OSError):
        readline.read_history_file(history)
    readline.set_history_length(1000)
    return history


def _save_history(history: Path | None) -> None:
    if history is None:
        return
    import readline

    with contextlib.suppress(OSError):
        history.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(history)


def _parse_play(line: str) -> Any:
    """The CodeAction a play command stands for; ``None`` for help, ``"quit"`` to stop."""
    from tracefix_rl.core.models import CodeAction

    word, *rest = line.split()
    if word in ("quit", "exit"):
        return "quit"
    if word == "help":
        return None
    if word in _SIMPLE:
        return CodeAction(action_type=_SIMPLE[word])  # type: ignore[arg-type]
    if word == "trace":
        names = [r for r in rest if r != "--cwm"]
        return CodeAction(action_type="TRACE", test_name=names[0] if names else None,
                          trace_format="cwm" if "--cwm" in rest else None)
    if word == "replace":
        if len(rest) != 2 or not all(r.isdigit() for r in rest):
            raise ValueError("replace needs two line numbers: replace START END")
        start, end = int(rest[0]), int(rest[1])
        block = []
        while (ln := input("... ")) != ".":
            block.append(ln)
        return CodeAction(action_type="REPLACE_LINES", start_line=start, end_line=end,
                          new_code_block="\n".join(block))
    if line.startswith("{"):
        return CodeAction.model_validate(json.loads(line))
    raise ValueError(f"unknown command {word!r}; type 'help'")


@app.command()
def play(
    task: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        help=f"Task name or alias (default: {_DEFAULT_TASK}, or a pack's first task).")] = None,
    seed: int = 0,
    task_pack: TaskPackOption = None,
) -> None:
    """Play an episode by hand in the terminal: type actions, read observations.

    The code is printed after every edit; the episode is recorded like ``demo``'s.
    """
    from tracefix_rl.cli._errors import describe

    env, store, _chosen, obs = _start(task, task_pack, seed)
    history = _line_editing(store)
    console.print(f"[bold]episode {obs.episode_id}[/bold] task={obs.task_name} ({obs.difficulty})",
                  highlight=False)
    console.print(obs.last_execution_output, markup=False, highlight=False)
    console.print(_PLAY_HELP, markup=False)
    try:
        while not obs.done:
            try:
                line = input("tracefix> ").strip()
            except EOFError:
                break
            if not line:
                continue
            try:
                action = _parse_play(line)
            except (ValueError, EOFError) as exc:  # pydantic's ValidationError is a ValueError
                console.print(f"Not a valid action: {describe(exc)}", markup=False, highlight=False)
                continue
            if action == "quit":
                break
            if action is None:
                console.print(_PLAY_HELP, markup=False)
                continue
            obs = env.step(action)
            console.print(obs.last_execution_output, markup=False, highlight=False)
            if action.action_type == "TRACE" and obs.trace:
                console.print(obs.trace, markup=False, highlight=False)
            if obs.last_action_error and obs.last_action_error not in obs.last_execution_output:
                console.print(f"[red]error:[/red] {obs.last_action_error}", highlight=False)
            if action.action_type in _EDITS and not obs.last_action_error:
                console.print(obs.render_code(), markup=False, highlight=False)
            console.print(f"[dim]reward {obs.reward:+.2f}  steps left {obs.steps_remaining}[/dim]")
    finally:
        _save_history(history)
    if obs.done:
        console.print(f"[bold]final score {obs.final_score:.2f}[/bold]")
    _where_recorded(store, obs.episode_id)


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
        ("tracefix_rl.cli._view_cmd", "view_command", "view", None, None),
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
