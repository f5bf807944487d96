"""Tokenizers built in code for tiny random-weight text encoders (no hub here): one token per UTF-8 byte.

A byte-level BPE without merges covers every string (non-ASCII included) with a 256-token alphabet
plus the special tokens a pipeline expects, and saves/loads like any `PreTrainedTokenizerFast`, so a
saved tiny pipeline reloads with the stock `from_pretrained`. Two flavours, matching what the
diffusers pipelines call: T5-style (pad 0, `</s>` appended; Wan, Cosmos-Predict2, CogVideoX) and
Qwen-style chat (Cosmos-Predict2.5 formats its prompt with `apply_chat_template`).
"""

from __future__ import annotations

from enum import Enum

from transformers import PreTrainedTokenizerFast


class TokenizerStyle(str, Enum):
    T5 = "t5"
    QWEN_CHAT = "qwen-chat"


_SPECIALS = {
    TokenizerStyle.T5: ("<pad>", "</s>", "<unk>"),
    TokenizerStyle.QWEN_CHAT: ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
}
# Qwen's chat layout, text parts only: the pipeline sends a system and a user message of text.
_QWEN_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
                  "{% for c in m['content'] %}{{ c['text'] }}{% endfor %}<|im_end|>\n{% endfor %}")


def byte_tokenizer(style: TokenizerStyle) -> PreTrainedTokenizerFast:
    """A byte-level tokenizer of `style`; its vocabulary size is `len(tokenizer)` (259)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    specials = _SPECIALS[style]
    vocab = {token: i for i, token in enumerate([*specials, *sorted(pre_tokenizers.ByteLevel.alphabet())])}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    if style is TokenizerStyle.T5:
        backend.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
        return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>",
                                       unk_token="<unk>")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<|endoftext|>", eos_token="<|im_end|>",
                                        additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    tokenizer.chat_template = _QWEN_TEMPLATE
    return tokenizer
