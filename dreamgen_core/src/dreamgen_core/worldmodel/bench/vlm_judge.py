"""The `vlm` judge: a vision-language model through transformers, from a LOCAL directory (Qwen2.5-VL,
as the reference bench uses, or any image-text-to-text model whose processor has a chat template).

The sampled frames go in as images of one user turn, before the question; the answer is decoded
greedily (deterministic) and read as yes/no (`questions`). Nothing is downloaded: the directory must
hold the model's config, weights, tokenizer and processor files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dreamgen_core.config import ConfigError
from dreamgen_core.worldmodel.bench.asking import AskingJudge
from dreamgen_core.worldmodel.bench.judge import JudgeOptions

MAX_NEW_TOKENS = 8


class VlmJudge(AskingJudge):
    def __init__(self, options: JudgeOptions) -> None:
        super().__init__(options)
        if not options.model:
            raise ConfigError("--judge vlm", "--model", None, "required: a local model directory (e.g. Qwen2.5-VL-7B-Instruct)")
        path = Path(options.model)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"--model {path}: not a local transformers model directory (no config.json); "
                                    "download the model on a machine with internet access and pass its directory")
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.processor: Any = AutoProcessor.from_pretrained(path, local_files_only=True)
        auto: Any = AutoModelForImageTextToText  # its from_pretrained's type stub rejects a path
        dtype = torch.bfloat16 if options.device.startswith("cuda") else torch.float32
        self.model: Any = auto.from_pretrained(path, local_files_only=True, dtype=dtype)
        self.model.to(options.device).eval()

    def ask(self, frames: np.ndarray, text: str) -> str:
        import torch
        from PIL import Image

        content: list[dict] = [{"type": "image", "image": Image.fromarray(frame)} for frame in frames]
        content.append({"type": "text", "text": text})
        inputs = self.processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                                    tokenize=True, return_dict=True, return_tensors="pt")
        inputs = inputs.to(self.options.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
        answer = out[0, inputs["input_ids"].shape[1]:]
        return str(self.processor.decode(answer, skip_special_tokens=True))
