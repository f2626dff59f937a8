# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "trl[vllm]>=1.16,<2",
#     "transformers>=5.13",
#     "datasets>=4.7",
# ]
# ///
"""GRPO on TraceFix-RL with TRL: the model debugs programs through tools, rewarded by the final score.

On a GPU machine, from a checkout of this repository (TraceFix-RL installs from the checkout)::

    uv run --with-editable . examples/trl_grpo.py --model Qwen/Qwen3-0.6B --output-dir runs/grpo

Every rollout is recorded into ``<output-dir>/trajectories.sqlite3``; turn the good ones into
fine-tuning data with ``tracefix trajectories export --db ... --format sft --resolved-only``.
With ``--env-url http://HOST:7860`` the episodes run on a TraceFix-RL server instead (give it
``--max-sessions`` of at least the generation batch size). ``--no-vllm --use-cpu`` runs
without a GPU (slowly).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="Qwen/Qwen3-0.6B", help="model id or local path")
    p.add_argument("--output-dir", default="runs/grpo")
    p.add_argument("--tiers", nargs="+", default=["easy", "medium"], help="difficulty tiers to train on")
    p.add_argument("--task-pack", default=None, help="a task pack instead of the built-in bank")
    p.add_argument("--seeds", type=int, default=8, help="seeds per task (one dataset row each)")
    p.add_argument("--env-url", default=None, help="a TraceFix-RL server; default: episodes run in this process")
    p.add_argument("--reward", choices=["final_score", "resolved"], default="final_score")
    p.add_argument("--num-generations", type=int, default=8, help="rollouts per row (one GRPO group)")
    p.add_argument("--per-device-batch", type=int, default=8)
    p.add_argument("--max-completion-length", type=int, default=6144,
                   help="token budget of a whole episode, tool outputs included")
    p.add_argument("--max-tool-calls", type=int, default=24)
    p.add_argument("--max-output-chars", type=int, default=3000, help="longest tool output shown to the model")
    p.add_argument("--learning-rate", type=float, default=1e-6)
    p.add_argument("--max-steps", type=int, default=500)
    p.add_argument("--no-vllm", action="store_true", help="generate with transformers instead of vLLM")
    p.add_argument("--use-cpu", action="store_true")
    p.add_argument("--report-to", default="none")
    args = p.parse_args(argv)

    from trl import GRPOConfig, GRPOTrainer

    from tracefix_rl.integrations.trl import make_dataset, make_env_factory

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    dataset = make_dataset(tiers=args.tiers, task_pack=args.task_pack, seeds=range(args.seeds))
    common = {"max_output_chars": args.max_output_chars, "reward": args.reward}
    factory = (make_env_factory(base_url=args.env_url, **common) if args.env_url
               else make_env_factory(db=str(out / "trajectories.sqlite3"), **common))
    config = GRPOConfig(
        output_dir=str(out), max_steps=args.max_steps, learning_rate=args.learning_rate,
        num_generations=args.num_generations, per_device_train_batch_size=args.per_device_batch,
        max_completion_length=args.max_completion_length, max_tool_calling_iterations=args.max_tool_calls,
        chat_template_kwargs={"enable_thinking": False}, use_vllm=not args.no_vllm, vllm_mode="colocate",
        bf16=not args.use_cpu, use_cpu=args.use_cpu, logging_steps=1, save_strategy="no",
        report_to=args.report_to,
    )
    trainer = GRPOTrainer(model=args.model, args=config, train_dataset=dataset, environment_factory=factory)
    trainer.train()
    trainer.save_model(str(out / "model"))


if __name__ == "__main__":
    main()
