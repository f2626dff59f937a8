# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "trl>=1.16,<2",
#     "transformers>=5.13",
#     "datasets>=4.7",
# ]
# ///
"""SFT on recorded TraceFix-RL episodes with TRL: learn from solved episodes, loss on the model's turns only.

First export chat rows (tool calls, as the GRPO example's tools) from a trajectory store::

    tracefix trajectories export sft.jsonl --db runs/grpo/trajectories.sqlite3 --format sft --resolved-only

then, on a GPU machine, from a checkout of this repository::

    uv run --with-editable . examples/trl_sft.py --data sft.jsonl --model Qwen/Qwen3-0.6B --output-dir runs/sft

The rows carry ``messages`` and ``tools``, so TRL renders the tool schemas and tool calls with the
model's chat template, and ``assistant_only_loss`` trains only on the assistant's tokens (thoughts
and tool calls), never on tool outputs or prompts. Use ``--style json`` exports for models driven
by ``inference.py`` instead.
"""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="an SFT export (.jsonl or .parquet)")
    p.add_argument("--model", default="Qwen/Qwen3-0.6B", help="model id or local path")
    p.add_argument("--output-dir", default="runs/sft")
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--learning-rate", type=float, default=1e-5)
    p.add_argument("--per-device-batch", type=int, default=4)
    p.add_argument("--max-length", type=int, default=8192)
    p.add_argument("--max-steps", type=int, default=-1)
    p.add_argument("--use-cpu", action="store_true")
    p.add_argument("--report-to", default="none")
    args = p.parse_args(argv)

    import datasets
    from trl import SFTConfig, SFTTrainer

    kind = "parquet" if args.data.endswith((".parquet", ".pq")) else "json"
    dataset = datasets.load_dataset(kind, data_files=args.data, split="train")
    dataset = dataset.select_columns(["messages", "tools"])
    config = SFTConfig(
        output_dir=args.output_dir, num_train_epochs=args.epochs, max_steps=args.max_steps,
        learning_rate=args.learning_rate, per_device_train_batch_size=args.per_device_batch,
        max_length=args.max_length, assistant_only_loss=True, bf16=not args.use_cpu, use_cpu=args.use_cpu,
        logging_steps=1, save_strategy="no", report_to=args.report_to,
    )
    trainer = SFTTrainer(model=args.model, args=config, train_dataset=dataset)
    trainer.train()
    trainer.save_model(args.output_dir)


if __name__ == "__main__":
    main()
