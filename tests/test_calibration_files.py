"""Calibration files: the shipped ones load, bad ones fail naming file and key, and the hash that
episodes carry follows the files' content (not the README)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from dreamgen_core.calibration.camera_info import load_camera_info, pinhole_from_fovy, write_camera_info
from dreamgen_core.calibration.hashing import calibration_files, calibration_hash
from dreamgen_core.calibration.robot import load_camera_extrinsics, load_joint_offsets
from dreamgen_core.config import ConfigError
from dreamgen_core.embodiment import load_embodiment

REPO = Path(__file__).resolve().parents[1]
CALIBRATION = REPO / "calibration"
EXTRINSICS = CALIBRATION / "gr1_head_camera_extrinsics.yaml"
OFFSETS = CALIBRATION / "gr1_joint_offsets.yaml"
SPEC = load_embodiment("gr1")


def edited(source: Path, tmp_path: Path, **changes: object) -> Path:
    """A copy of `source` with top-level keys replaced (None deletes the key)."""
    data = yaml.safe_load(source.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path = tmp_path / source.name
    path.write_text(yaml.safe_dump(data))
    return path


def test_shipped_extrinsics_load() -> None:
    ext = load_camera_extrinsics(EXTRINSICS, SPEC)
    assert (ext.camera, ext.parent_link, ext.status) == ("ego_view", "head_yaw_link", "nominal")
    assert len(ext.translation_xyz_m) == 3 and np.linalg.norm(ext.rotation_xyzw) == pytest.approx(1.0)


def test_shipped_joint_offsets_cover_the_embodiment() -> None:
    offsets = load_joint_offsets(OFFSETS, SPEC)
    assert list(offsets.offsets_rad) == list(SPEC.joint_names)
    assert offsets.offset("left_elbow_pitch_joint") == 0.0


def test_joint_offsets_listed_joints_only(tmp_path: Path) -> None:
    path = edited(OFFSETS, tmp_path, offsets_rad={"left_elbow_pitch_joint": 0.012})
    offsets = load_joint_offsets(path, SPEC)
    assert offsets.offset("left_elbow_pitch_joint") == 0.012 and offsets.offset("head_yaw_joint") == 0.0


@pytest.mark.parametrize("changes, message", [
    ({"camera": "wrist"}, "gr1_head_camera_extrinsics.yaml: camera: 'wrist': embodiment 'gr1' has cameras"),
    ({"parent_link": "head_link"}, "parent_link: 'head_link': no such link in the URDF of embodiment 'gr1'"),
    ({"translation_xyz_m": [0.1, 0.2]}, "translation_xyz_m: [0.1, 0.2]: must be 3 finite numbers"),
    ({"rotation_xyzw": [0, 0, 0, 2]}, "rotation_xyzw: [0.0, 0.0, 0.0, 2.0]: must be a unit quaternion (norm 2.0000)"),
    ({"rotation_xyzw": "identity"}, "rotation_xyzw: 'identity': must be a list"),
    ({"status": "guessed"}, "status: 'guessed': must be one of ['nominal', 'measured']"),
    ({"method": None}, "method: None: missing required key"),
    ({"frame": "optical"}, "frame: 'optical': unknown key"),
])
def test_bad_extrinsics_name_file_and_key(changes: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_camera_extrinsics(edited(EXTRINSICS, tmp_path, **changes), SPEC)
    assert message in str(err.value) and str(err.value).startswith("gr1_head_camera_extrinsics.yaml: ")


@pytest.mark.parametrize("changes, message", [
    ({"offsets_rad": {"left_elbow_pitch_joint": 0.0, "left_elbow_joint": 0.01}},
     "gr1_joint_offsets.yaml: offsets_rad.left_elbow_joint: 0.01: no joint 'left_elbow_joint' in embodiment 'gr1'"),
    ({"offsets_rad": {"head_yaw_joint": "small"}}, "offsets_rad.head_yaw_joint: 'small': must be float"),
    ({"offsets_rad": {"head_yaw_joint": float("nan")}}, "offsets_rad.head_yaw_joint: nan: must be a finite number"),
    ({"embodiment": "ur5e_2f85"}, "embodiment: 'ur5e_2f85': offsets are for another robot than 'gr1'"),
])
def test_bad_joint_offsets_name_file_and_key(changes: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^gr1_joint_offsets.yaml: ") as err:
        load_joint_offsets(edited(OFFSETS, tmp_path, **changes), SPEC)
    assert message in str(err.value)


def test_not_a_mapping_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "gr1_joint_offsets.yaml"
    path.write_text("- 0.0\n")
    with pytest.raises(ConfigError, match="gr1_joint_offsets.yaml: <root>: .*must be a YAML mapping"):
        load_joint_offsets(path, SPEC)


def test_camera_info_round_trips(tmp_path: Path) -> None:
    info = pinhole_from_fovy(640, 400, 45.0, "ego_view")
    write_camera_info(tmp_path / "ego_view.yaml", info)
    back = load_camera_info(tmp_path / "ego_view.yaml")
    assert (back.width, back.height, back.name) == (640, 400, "ego_view")
    np.testing.assert_allclose(back.k, info.k)


@pytest.fixture
def calib_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "calibration"
    shutil.copytree(CALIBRATION, directory)
    (directory / "cameras").mkdir()
    write_camera_info(directory / "cameras" / "ego_view.yaml", pinhole_from_fovy(640, 400, 45.0, "ego_view"))
    return directory


def test_hash_covers_calibration_files_not_readme_or_hidden(calib_dir: Path) -> None:
    names = [p.relative_to(calib_dir).as_posix() for p in calibration_files(calib_dir)]
    assert "cameras/ego_view.yaml" in names and "gr1_joint_offsets.yaml" in names
    assert "README.md" not in names and names == sorted(names)
    before = calibration_hash(calib_dir)
    assert len(before) == 64 and before == calibration_hash(calib_dir)

    (calib_dir / "README.md").write_text("rewritten\n")
    (calib_dir / ".gr1_joint_offsets.yaml.swp").write_text("editor junk")
    assert calibration_hash(calib_dir) == before

    offsets = calib_dir / "gr1_joint_offsets.yaml"
    offsets.write_text(offsets.read_text().replace("head_yaw_joint: 0.0", "head_yaw_joint: 0.01"))
    assert calibration_hash(calib_dir) != before


def test_hash_sees_renames_and_new_files(calib_dir: Path) -> None:
    before = calibration_hash(calib_dir)
    (calib_dir / "cameras" / "ego_view.yaml").rename(calib_dir / "cameras" / "head.yaml")
    renamed = calibration_hash(calib_dir)
    assert renamed != before
    (calib_dir / "notes.txt").write_text("")
    assert calibration_hash(calib_dir) != renamed


def test_hash_of_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="calibration directory .*nope does not exist"):
        calibration_hash(tmp_path / "nope")
