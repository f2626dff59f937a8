"""The tool-calling interface: tool names, their JSON schemas, and the text each tool returns.

One home for what a tool-calling agent sees, shared by
:class:`~tracefix_rl.integrations.trl.TraceFixToolEnv` (the tools TRL exposes) and the SFT
exporter (``tracefix trajectories export --format sft --style tools``), so a fine-tuning row
shows exactly the text a tool-calling agent gets for the same actions.

Mapping (tool -> :class:`~tracefix_rl.core.models.CodeAction`)::

    view_code()                                    VIEW_CODE
    run_tests()                                    RUN_TESTS
    trace(test_name=None)                          TRACE (readable rendering)
    replace_lines(start_line, end_line, new_code)  REPLACE_LINES (new_code -> new_code_block)
    undo_edit()                                    UNDO_EDIT
    reset_to_original()                            RESET_TO_ORIGINAL
    submit()                                       SUBMIT

A tool returns the observation's ``last_execution_output`` (plus ``Error: ...`` when the action
was refused and the output does not already say why), cut to ``max_output_chars`` with a
visible marker, because a trainer's completion budget covers tool output.

This module imports nothing heavy (no transformers, no torch).
"""

from __future__ import annotations

from typing import Any

from tracefix_rl.core.models import CodeAction, CodeObservation

__all__ = [
    "DEFAULT_MAX_OUTPUT_CHARS",
    "TOOL_NAMES",
    "TOOL_SCHEMAS",
    "TOOL_SYSTEM_PROMPT",
    "TOOL_USER_PROMPT",
    "action_for_tool",
    "cap_text",
    "intro_text",
    "tool_call_for_action",
    "tool_output",
]

DEFAULT_MAX_OUTPUT_CHARS = 4000
"""Longest tool output (and task intro) handed to the model, in characters."""

TOOL_SYSTEM_PROMPT = """\
You are debugging a small Python program. Its tests fail; make them pass with minimal edits,
using the tools you are given:
- view_code shows the numbered program; run_tests runs the visible tests; trace shows the
  line-by-line execution of a failing test.
- replace_lines replaces lines start_line..end_line (1-based, inclusive) with new_code; use the
  line numbers of the latest listing.
- undo_edit reverts your last edit; reset_to_original restores the original program.
- submit ends the episode: the program is graded on the visible AND hidden tests.
Fix the faulty line, run the tests again, and call submit as soon as all visible tests pass.
Every tool call costs a little score."""

TOOL_USER_PROMPT = "Fix the bug in the program below, then call submit."
"""The user turn of a dataset row; the task intro returned by ``reset`` is appended to it."""

# name -> (action_type, {tool argument: CodeAction field})
_TOOLS: dict[str, tuple[str, dict[str, str]]] = {
    "view_code": ("VIEW_CODE", {}),
    "run_tests": ("RUN_TESTS", {}),
    "trace": ("TRACE", {"test_name": "test_name"}),
    "replace_lines": ("REPLACE_LINES", {"start_line": "start_line", "end_line": "end_line",
                                        "new_code": "new_code_block"}),
    "undo_edit": ("UNDO_EDIT", {}),
    "reset_to_original": ("RESET_TO_ORIGINAL", {}),
    "submit": ("SUBMIT", {}),
}
_BY_ACTION = {action: (name, fields) for name, (action, fields) in _TOOLS.items()}

TOOL_NAMES: tuple[str, ...] = tuple(sorted(_TOOLS))
"""Every tool name, sorted (the order TRL lists an environment's methods in)."""


def _schema(name: str, description: str, properties: dict[str, Any] | None = None,
            required: list[str] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"type": "object", "properties": properties or {}}
    if required:
        params["required"] = required
    return {"type": "function", "function": {"name": name, "description": description, "parameters": params,
                                             "return": {"type": "string"}}}


TOOL_SCHEMAS: list[dict[str, Any]] = [
    _schema("replace_lines",
            "Replace lines start_line..end_line (1-based, inclusive) of the program with new_code.",
            {"start_line": {"type": "integer", "description": "First line to replace."},
             "end_line": {"type": "integer", "description": "Last line to replace (at most the last line + 1; "
                                                            "last line + 1 appends)."},
             "new_code": {"type": "string", "description": "The replacement lines. If the first line has no "
                                                           "indentation, the block takes start_line's indentation; "
                                                           "otherwise it is used exactly. An empty string deletes "
                                                           "the lines."}},
            ["start_line", "end_line", "new_code"]),
    _schema("reset_to_original", "Restore the original buggy program and clear the edit history."),
    _schema("run_tests", "Run the visible tests on the current program and report each failure."),
    _schema("submit", "Grade the program on the visible and hidden tests and end the episode."),
    _schema("trace", "Show the line-by-line execution of a visible test, with the values of variables.",
            {"test_name": {"type": "string", "nullable": True,
                           "description": "The test to trace (default: the first failing one)."}}),
    _schema("undo_edit", "Revert the last edit."),
    _schema("view_code", "Show the current program with line numbers."),
]
"""The JSON schemas TRL builds from :class:`~tracefix_rl.integrations.trl.TraceFixToolEnv`'s
methods (``transformers.utils.get_json_schema``), sorted by name; a test keeps them equal."""


def cap_text(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters, with a marker saying how much was cut."""
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    return text[:max_chars] + f"\n[... {len(text) - max_chars} more characters cut]"


def intro_text(obs: CodeObservation, max_chars: int = DEFAULT_MAX_OUTPUT_CHARS) -> str:
    """What ``reset`` returns (TRL appends it to the last user message): the task and the program."""
    return "\n\n" + cap_text(obs.last_execution_output, max_chars)


def tool_output(obs: CodeObservation, max_chars: int = DEFAULT_MAX_OUTPUT_CHARS) -> str:
    """The text a tool returns for the observation its action produced (see the module docstring)."""
    text = obs.last_execution_output
    if obs.last_action_error and obs.last_action_error not in text:
        text = f"{text}\nError: {obs.last_action_error}" if text else f"Error: {obs.last_action_error}"
    return cap_text(text, max_chars)


def action_for_tool(name: str, arguments: dict[str, Any]) -> CodeAction:
    """The action a tool call stands for.

    Raises:
        ValueError: unknown tool name or argument (a ``pydantic.ValidationError``, itself a
            ``ValueError``, for a value of the wrong shape).
    """
    if name not in _TOOLS:
        raise ValueError(f"unknown tool {name!r}; tools: {', '.join(TOOL_NAMES)}")
    action_type, fields = _TOOLS[name]
    unknown = sorted(set(arguments) - set(fields))
    if unknown:
        raise ValueError(f"{name} takes no argument {', '.join(unknown)}")
    return CodeAction.model_validate({"action_type": action_type,
                                      **{fields[k]: v for k, v in arguments.items()}})


def tool_call_for_action(action: CodeAction | dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(tool name, arguments)`` for a recorded action, or None if no tool call expresses it
    (a REPLACE_LINES missing a line number or its block, which the tool's signature requires).

    Arguments left at their default (``trace`` without ``test_name``) are omitted; fields that do
    not belong to the action are dropped, as the environment ignores them.
    """
    data = action.model_dump() if isinstance(action, CodeAction) else dict(action)
    name, fields = _BY_ACTION[str(data["action_type"])]
    args = {arg: data.get(field) for arg, field in fields.items()}
    if name == "replace_lines" and any(v is None for v in args.values()):
        return None
    return name, {k: v for k, v in args.items() if v is not None}
