"""The `openai` judge: an OpenAI-compatible chat-completions endpoint (a hosted model, or a local
vLLM / llama.cpp / SGLang server) shown JPEG frames and asked yes/no, over plain HTTP (urllib).

The key is read from the environment variable `api_key_env` (default OPENAI_API_KEY) and sent as a
bearer token; a local server that wants none works without it. Every failure — unreachable host,
HTTP error status, timeout, a reply that is not a chat completion — is an error naming the URL.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request

import cv2
import numpy as np

from dreamgen_core.config import ConfigError
from dreamgen_core.worldmodel.bench.asking import AskingJudge
from dreamgen_core.worldmodel.bench.judge import JudgeOptions
from dreamgen_core.worldmodel.errors import WorldModelError

JPEG_QUALITY = 90
MAX_TOKENS = 16
_SHOWN_BODY = 300


class OpenAIJudge(AskingJudge):
    def __init__(self, options: JudgeOptions) -> None:
        super().__init__(options)
        if not options.base_url:
            raise ConfigError("--judge openai", "--base-url", None, "required: the endpoint, e.g. http://127.0.0.1:8000/v1")
        if not options.model:
            raise ConfigError("--judge openai", "--model", None, "required: the model name the endpoint serves")
        self.url = options.base_url.rstrip("/") + "/chat/completions"
        self.key = os.environ.get(options.api_key_env, "")

    def ask(self, frames: np.ndarray, text: str) -> str:
        content: list[dict] = [{"type": "text", "text": text}]
        content += [{"type": "image_url", "image_url": {"url": _jpeg_data_url(frame)}} for frame in frames]
        body = {"model": self.options.model, "messages": [{"role": "user", "content": content}],
                "max_tokens": MAX_TOKENS, "temperature": 0}
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.options.timeout_s) as response:
                reply = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:_SHOWN_BODY].decode("utf-8", "replace")
            raise WorldModelError(f"{self.url}: HTTP {exc.code} {exc.reason}: {detail}") from None
        except TimeoutError:
            raise WorldModelError(f"{self.url}: no reply within {self.options.timeout_s:g} s (--timeout)") from None
        except urllib.error.URLError as exc:
            raise WorldModelError(f"{self.url}: cannot reach the endpoint: {exc.reason}") from None
        return _content(self.url, reply)


def _jpeg_data_url(frame: np.ndarray) -> str:
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise WorldModelError(f"could not JPEG-encode a {frame.shape} frame")
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode("ascii")


def _content(url: str, reply: bytes) -> str:
    try:
        content = json.loads(reply)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise WorldModelError(f"{url}: not a chat completion: {reply[:_SHOWN_BODY]!r}") from None
    if not isinstance(content, str):
        raise WorldModelError(f"{url}: the completion's content is {type(content).__name__}, not text")
    return content
