"""Wan image-to-video backends: `wan2.1-i2v` (the DreamGen paper's model) and `wan2.2-ti2v`.

Both use diffusers' `WanImageToVideoPipeline` and train with its flow-matching objective on
normalised VAE latents (x_t = (1 − t)·x0 + t·ε, target ε − x0, timestep 1000·t), conditioned the
way that pipeline conditions:
- Wan 2.1 I2V: the first frame followed by black frames, VAE-encoded, with a 4-channel first-frame
  mask in front (`prepare_latents`' own tensor), concatenated to the noisy latents on channels,
  plus CLIP image tokens through the transformer's image projection; every latent frame is noised.
- Wan 2.2 TI2V (`expand_timesteps=True`): the first latent frame is the clean encoded first frame
  at timestep 0, every other token at 1000·t (per-token timesteps); the loss skips that frame.

Prompts: the pipeline's own prompt cleaning needs `ftfy`, which is not installed here, so prompt
embeddings are computed as the pipeline computes them (UMT5 on 512 tokens, zero past the prompt)
without ftfy's mojibake repair, and passed in as `prompt_embeds`, for training and dreaming alike.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from dreamgen_core.worldmodel.backend import Clip, Objective
from dreamgen_core.worldmodel.backends.byte_tokenizer import TokenizerStyle, byte_tokenizer
from dreamgen_core.worldmodel.backends.diffusers_base import DiffusersBackend, unbatched
from dreamgen_core.worldmodel.backends.flow import interpolate, masked_mse, noise_like, sample_times, scheduler_shift
from dreamgen_core.worldmodel.errors import WorldModelError

TEXT_TOKENS = 512  # Wan's text length; its image cross-attention splits the context at this index


def wan_prompt_embeds(pipe: Any, prompts: list[str]) -> torch.Tensor:
    """The pipeline's `_get_t5_prompt_embeds` without ftfy: (B, 512, text_dim), zeros past each prompt."""
    cleaned = [re.sub(r"\s+", " ", html.unescape(html.unescape(p))).strip() for p in prompts]
    tokens = pipe.tokenizer(cleaned, padding="max_length", max_length=TEXT_TOKENS, truncation=True,
                            add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    device = pipe.text_encoder.device
    with torch.no_grad():
        hidden = pipe.text_encoder(tokens.input_ids.to(device), tokens.attention_mask.to(device)).last_hidden_state
    keep = tokens.attention_mask.to(device).unsqueeze(-1).to(hidden.dtype)
    return hidden * keep  # the pipeline cuts each prompt at its length and pads with zeros: the same


def normalise(vae: Any, latents: torch.Tensor) -> torch.Tensor:
    """(x − latents_mean) / latents_std, as the pipeline scales its latents."""
    shape = (1, vae.config.z_dim, 1, 1, 1)
    mean = torch.tensor(vae.config.latents_mean).view(shape).to(latents)
    std = torch.tensor(vae.config.latents_std).view(shape).to(latents)
    return (latents - mean) / std


class _Wan(DiffusersBackend):
    objective = Objective.FLOW_MATCHING
    pipeline_class = "WanImageToVideoPipeline"
    lora_saver = "WanImageToVideoPipeline"
    default_lora_targets: ClassVar[tuple[str, ...]] = ("to_q", "to_k", "to_v", "to_out.0")
    expand_timesteps: ClassVar[bool]

    def _build_tiny(self) -> Any:
        from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline
        from transformers import UMT5Config, UMT5EncoderModel

        tokenizer = byte_tokenizer(TokenizerStyle.T5)
        config = self.construct(UMT5Config, "text_encoder", vocab_size=len(tokenizer), pad_token_id=0,
                                eos_token_id=1, decoder_start_token_id=0)
        text_encoder = UMT5EncoderModel(config)
        z_dim = int(self.tiny_part("vae").get("z_dim", 16))
        vae = self.construct(AutoencoderKLWan, "vae", latents_mean=[0.0] * z_dim, latents_std=[1.0] * z_dim)
        image_encoder, image_processor, image_dim = self._tiny_image_encoder()
        temporal = 2 ** sum(vae.config.temperal_downsample)
        transformer = self._tiny_transformer(z_dim, temporal, config.d_model, image_dim)
        scheduler = self.construct(FlowMatchEulerDiscreteScheduler, "scheduler")
        return WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler,
                                       image_processor=image_processor, image_encoder=image_encoder,
                                       transformer=transformer, expand_timesteps=self.expand_timesteps)

    def check_base(self, base: Path, model_index: dict[str, Any]) -> None:
        super().check_base(base, model_index)
        if bool(model_index.get("expand_timesteps", False)) != self.expand_timesteps:
            raise WorldModelError(f"base model {base} has expand_timesteps={model_index.get('expand_timesteps', False)} "
                                  f"(model_index.json): a {'Wan 2.2 TI2V' if not self.expand_timesteps else 'Wan 2.1 I2V'} "
                                  f"base does not fit backend {self.recipe.backend}")

    def _tiny_image_encoder(self) -> tuple[Any, Any, int | None]:
        return None, None, None

    def _tiny_transformer(self, z_dim: int, temporal: int, text_dim: int, image_dim: int | None) -> Any:
        from diffusers import WanTransformer3DModel

        return self.construct(WanTransformer3DModel, "transformer", in_channels=z_dim, out_channels=z_dim,
                              text_dim=text_dim)

    def _latents(self, clip: Clip) -> tuple[torch.Tensor, torch.Tensor]:
        """(video in [-1, 1], its normalised VAE latents (posterior mean))."""
        video = self.pixels(clip.frames)
        return video, normalise(self.pipe.vae, self.pipe.vae.encode(video).latent_dist.mode())

    def _condition(self, video: torch.Tensor, latents: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The pipeline's own `prepare_latents` conditioning for the clip's first frame (its noise unused)."""
        v = self.recipe.video
        return self.pipe.prepare_latents(video[:, :, 0], 1, self.pipe.vae.config.z_dim, v.height, v.width,
                                         v.num_frames, torch.float32, self.device, None, torch.zeros_like(latents))

    def pipeline_call(self, pipe: Any, image: np.ndarray, prompt: str, negative_prompt: str, steps: int,
                      guidance: float) -> dict[str, Any]:
        v = self.recipe.video
        return {"image": Image.fromarray(image), "prompt_embeds": wan_prompt_embeds(pipe, [prompt]),
                "negative_prompt_embeds": wan_prompt_embeds(pipe, [negative_prompt]) if guidance > 1 else None,
                "height": v.height, "width": v.width, "num_frames": v.num_frames,
                "num_inference_steps": steps, "guidance_scale": guidance}

    def _noised(self, batch: dict[str, torch.Tensor], generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x0, x_t, target ε − x0, timestep 1000·t per sample)."""
        x0 = batch["latents"].to(self.device)
        t = sample_times(x0.shape[0], scheduler_shift(self.pipe.scheduler.config), generator).to(self.device)
        noise = noise_like(x0, generator)
        return x0, interpolate(x0, noise, t), noise - x0, t * self.pipe.scheduler.config.num_train_timesteps


class Wan21I2V(_Wan):
    """Wan 2.1 image-to-video (14B 480p/720p in diffusers format), the DreamGen paper's world model."""

    expand_timesteps = False
    # Wan 2.1 I2V's image cross-attention has its own key/value projections: adapt them too (the stock
    # loader would otherwise add zero LoRAs for them).
    default_lora_targets = ("to_q", "to_k", "to_v", "to_out.0", "add_k_proj", "add_v_proj")
    encoders = ("vae", "text_encoder", "tokenizer", "image_encoder", "image_processor")

    def _tiny_image_encoder(self) -> tuple[Any, Any, int | None]:
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

        encoder = CLIPVisionModel(self.construct(CLIPVisionConfig, "image_encoder"))
        size = encoder.config.image_size
        return encoder, CLIPImageProcessor(crop_size=size, size=size), encoder.config.hidden_size

    def _tiny_transformer(self, z_dim: int, temporal: int, text_dim: int, image_dim: int | None) -> Any:
        from diffusers import WanTransformer3DModel

        part = self.tiny_part("transformer")
        inner = int(part.get("num_attention_heads", 40)) * int(part.get("attention_head_dim", 128))
        # noisy latents + `temporal` mask channels + the encoded first-frame condition
        return self.construct(WanTransformer3DModel, "transformer", in_channels=2 * z_dim + temporal,
                              out_channels=z_dim, text_dim=text_dim, image_dim=image_dim, added_kv_proj_dim=inner)

    def encode(self, clip: Clip) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            video, latents = self._latents(clip)
            _, condition = self._condition(video, latents)
            image_embeds = self.pipe.encode_image(Image.fromarray(clip.frames[0]), self.device)
            prompt_embeds = wan_prompt_embeds(self.pipe, [clip.caption])
        return unbatched(latents=latents, condition=condition, image_embeds=image_embeds, prompt_embeds=prompt_embeds)

    def loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        _, xt, target, timestep = self._noised(batch, generator)
        with self.autocast():
            prediction = self.denoiser()(
                hidden_states=torch.cat([xt, batch["condition"].to(xt)], dim=1), timestep=timestep,
                encoder_hidden_states=batch["prompt_embeds"].to(self.device),
                encoder_hidden_states_image=batch["image_embeds"].to(self.device), return_dict=False)[0]
        return F.mse_loss(prediction.float(), target.float())


class Wan22TI2V(_Wan):
    """Wan 2.2 TI2V-5B style: the pipeline with `expand_timesteps=True`, no image encoder."""

    expand_timesteps = True
    encoders = ("vae", "text_encoder", "tokenizer")

    def encode(self, clip: Clip) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            video, latents = self._latents(clip)
            _, condition, _ = self._condition(video, latents)
            prompt_embeds = wan_prompt_embeds(self.pipe, [clip.caption])
        return unbatched(latents=latents, condition=condition, prompt_embeds=prompt_embeds)

    def loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        x0, xt, target, timestep = self._noised(batch, generator)
        mask = torch.ones_like(x0[:1, :1])
        mask[:, :, 0] = 0  # the first latent frame is the clean condition, as in the pipeline
        model_input = (1 - mask) * batch["condition"].to(xt) + mask * xt
        p_t, p_h, p_w = self.pipe.transformer.config.patch_size
        per_token = mask[0, 0, ::p_t, ::p_h, ::p_w].flatten()
        with self.autocast():
            prediction = self.denoiser()(
                hidden_states=model_input, timestep=per_token[None] * timestep[:, None],
                encoder_hidden_states=batch["prompt_embeds"].to(self.device), return_dict=False)[0]
        return masked_mse(prediction, target, mask)

