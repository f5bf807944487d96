"""IDM vision encoders (`config.ENCODERS`): images float [B, 3, H, W] in [0, 1] → tokens [B, N, F].

Each class has an `Options` dataclass (config `encoder_options`), takes (options, image_hw,
path) and exposes `num_tokens` (N) and `out_dim` (F). Both frames of a pair go through the same
encoder in one batch.
"""
