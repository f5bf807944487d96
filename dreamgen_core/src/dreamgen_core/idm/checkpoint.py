"""An IDM checkpoint directory and the predictor loaded from it.

    CKPT/model.safetensors   every weight of `IdmNet`
    CKPT/idm.yaml            format, config, embodiment + content hash, layout (action names in order),
                             model-view video key, action stats, training datasets (path + fingerprint),
                             weights sha256, dreamgen version

`load_idm(CKPT)` checks all of it and names the file and the problem: a layout or embodiment that
is not the one installed, stats of the wrong width, weights whose names or shapes do not match the
config, a weights file that is not the one trained. `Idm.predict` maps two frames to a chunk of H
actions in joint units, via the one preprocessing function (`view.prepare_frames`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from safetensors.torch import load_file, save

from dreamgen_core import __version__
from dreamgen_core.atomic import write_bytes_atomic, write_text_atomic
from dreamgen_core.config import ConfigError
from dreamgen_core.embodiment import Embodiment, load_embodiment
from dreamgen_core.embodiment.spec import Camera
from dreamgen_core.idm.config import IdmConfig, config_from_dict
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.idm.model import IdmNet, image_tensor
from dreamgen_core.idm.samples import pair_indices
from dreamgen_core.idm.stats import ActionStats
from dreamgen_core.idm.view import MODEL_VIEW, FrameView, model_camera, prepare_frames
from dreamgen_core.training.hashing import file_sha256, verified_sha256

__all__ = ["IDM_YAML", "WEIGHTS", "Idm", "load_idm", "pair_indices", "save_idm"]

FORMAT = "dreamgen.idm/1"
WEIGHTS = "model.safetensors"
IDM_YAML = "idm.yaml"


@dataclass(frozen=True)
class TrainedOn:
    """A dataset the IDM was trained on, for provenance and for refusing to resume on other data."""

    path: str
    fingerprint: str
    episodes: int
    frames: int


def save_idm(out: Path, net: IdmNet, config: IdmConfig, spec: Embodiment, video_key: str, stats: ActionStats,
             datasets: list[TrainedOn], steps: int) -> str:
    """Write CKPT/model.safetensors then CKPT/idm.yaml (atomically each; the yaml last, naming the
    weights' sha256); returns that sha256."""
    weights = save({n: t.detach().cpu().contiguous() for n, t in net.state_dict().items()})
    write_bytes_atomic(out / WEIGHTS, weights)
    digest = file_sha256(out / WEIGHTS)
    data = {"format": FORMAT, "embodiment": spec.name, "embodiment_hash": spec.content_hash,
            "layout": list(spec.joint_names), "video_key": video_key, "config": config.to_dict(),
            "stats": stats.to_dict(), "training": {"steps": steps, "datasets": [vars(d) for d in datasets]},
            "weights_sha256": digest, "dreamgen_version": __version__}
    write_text_atomic(out / IDM_YAML, yaml.safe_dump(data, sort_keys=False))
    return digest


class Idm:
    """A trained IDM, ready to predict (see the module doc); build it with `load_idm`."""

    def __init__(self, path: Path, config: IdmConfig, spec: Embodiment, camera: Camera, video_key: str,
                 stats: ActionStats, net: IdmNet, content_hash: str, training: dict[str, Any], device: str) -> None:
        self.path, self.config, self.stats, self.net = path, config, stats, net
        self.embodiment, self.embodiment_hash = spec.name, spec.content_hash
        self.layout: tuple[str, ...] = spec.joint_names
        self.camera, self.video_key, self.content_hash = camera, video_key, content_hash
        self.training, self.device = training, torch.device(device)

    def predict(self, first: np.ndarray, second: np.ndarray, seed: int = 0, view: FrameView = MODEL_VIEW) -> np.ndarray:
        """Frames t and t+k, uint8 [B, h, w, 3] showing `view` → float32 [B, horizon, D] in joint units."""
        if len(first) != len(second):
            raise IdmError(f"predict: {len(first)} first frames but {len(second)} second frames")
        a = image_tensor(prepare_frames(first, view, self.camera, self.config.image_hw), self.device)
        b = image_tensor(prepare_frames(second, view, self.camera, self.config.image_hw), self.device)
        noise = torch.Generator(device=self.device).manual_seed(int(seed))
        active = self.net.sample(a, b, noise).float().cpu().numpy()
        chunks = np.zeros((*active.shape[:2], self.stats.dim), dtype=np.float32)
        chunks[..., self.stats.active] = active
        return self.stats.denormalize(chunks)

    def predict_episode(self, frames: np.ndarray, seed: int = 0, view: FrameView = MODEL_VIEW,
                        batch: int = 64) -> np.ndarray:
        """A chunk at every frame t of a video [T, h, w, 3] from (t, min(t+k, T−1)) → [T, horizon, D];
        batch b (frames b·batch …) uses seed + b·batch, so the result does not depend on who runs which batch."""
        first, second = pair_indices(len(frames), self.config.k)
        return np.concatenate([self.predict(frames[first[s:s + batch]], frames[second[s:s + batch]], seed + s, view)
                               for s in range(0, len(frames), batch)])


def load_idm(path: Path, device: str = "cpu") -> Idm:
    """The IDM in checkpoint directory `path`; IdmError naming the file on any problem."""
    path = Path(path)
    meta_file, weights_file = path / IDM_YAML, path / WEIGHTS
    for file in (meta_file, weights_file):
        if not file.is_file():
            raise IdmError(f"{file}: missing; {path} is not an IDM checkpoint (`dreamgen idm train` writes one)")
    try:
        meta = yaml.safe_load(meta_file.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise IdmError(f"{meta_file}: format {meta.get('format') if isinstance(meta, dict) else meta!r}: "
                           f"expected {FORMAT}")
        config = config_from_dict(meta["config"], str(meta_file))
        spec = load_embodiment(meta["embodiment"])
        layout, video_key, training, recorded = meta["layout"], meta["video_key"], meta["training"], meta["weights_sha256"]
        stats = ActionStats.from_dict(meta["stats"], str(meta_file), spec.dim)
    except yaml.YAMLError as exc:
        raise IdmError(f"{meta_file}: invalid YAML: {exc}") from None
    except KeyError as exc:
        raise IdmError(f"{meta_file}: missing key {exc}") from None
    except ConfigError as exc:
        raise IdmError(f"{meta_file}: config: {exc}") from None
    if meta["embodiment_hash"] != spec.content_hash or list(layout) != list(spec.joint_names):
        raise IdmError(f"{meta_file}: trained for embodiment {spec.name} with hash {str(meta['embodiment_hash'])[:16]} "
                       f"and its layout; the installed {spec.name} spec has hash {spec.content_hash[:16]}"
                       f"{'' if list(layout) == list(spec.joint_names) else ' and another joint layout'}: retrain the IDM")
    content_hash = verified_sha256(weights_file, str(recorded), IDM_YAML, IdmError)
    net = IdmNet(config, int(stats.active.sum()))
    _load_weights(net, weights_file)
    net.to(device).eval()
    return Idm(path, config, spec, model_camera(spec, video_key), video_key, stats, net, content_hash, training, device)


def _load_weights(net: IdmNet, weights_file: Path) -> None:
    saved = load_file(weights_file)
    expected = net.state_dict()
    missing, unexpected = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
    shapes = [f"{n} {list(saved[n].shape)} (config makes {list(expected[n].shape)})"
              for n in sorted(set(saved) & set(expected)) if saved[n].shape != expected[n].shape]
    if missing or unexpected or shapes:
        parts = [f"{label}: {', '.join(items[:5])}{' …' if len(items) > 5 else ''}"
                 for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)) if items]
        raise IdmError(f"{weights_file}: does not match the config in {IDM_YAML}: {'; '.join(parts)}")
    net.load_state_dict(saved)
