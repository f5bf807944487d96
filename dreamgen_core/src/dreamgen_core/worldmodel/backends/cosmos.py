"""NVIDIA Cosmos backends: `cosmos-predict2.5` (Cosmos2_5_PredictBasePipeline) and `cosmos-predict2`
(Cosmos2VideoToWorldPipeline, the model GR00T-Dreams post-trains).

Objective: both samplers are flow matching underneath. Predict2.5 feeds the transformer
x_t = (1 − t)·x0 + t·ε at timestep t and integrates its velocity; Predict2 is written in EDM form
(x_σ = x0 + σ·ε, input scaled by c_in = 1 − t with t = σ / (1 + σ), denoised = c_skip·x_σ + c_out·F),
which works out to the same input (1 − t)·x0 + t·ε and the same target F = ε − x0. So both train
on velocity, with times drawn as the scheduler's shift spreads them. Conditioning as the pipelines
do it: the first latent frame is the clean encoded first frame, flagged by the `condition_mask`
channel and given a near-zero timestep (Predict2.5: 1e-4; Predict2: σ = 1e-4 → t = σ / (1 + σ));
the loss covers the other frames only.

Pipeline quirks handled here, with the reason:
- Safety checker: both constructors build `CosmosSafetyChecker` when given none, which needs the
  `cosmos_guardrail` package (and its guard models from the hub), and both refuse to run with
  `safety_checker=None`. The supported way to go without it is the one diffusers' own tests use: pass
  an object with the checker's methods. We pass `NoGuardrail` (it checks nothing) when
  `cosmos_guardrail` is not installed, and the real checker when it is. Running the models without
  the guardrail is the user's call under the NVIDIA Open Model License; a saved base records no checker.
- Predict2.5's `image=` path needs torchvision (not installable here beside CPU torch), so dreams pass
  the first frame as a one-frame `video=` tensor (`num_latent_conditional_frames=1`): the causal VAE's
  first latent frame depends on the first pixel frame only, so the condition is the same.
- The transformer's `concat_padding_mask` resizes the mask with torchvision: tiny models turn it off;
  real checkpoints (which have it on) need torchvision, present in any CUDA install.
- LoRA: Predict2's pipeline has no LoRA loader. Its LoRA is saved with Predict2.5's
  `save_lora_weights` (same transformer class, same diffusers format) and loaded with the stock
  `transformer.load_lora_adapter(state, prefix="transformer", metadata=...)`, tensors and metadata
  read by Predict2.5's `lora_state_dict` (given a file alone, `load_lora_adapter` drops the metadata).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image

from dreamgen_core.worldmodel.backend import Clip, Objective
from dreamgen_core.worldmodel.backends import lora_files
from dreamgen_core.worldmodel.backends.byte_tokenizer import TokenizerStyle, byte_tokenizer
from dreamgen_core.worldmodel.backends.diffusers_base import DiffusersBackend, unbatched
from dreamgen_core.worldmodel.backends.flow import interpolate, masked_mse, noise_like, sample_times, scheduler_shift

TEXT_TOKENS = 512  # both pipelines' prompt length


class NoGuardrail:
    """Stands in for `cosmos_guardrail.CosmosSafetyChecker` where that package is not installed: passes all."""

    def to(self, *args: Any, **kwargs: Any) -> NoGuardrail:
        return self

    def check_text_safety(self, prompt: str) -> bool:
        return True

    def check_video_safety(self, frames: np.ndarray) -> np.ndarray:
        return frames


def safety_checker() -> Any:
    from diffusers.utils import is_cosmos_guardrail_available

    if is_cosmos_guardrail_available():
        from cosmos_guardrail import CosmosSafetyChecker

        return CosmosSafetyChecker()
    return NoGuardrail()


class _Cosmos(DiffusersBackend):
    objective = Objective.FLOW_MATCHING
    lora_saver = "Cosmos2_5_PredictBasePipeline"
    default_lora_targets = ("to_q", "to_k", "to_v", "to_out.0")
    encoders = ("vae", "text_encoder", "tokenizer")
    condition_time: ClassVar[float]       # the transformer's timestep for the clean first latent frame
    passes_fps: ClassVar[bool]            # Predict2 gives the transformer the frame rate (RoPE), 2.5 does not

    def _load_kwargs(self) -> dict[str, Any]:
        return {"safety_checker": safety_checker()}

    def save_base(self, out: Path) -> None:
        checker = self.pipe.safety_checker
        self.pipe.register_modules(safety_checker=None)  # a stand-in object is no saveable component
        try:
            super().save_base(out)
        finally:
            self.pipe.register_modules(safety_checker=checker)

    def _tiny_parts(self, text_dim: int) -> tuple[Any, Any]:
        """(vae, transformer) of the tiny model; the transformer's text width is the encoder's output."""
        from diffusers import AutoencoderKLWan, CosmosTransformer3DModel

        z_dim = int(self.tiny_part("vae").get("z_dim", 16))
        vae = self.construct(AutoencoderKLWan, "vae", latents_mean=[0.0] * z_dim, latents_std=[1.0] * z_dim)
        # + 1 input channel: the condition mask; the padding mask needs torchvision (see the module doc)
        transformer = self.construct(CosmosTransformer3DModel, "transformer", in_channels=z_dim + 1,
                                     out_channels=z_dim, text_embed_dim=text_dim, concat_padding_mask=False)
        return vae, transformer

    def _scale(self, latents: torch.Tensor) -> torch.Tensor:
        vae = self.pipe.vae
        shape = (1, vae.config.z_dim, 1, 1, 1)
        mean = torch.tensor(vae.config.latents_mean).view(shape).to(latents)
        std = torch.tensor(vae.config.latents_std).view(shape).to(latents)
        return (latents - mean) / std * float(self.pipe.scheduler.config.get("sigma_data", 1.0))

    def encode(self, clip: Clip) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            latents = self._scale(self.pipe.vae.encode(self.pixels(clip.frames)).latent_dist.mode())
            prompt_embeds, _ = self.pipe.encode_prompt(clip.caption, do_classifier_free_guidance=False,
                                                       max_sequence_length=TEXT_TOKENS, device=self.device)
        return unbatched(latents=latents, prompt_embeds=prompt_embeds)

    def loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        x0 = batch["latents"].to(self.device)
        b, _, frames, height, width = x0.shape
        t = self._times(b, generator)
        noise = noise_like(x0, generator)
        first = torch.zeros(b, 1, frames, 1, 1, device=self.device)
        first[:, :, 0] = 1.0
        model_input = first * x0 + (1 - first) * interpolate(x0, noise, t)
        timestep = first * self.condition_time + (1 - first) * t.view(b, 1, 1, 1, 1)
        v = self.recipe.video
        extra = {"fps": v.fps} if self.passes_fps else {}
        with self.autocast():
            prediction = self.denoiser()(
                hidden_states=model_input, timestep=timestep, encoder_hidden_states=batch["prompt_embeds"].to(self.device),
                condition_mask=first.expand(b, 1, frames, height, width),
                padding_mask=x0.new_zeros(1, 1, v.height, v.width), return_dict=False, **extra)[0]
        return masked_mse(prediction, noise - x0, 1 - first)

    def _times(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        return sample_times(batch, scheduler_shift(self.pipe.scheduler.config), generator).to(self.device)


class CosmosPredict25(_Cosmos):
    """Cosmos-Predict2.5 (2B/14B base in diffusers format): Qwen2.5-VL text encoder, all layers' states."""

    pipeline_class = "Cosmos2_5_PredictBasePipeline"
    condition_time = 1e-4       # the pipeline's conditional_frame_timestep
    passes_fps = False

    def _build_tiny(self) -> Any:
        from diffusers import Cosmos2_5_PredictBasePipeline, UniPCMultistepScheduler
        from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

        tokenizer = byte_tokenizer(TokenizerStyle.QWEN_CHAT)
        text = self.tiny_part("text_encoder")
        vision = text.pop("vision_config", {})
        text_config = {**text, "vocab_size": len(tokenizer), "bos_token_id": None,
                       "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
        text_encoder = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(text_config=text_config,
                                                                           vision_config=vision))
        # the pipeline concatenates every layer's normalised hidden states: width = hidden_size · layers
        vae, transformer = self._tiny_parts(int(text["hidden_size"]) * int(text["num_hidden_layers"]))
        scheduler = self.construct(UniPCMultistepScheduler, "scheduler")
        return Cosmos2_5_PredictBasePipeline(text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer,
                                             vae=vae, scheduler=scheduler, safety_checker=safety_checker())

    def pipeline_call(self, pipe: Any, image: np.ndarray, prompt: str, negative_prompt: str, steps: int,
                      guidance: float) -> dict[str, Any]:
        v = self.recipe.video
        first = torch.from_numpy(image).permute(2, 0, 1)[None, :, None].float() / 127.5 - 1  # (1, 3, 1, H, W)
        return {"video": first, "num_latent_conditional_frames": 1, "prompt": prompt,
                "negative_prompt": negative_prompt, "height": v.height, "width": v.width,
                "num_frames": v.num_frames, "num_inference_steps": steps, "guidance_scale": guidance}


