"""``tracefix eval``: evaluate a model or a built-in agent over a task set and write a report."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from tracefix_rl.cli._common import fail

__all__ = ["eval_command"]

console = Console()

_KEY_VARS = ("OPENAI_API_KEY", "HF_TOKEN", "API_KEY")
_URL_VARS = ("OPENAI_BASE_URL", "API_BASE_URL")


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def eval_command(  # noqa: C901 - one option group after another
    agent: Annotated[str, typer.Option(
        "--agent", "-a", help="llm (an OpenAI-compatible model, needs --model), repair (the model-free baseline), "
                              "random, or oracle (applies the reference fix: an upper bound).")] = "llm",
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Model name sent to the endpoint.")] = None,  # noqa: UP045
    base_url: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL or $API_BASE_URL).")] = None,
    api_key_env: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--api-key-env", help="Environment variable holding the API key (default: the first set of "
                              "OPENAI_API_KEY, HF_TOKEN, API_KEY).")] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.0,
    top_p: Annotated[Optional[float], typer.Option("--top-p", help="Nucleus sampling.")] = None,  # noqa: UP045
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Most tokens per model reply.")] = 1024,
    request_timeout: Annotated[float, typer.Option(help="Seconds per model request.")] = 120.0,
    tasks: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--tasks", "-t", help="Task names or aliases (comma-separated or repeated); default: every task.")] = None,
    tier: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--tier", help="Only these tiers: easy, medium, hard (comma-separated or repeated).")] = None,
    pack: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--pack", help="A task pack (.jsonl, .parquet or a directory) instead of the built-in bank.")] = None,
    variants: Annotated[str, typer.Option(help="Variants of each task: 0, 0..3, 0,2,5.")] = "0",
    slice_: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--slice", help="Keep tasks start:stop[:step] of the selection (after --filter and --shuffle).")] = None,
    filter_: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--filter", help="Keep tasks whose name matches this regular expression.")] = None,
    shuffle: Annotated[bool, typer.Option("--shuffle", help="Shuffle the tasks (with --seed).")] = False,
    seed: Annotated[int, typer.Option(help="Shuffle seed; sample s resets with seed + s.")] = 0,
    samples: Annotated[int, typer.Option("--samples", "-k", help="Rollouts per task and variant (pass@k).")] = 1,
    workers: Annotated[int, typer.Option("--workers", "-w", help="Episodes played in parallel.")] = 1,
    env_url: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--env-url", help="Run against this server (http://host:port); default: in-process.")] = None,
    max_steps: Annotated[int, typer.Option(help="Steps per episode.")] = 50,
    retries: Annotated[int, typer.Option(help="Retries of an episode whose environment failed.")] = 2,
    episode_timeout: Annotated[Optional[float], typer.Option(  # noqa: UP045
        help="Seconds per episode; then the program is submitted (exit status time_limit).")] = None,
    output: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--output", "-o", help="Output directory (default: tracefix-eval/<agent>-<UTC time>).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --output: skip finished "
                                                          "episodes, re-run infrastructure and model errors.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Delete earlier results in --output first.")] = False,
    live: Annotated[Optional[bool], typer.Option(  # noqa: UP045
        "--live/--no-live", help="Live status table (default: when the terminal is interactive).")] = None,
    html: Annotated[bool, typer.Option("--html/--no-html", help="Also write report.html.")] = True,
) -> None:
    """Evaluate a model or agent over a task set: results.jsonl, report.json, report.html, trajectories.

    Exit status: 0 when the harness did its job (whatever the agent scored), 1 when the
    harness itself failed, 2 for bad options, 130 when interrupted (the report covers the
    episodes that finished; --resume continues).
    """
    from tracefix_rl.core.errors import EvaluationError, TaskError
    from tracefix_rl.evaluation import (
        AGENT_KINDS,
        EvalAgent,
        EvalOptions,
        EvalRunner,
        make_policy_agent,
        parse_slice,
        parse_variants,
        select_tasks,
    )

    if agent not in AGENT_KINDS:
        raise fail(f"--agent must be one of {', '.join(AGENT_KINDS)}, got {agent!r}")
    if samples < 1 or workers < 1 or max_steps < 1 or retries < 0:
        raise fail("--samples, --workers and --max-steps must be at least 1, --retries at least 0")
    if resume and output is None:
        raise fail("--resume needs --output DIR (the run to continue)")
    try:
        window = parse_slice(slice_)
        chosen = select_tasks(names=_split(tasks), tiers=_split(tier), pack=pack, variants=parse_variants(variants),
                              pattern=filter_, shuffle=shuffle, seed=seed, window=window)
    except TaskError as exc:
        raise fail(str(exc)) from None
    if env_url:
        try:
            import tracefix_rl.client  # noqa: F401 - the WebSocket client needs the server extra
        except ImportError as exc:
            raise fail(f"--env-url needs the OpenEnv client (pip install 'tracefix-rl[server]'): {exc}") from None
    label = re.sub(r"[^A-Za-z0-9._-]+", "_", model or agent)  # a model name may hold a '/'
    out_dir = output or Path("tracefix-eval") / f"{label}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    if agent == "llm":
        if not model:
            raise fail("--agent llm needs --model (or choose --agent repair for the model-free baseline)")
        url = base_url or next((os.environ[v] for v in _URL_VARS if os.environ.get(v)), None)
        if not url:
            raise fail("no endpoint: pass --base-url or set OPENAI_BASE_URL")
        if api_key_env and not os.environ.get(api_key_env):
            raise fail(f"--api-key-env {api_key_env}: that environment variable is not set")
        key = os.environ.get(api_key_env) if api_key_env else next(
            (os.environ[v] for v in _KEY_VARS if os.environ.get(v)), None)
        try:
            from tracefix_rl.evaluation import ModelAgent
        except ImportError as exc:
            raise fail(f"--agent llm needs the openai package (pip install 'tracefix-rl[server]'): {exc}") from None
        runner_agent: EvalAgent = ModelAgent(model=model, base_url=url, api_key=key, temperature=temperature, top_p=top_p,
                                  max_tokens=max_tokens, max_steps=max_steps, request_timeout=request_timeout)
    else:
        runner_agent = make_policy_agent(agent, max_steps=max_steps)
    options = EvalOptions(output_dir=out_dir, samples=samples, workers=workers, env_url=env_url, max_steps=max_steps,
                          seed=seed, retries=retries, episode_timeout=episode_timeout, resume=resume,
                          overwrite=overwrite, html=html)
    selection = {"source": pack or "builtin", "tasks": _split(tasks), "tiers": _split(tier), "variants": variants,
                 "filter": filter_, "shuffle": shuffle, "slice": slice_, "selected": len(chosen),
                 "instances": [t.instance for t in chosen][:1000]}
    show_live = sys.stdout.isatty() if live is None else live
    printer = None if show_live else _episode_printer(len(chosen) * samples)
    runner = EvalRunner(runner_agent, chosen, options, selection=selection, on_episode=printer)
    console.print(f"tracefix eval: {len(chosen)} task(s) x {samples} sample(s) = "
                  f"{len(runner.plan)} episodes, agent {agent}{' ' + model if model else ''}, "
                  f"{workers} worker(s), {env_url or 'in-process'} -> {out_dir}", highlight=False, markup=False)
    try:
        if show_live:
            outcome = _run_live(runner)
        else:
            outcome = runner.run()
    except EvaluationError as exc:
        raise fail(str(exc)) from None
    _print_summary(outcome)
    if outcome.interrupted:
        raise typer.Exit(130)
    if not outcome.ok:
        raise typer.Exit(1)


def _episode_printer(total: int):  # type: ignore[no-untyped-def]
    done = [0]

    def printer(row) -> None:  # type: ignore[no-untyped-def]
        done[0] += 1
        score = "–" if row.final_score is None else f"{row.final_score:.2f}"
        console.print(f"[{done[0]}/{total}] {row.key}: {row.exit_status.value}, resolved={row.resolved}, "
                      f"score={score}, steps={row.steps}, {row.wall_s:.1f}s", highlight=False, markup=False)

    return printer


def _run_live(runner):  # type: ignore[no-untyped-def]
    from rich.live import Live

    from tracefix_rl.cli._eval_live import status_table

    class _Table:
        def __rich__(self):  # type: ignore[no-untyped-def]
            return status_table(runner.progress)

    with Live(_Table(), console=console, refresh_per_second=4, transient=False):
        outcome = runner.run()
    console.print()
    return outcome


def _print_summary(outcome) -> None:  # type: ignore[no-untyped-def]
    from rich.markup import escape

    from tracefix_rl.cli._eval_live import summary_tables

    report = outcome.report
    console.print(summary_tables(report))
    d = outcome.output_dir
    console.print(f"results  {d / 'results.jsonl'}\nreport   {d / 'report.json'}"
                  + (f"\nhtml     {d / 'report.html'}" if (d / 'report.html').exists() else "")
                  + f"\nepisodes {d / 'trajectories.sqlite3'} (tracefix trajectories list --db ...)",
                  highlight=False, markup=False)
    if report.failure_reasons:
        console.print(f"[yellow]{len(report.failure_reasons)} episode(s) not counted[/yellow] "
                      f"(see report.json failure_reasons and {escape(str(d / 'eval.log'))})", highlight=False)
    if outcome.harness_error:
        console.print(f"[red]harness failure:[/red] {escape(outcome.harness_error)}", highlight=False)
    if outcome.interrupted:
        console.print(f"[yellow]interrupted[/yellow]: continue with --resume -o {escape(str(d))}", highlight=False)
