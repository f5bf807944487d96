"""Instruction → a float32 vector the policy conditions on; embedded once per episode at run time.

    encoder = load_text_encoder(TextEncoderSpec("hashed", dim=128))
    vector = encoder.embed("Use the right hand to push the red cube ...")   # float32 [128]

"hashed" needs no weights: each word and word pair of the normalised instruction is hashed (blake2b)
into a seed for a fixed Gaussian vector; the embedding is their mean, unit length. It is the same on
every machine and Python version (no `hash()` salt), so a checkpoint trained here embeds the same
on the robot. It tells apart instructions that differ in any word, which is what a task family of
"push the <colour> cube onto the <colour> target" needs; it knows no synonyms.

"hf" (`text_hf.py`) mean-pools a local transformers model's last hidden state (a local path only:
nothing is downloaded).

Dream datasets carry tasks as "<DREAM> " + instruction; `instruction_of` strips the prefix before
embedding, because on the robot the policy is only ever told the plain instruction: a dream sample
embedded with the prefix would teach the policy a task it is never asked for, instead of more
examples of the real one.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from typing import Protocol

import numpy as np

from dreamgen_core.policy.config import TextEncoderSpec
from dreamgen_core.registry import Registry

DREAM_PREFIX = "<DREAM>"

TEXT_ENCODERS = Registry("policy text encoder", {
    "hashed": "dreamgen_core.policy.text:HashedTextEncoder",
    "hf": "dreamgen_core.policy.text_hf:HfTextEncoder",
})


class TextEncoder(Protocol):
    dim: int

    def embed(self, instruction: str) -> np.ndarray: ...


def is_dream_task(task: str) -> bool:
    return task.lstrip().startswith(DREAM_PREFIX)


def instruction_of(task: str) -> str:
    """The instruction a policy is given for a dataset task: a dream's "<DREAM> " prefix removed."""
    text = task.strip()
    return text[len(DREAM_PREFIX):].strip() if text.startswith(DREAM_PREFIX) else text


class HashedTextEncoder:
    """Mean of fixed random vectors of the words and word pairs (see the module doc); unit length."""

    def __init__(self, spec: TextEncoderSpec) -> None:
        self.dim = spec.dim

    def _vector(self, token: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def embed(self, instruction: str) -> np.ndarray:
        words = re.findall(r"[a-z0-9]+", instruction_of(instruction).lower())
        tokens = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        if not tokens:
            return np.zeros(self.dim, dtype=np.float32)
        total = np.sum([self._vector(t) for t in tokens], axis=0)
        return (total / np.linalg.norm(total)).astype(np.float32)


def load_text_encoder(spec: TextEncoderSpec, source: str = "<config>") -> TextEncoder:
    """The encoder `spec` names (imported now: "hf" brings in transformers)."""
    encoder: TextEncoder = TEXT_ENCODERS.load(spec.name, source, "text.name")(spec)
    return encoder
