"""LTX-Video image-to-video (`ltx-i2v`, diffusers' LTXImageToVideoPipeline).

Flow matching on normalised VAE latents packed into tokens, conditioned as the pipeline conditions:
the first latent frame is the clean encoded first frame and its tokens get timestep 0 (the
pipeline's conditioning mask), every other token is x_t = (1 − t)·x0 + t·ε at timestep 1000·t;
the target is ε − x0 on the unconditioned tokens. Times are shifted the way the pipeline's
scheduler shifts them for the clip's token count (dynamic shifting: shift = e^mu), and RoPE gets
the pipeline's interpolation scale for the recipe's frame rate. The causal VAE's first latent frame
depends on the first pixel frame only, so it is the pipeline's image condition.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from PIL import Image

from dreamgen_core.worldmodel.backend import Clip, Objective
from dreamgen_core.worldmodel.backends.byte_tokenizer import TokenizerStyle, byte_tokenizer
from dreamgen_core.worldmodel.backends.diffusers_base import DiffusersBackend, unbatched
from dreamgen_core.worldmodel.backends.flow import interpolate, masked_mse, noise_like, sample_times, scheduler_shift

TEXT_TOKENS = 128  # the pipeline's default prompt length


class LTXI2V(DiffusersBackend):
    """LTX-Video (0.9.x image-to-video checkpoints in diffusers format)."""

    objective = Objective.FLOW_MATCHING
    pipeline_class = "LTXImageToVideoPipeline"
    lora_saver = "LTXImageToVideoPipeline"
    default_lora_targets = ("to_q", "to_k", "to_v", "to_out.0")
    encoders = ("vae", "text_encoder", "tokenizer")

    def _build_tiny(self) -> Any:
        from diffusers import (
            AutoencoderKLLTXVideo,
            FlowMatchEulerDiscreteScheduler,
            LTXImageToVideoPipeline,
            LTXVideoTransformer3DModel,
        )
        from transformers import T5Config, T5EncoderModel

        tokenizer = byte_tokenizer(TokenizerStyle.T5)
        config = self.construct(T5Config, "text_encoder", vocab_size=len(tokenizer), pad_token_id=0,
                                eos_token_id=1, decoder_start_token_id=0)
        vae = self.construct(AutoencoderKLLTXVideo, "vae")
        part = self.tiny_part("transformer")
        inner = int(part.get("num_attention_heads", 32)) * int(part.get("attention_head_dim", 64))
        transformer = self.construct(LTXVideoTransformer3DModel, "transformer", in_channels=vae.config.latent_channels,
                                     out_channels=vae.config.latent_channels, cross_attention_dim=inner,
                                     caption_channels=config.d_model)
        scheduler = self.construct(FlowMatchEulerDiscreteScheduler, "scheduler")
        return LTXImageToVideoPipeline(scheduler=scheduler, vae=vae, text_encoder=T5EncoderModel(config),
                                       tokenizer=tokenizer, transformer=transformer)

    def compression(self) -> tuple[int, int]:
        return self.pipe.vae_spatial_compression_ratio, self.pipe.vae_temporal_compression_ratio

    def encode(self, clip: Clip) -> dict[str, torch.Tensor]:
        pipe = self.pipe
        with torch.no_grad():
            raw = pipe.vae.encode(self.pixels(clip.frames)).latent_dist.mode()
            latents = pipe._normalize_latents(raw, pipe.vae.latents_mean, pipe.vae.latents_std)
            prompt_embeds, prompt_mask, _, _ = pipe.encode_prompt(
                clip.caption, do_classifier_free_guidance=False, max_sequence_length=TEXT_TOKENS, device=self.device)
        return unbatched(latents=latents, prompt_embeds=prompt_embeds, prompt_attention_mask=prompt_mask)

    def _shift(self, tokens: int) -> float:
        config = self.pipe.scheduler.config
        if not config.get("use_dynamic_shifting"):
            return scheduler_shift(config)
        from diffusers.pipelines.ltx.pipeline_ltx_image2video import calculate_shift

        return math.exp(calculate_shift(tokens, config.get("base_image_seq_len", 256), config.get("max_image_seq_len", 4096),
                                        config.get("base_shift", 0.5), config.get("max_shift", 1.15)))

    def loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        pipe = self.pipe
        x0 = batch["latents"].to(self.device)
        b, _, frames, height, width = x0.shape
        t = sample_times(b, self._shift(frames * height * width), generator).to(self.device)
        noise = noise_like(x0, generator)
        first = torch.zeros(b, 1, frames, height, width, device=self.device)
        first[:, :, 0] = 1.0
        noisy = first * x0 + (1 - first) * interpolate(x0, noise, t)
        p, p_t = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
        free = 1 - pipe._pack_latents(first, p, p_t).squeeze(-1)  # (B, tokens): 0 on the condition
        spatial, temporal = self.compression()
        with self.autocast():
            prediction = pipe.transformer(
                hidden_states=pipe._pack_latents(noisy, p, p_t), encoder_hidden_states=batch["prompt_embeds"].to(self.device),
                timestep=t[:, None] * pipe.scheduler.config.num_train_timesteps * free,
                encoder_attention_mask=batch["prompt_attention_mask"].to(self.device), num_frames=frames, height=height,
                width=width, rope_interpolation_scale=(temporal / self.recipe.video.fps, spatial, spatial),
                return_dict=False)[0]
        return masked_mse(prediction, pipe._pack_latents(noise - x0, p, p_t), free.unsqueeze(-1))

    def pipeline_call(self, pipe: Any, image: np.ndarray, prompt: str, negative_prompt: str, steps: int,
                      guidance: float) -> dict[str, Any]:
        v = self.recipe.video
        return {"image": Image.fromarray(image), "prompt": prompt, "negative_prompt": negative_prompt,
                "height": v.height, "width": v.width, "num_frames": v.num_frames, "frame_rate": v.fps,
                "num_inference_steps": steps, "guidance_scale": guidance, "max_sequence_length": TEXT_TOKENS}
