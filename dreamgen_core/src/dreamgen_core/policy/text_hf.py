"""The "hf" text encoder: a local transformers model, its last hidden state mean-pooled over the tokens.

Only a local directory is read (`local_files_only`; HF_HUB_OFFLINE is set by the CLI): a policy must
embed the same text on the robot as in training, so it never depends on what a hub serves that day.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dreamgen_core.policy.config import TextEncoderSpec
from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.policy.text import instruction_of


class HfTextEncoder:
    """`spec.path`: a directory holding a tokenizer and a model `AutoModel` loads (e.g. a T5/BERT encoder)."""

    def __init__(self, spec: TextEncoderSpec) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = Path(spec.path or "")
        if not path.is_dir():
            raise PolicyError(f"text.path {spec.path!r}: no such directory (a local transformers model)")
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise PolicyError(f"text.path {path}: not a loadable transformers model: {exc}") from exc
        # Encoder-decoder models (T5): the encoder alone embeds text.
        self._model = (model.get_encoder() if getattr(model.config, "is_encoder_decoder", False) else model).eval()
        self._torch = torch
        self.dim = int(getattr(model.config, "d_model", None) or model.config.hidden_size)

    def embed(self, instruction: str) -> np.ndarray:
        tokens = self._tokenizer(instruction_of(instruction), return_tensors="pt")
        with self._torch.no_grad():
            hidden = self._model(**tokens).last_hidden_state[0]  # [tokens, dim]
        mask = tokens["attention_mask"][0].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(0) / mask.sum().clamp(min=1)
        return pooled.float().numpy().astype(np.float32)
