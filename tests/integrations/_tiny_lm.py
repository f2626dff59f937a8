"""A tiny randomly initialised Qwen3 and a byte-level BPE tokenizer, built locally (no download).

The tokenizer carries Qwen's special tokens and TRL's bundled Qwen3 chat template, which is what
makes TRL's tool-call parsing and assistant-only masks work offline.
"""

from __future__ import annotations

from typing import Any

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<tool_response>",
            "</tool_response>", "<think>", "</think>"]


def tiny_tokenizer(chat_template: str | None = None) -> Any:
    """A ~600-token byte-level BPE tokenizer with the Qwen3 specials and ``chat_template``
    (default: TRL's ``qwen3_chat_template``)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from trl.chat_template_utils import qwen3_chat_template

    template = chat_template or qwen3_chat_template
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([template] * 5, trainers.BpeTrainer(
        vocab_size=600, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = template
    tokenizer.padding_side = "left"
    return tokenizer


def tiny_model(tokenizer: Any, seed: int = 0) -> Any:
    """A 2-layer Qwen3 with hidden size 32 and random weights."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    return Qwen3ForCausalLM(Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=16384,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