class CosmosPredict2(_Cosmos):
    """Cosmos-Predict2 Video2World (2B/14B in diffusers format): T5 text encoder, EDM-form sampler."""

    pipeline_class = "Cosmos2VideoToWorldPipeline"
    condition_time = 1e-4 / (1 + 1e-4)  # the pipeline's sigma_conditioning, as t = σ / (1 + σ)
    passes_fps = True

    def _build_tiny(self) -> Any:
        from diffusers import Cosmos2VideoToWorldPipeline, FlowMatchEulerDiscreteScheduler
        from transformers import T5Config, T5EncoderModel

        tokenizer = byte_tokenizer(TokenizerStyle.T5)
        config = self.construct(T5Config, "text_encoder", vocab_size=len(tokenizer), pad_token_id=0,
                                eos_token_id=1, decoder_start_token_id=0)
        vae, transformer = self._tiny_parts(config.d_model)
        scheduler = self.construct(FlowMatchEulerDiscreteScheduler, "scheduler")
        return Cosmos2VideoToWorldPipeline(text_encoder=T5EncoderModel(config), tokenizer=tokenizer,
                                           transformer=transformer, vae=vae, scheduler=scheduler,
                                           safety_checker=safety_checker())

    def _times(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        # the EDM sampler spans σ in [sigma_min, sigma_max]: keep t = σ / (1 + σ) inside it
        config = self.pipe.scheduler.config
        low, high = (s / (1 + s) for s in (config.get("sigma_min", 0.002), config.get("sigma_max", 80.0)))
        return super()._times(batch, generator).clamp(low, high)

    @classmethod
    def attach_lora(cls, pipe: Any, path: Path) -> int:
        def load(file: str, name: str) -> None:
            # `load_lora_adapter(file)` alone ignores the file's metadata (alpha would become the rank):
            # read tensors and metadata with Predict2.5's stock `lora_state_dict`, then hand both over
            from diffusers import Cosmos2_5_PredictBasePipeline

            state, metadata = Cosmos2_5_PredictBasePipeline.lora_state_dict(file, return_lora_metadata=True)
            pipe.transformer.load_lora_adapter(state, prefix="transformer", metadata=metadata, adapter_name=name)

        return lora_files.load_lora_checked(pipe.transformer, path, load)

    def pipeline_call(self, pipe: Any, image: np.ndarray, prompt: str, negative_prompt: str, steps: int,
                      guidance: float) -> dict[str, Any]:
        v = self.recipe.video
        return {"image": Image.fromarray(image), "prompt": prompt, "negative_prompt": negative_prompt,
                "height": v.height, "width": v.width, "num_frames": v.num_frames, "fps": v.fps,
                "num_inference_steps": steps, "guidance_scale": guidance}
