"""IDM action heads (`config.HEADS`): a condition vector [B, C] → a chunk of normalized actions [B, H, D].

Each class has an `Options` dataclass (config `head_options`), takes (options, cond_dim, horizon,
dim) and implements `loss(cond, actions, noise)` (training; all randomness from the generator
`noise`) and `sample(cond, noise)` (inference; deterministic given the generator's seed).
"""
