"""CogVideoX image-to-video (`cogvideox-i2v`, diffusers' CogVideoXImageToVideoPipeline).

CogVideoX is a v-prediction model on a DDPM noise schedule (zero terminal SNR, sampled with its
DDIM or DPM scheduler): x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε at an integer timestep t, target
v = √ᾱ_t·ε − √(1 − ᾱ_t)·x0 (the scheduler's own `add_noise` and `get_velocity`). The image
condition is the pipeline's: the first frame VAE-encoded alone, scaled by the VAE's scaling factor,
zero latents after it, concatenated to the noisy latents on the channel axis (latents are laid out
(B, F, C, H, W) as the pipeline lays them). Training uses the posterior mean of the VAE where the
pipeline samples the first frame's latent (a cached, deterministic encoding); the difference is
the VAE's tiny posterior spread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from dreamgen_core.config import ConfigError
from dreamgen_core.worldmodel.backend import Clip, Objective
from dreamgen_core.worldmodel.backends.byte_tokenizer import TokenizerStyle, byte_tokenizer
from dreamgen_core.worldmodel.backends.diffusers_base import DiffusersBackend, unbatched


class CogVideoXI2V(DiffusersBackend):
    """CogVideoX-5b-I2V (and 1.5) in diffusers format."""

    objective = Objective.V_PREDICTION
    pipeline_class = "CogVideoXImageToVideoPipeline"
    lora_saver = "CogVideoXImageToVideoPipeline"
    default_lora_targets = ("to_q", "to_k", "to_v", "to_out.0")
    encoders = ("vae", "text_encoder", "tokenizer")

    def _build_tiny(self) -> Any:
        from diffusers import (
            AutoencoderKLCogVideoX,
            CogVideoXDDIMScheduler,
            CogVideoXImageToVideoPipeline,
            CogVideoXTransformer3DModel,
        )
        from transformers import T5Config, T5EncoderModel

        tokenizer = byte_tokenizer(TokenizerStyle.T5)
        config = self.construct(T5Config, "text_encoder", vocab_size=len(tokenizer), pad_token_id=0,
                                eos_token_id=1, decoder_start_token_id=0)
        vae = self.construct(AutoencoderKLCogVideoX, "vae")
        v, spatial = self.recipe.video, 2 ** (len(vae.config.block_out_channels) - 1)
        # twice the latent channels in: noisy latents + the image latents; sample size = the recipe's
        # geometry, which learned positional embeddings (CogVideoX 5B I2V) are tied to
        transformer = self.construct(
            CogVideoXTransformer3DModel, "transformer", in_channels=2 * vae.config.latent_channels,
            out_channels=vae.config.latent_channels, text_embed_dim=config.d_model,
            temporal_compression_ratio=vae.config.temporal_compression_ratio, sample_height=v.height // spatial,
            sample_width=v.width // spatial, sample_frames=v.num_frames)
        scheduler = self.construct(CogVideoXDDIMScheduler, "scheduler")
        return CogVideoXImageToVideoPipeline(tokenizer=tokenizer, text_encoder=T5EncoderModel(config), vae=vae,
                                             transformer=transformer, scheduler=scheduler)

    def check_geometry(self) -> None:
        super().check_geometry()
        config, v = self.pipe.transformer.config, self.recipe.video
        spatial = self.pipe.vae_scale_factor_spatial
        if config.use_learned_positional_embeddings and (v.height // spatial, v.width // spatial) != (
                config.sample_height, config.sample_width):
            raise ConfigError(self.recipe.source, "video", f"{v.height}x{v.width}",
                              "this CogVideoX has learned positional embeddings for "
                              f"{config.sample_height * spatial}x{config.sample_width * spatial} only")

    def _text_tokens(self) -> int:
        return int(self.pipe.transformer.config.max_text_seq_length)

    def _scaled_latents(self, video: torch.Tensor) -> torch.Tensor:
        """VAE posterior mean · scaling factor, as (B, F, C, H, W)."""
        vae = self.pipe.vae
        latents = vae.encode(video).latent_dist.mode()
        scale = vae.config.scaling_factor
        # CogVideoX 1.5's VAE divides instead (`invert_scale_latents`), exactly as the pipeline does
        latents = latents / scale if vae.config.invert_scale_latents else latents * scale
        return latents.permute(0, 2, 1, 3, 4)

    def encode(self, clip: Clip) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            video = self.pixels(clip.frames)
            latents = self._scaled_latents(video)
            first = self._scaled_latents(video[:, :, :1])
            image_latents = torch.cat([first, first.new_zeros(first.shape[0], latents.shape[1] - 1,
                                                              *first.shape[2:])], dim=1)
            prompt_embeds, _ = self.pipe.encode_prompt(clip.caption, do_classifier_free_guidance=False,
                                                       max_sequence_length=self._text_tokens(), device=self.device)
        return unbatched(latents=latents, image_latents=image_latents, prompt_embeds=prompt_embeds)

    def loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        scheduler, transformer = self.pipe.scheduler, self.pipe.transformer
        x0 = batch["latents"].to(self.device)
        steps = torch.randint(0, scheduler.config.num_train_timesteps, (x0.shape[0],), generator=generator,
                              device=generator.device).to(self.device)
        noise = torch.randn(x0.shape, generator=generator, device=generator.device).to(x0)
        noisy = scheduler.add_noise(x0, noise, steps)
        v = self.recipe.video
        rotary = (self.pipe._prepare_rotary_positional_embeddings(v.height, v.width, x0.shape[1], self.device)
                  if transformer.config.use_rotary_positional_embeddings else None)
        ofs = None if transformer.config.ofs_embed_dim is None else x0.new_full((1,), 2.0)  # as the pipeline
        with self.autocast():
            prediction = transformer(
                hidden_states=torch.cat([noisy, batch["image_latents"].to(x0)], dim=2),
                encoder_hidden_states=batch["prompt_embeds"].to(self.device), timestep=steps, ofs=ofs,
                image_rotary_emb=rotary, return_dict=False)[0]
        return F.mse_loss(prediction.float(), scheduler.get_velocity(x0, noise, steps).float())

    def pipeline_call(self, pipe: Any, image: np.ndarray, prompt: str, negative_prompt: str, steps: int,
                      guidance: float) -> dict[str, Any]:
        v = self.recipe.video
        return {"image": Image.fromarray(image), "prompt": prompt, "negative_prompt": negative_prompt,
                "height": v.height, "width": v.width, "num_frames": v.num_frames, "num_inference_steps": steps,
                "guidance_scale": guidance, "max_sequence_length": int(pipe.transformer.config.max_text_seq_length)}
