"""Pieces every training loop of dreamgen shares (world model, IDM, policy).

`seeds` (per-step batches and noise seeds that a resumed run redraws exactly), `checkpoints`
(atomic step checkpoints of parameters + optimiser, newest complete one resumed), `run_lock` (one
trainer per run directory), `devices` (the accelerate `Accelerator` for --device), `losslog`
(loss.csv + loss.png) and `hashing` (file and directory identities). Nothing here knows a model.
"""
