"""The GR1 model view: crop by ratios → 720x480 → pad 120 black rows → 256x256, at any resolution."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.video import ModelViewTransform

MAGENTA, RED, GREEN, BLUE, WHITE = (255, 0, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


@pytest.fixture(scope="module")
def transform() -> ModelViewTransform:
    return ModelViewTransform.for_camera(load_embodiment("gr1").cameras["ego_view"])


def quadrant_frame(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Magenta outside the crop box; inside it red | green over blue | white quadrants."""
    r0, r1, c0, c1 = box
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = MAGENTA
    rm, cm = (r0 + r1) // 2, (c0 + c1) // 2
    frame[r0:rm, c0:cm], frame[r0:rm, cm:c1] = RED, GREEN
    frame[rm:r1, c0:cm], frame[rm:r1, cm:c1] = BLUE, WHITE
    return frame


def test_crop_box_applies_native_pixels_as_ratios(transform: ModelViewTransform) -> None:
    assert transform.crop_box(800, 1280) == (310, 770, 110, 1130)
    # 310/800*200 = 77.5 and 770/800*200 = 192.5 round half up, exactly
    assert transform.crop_box(200, 320) == (78, 193, 28, 283)


@pytest.mark.parametrize("height,width", [(800, 1280), (200, 320)])
def test_regions_land_where_expected(transform: ModelViewTransform, height: int, width: int) -> None:
    view = transform(quadrant_frame(height, width, transform.crop_box(height, width)))
    assert view.shape == (256, 256, 3) and view.dtype == np.uint8
    # content spans rows [120, 600) of 720 → [42.7, 213.3) of 256; the rest is the black padding
    assert view[:41].max() == 0 and view[216:].max() == 0
    for (row, col), color in {(85, 64): RED, (85, 192): GREEN, (171, 64): BLUE, (171, 192): WHITE}.items():
        np.testing.assert_allclose(view[row, col], color, atol=3, err_msg=f"pixel {row},{col}")
    magenta = (view[..., 0] > 200) & (view[..., 1] < 60) & (view[..., 2] > 200)
    assert not magenta.any(), "pixels outside the crop leaked into the view"


def test_native_resolution_matches_the_reference_chain(transform: ModelViewTransform) -> None:
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (800, 1280, 3), dtype=np.uint8), (9, 9), 3)
    middle = cv2.resize(frame[310:770, 110:1130], (720, 480), interpolation=cv2.INTER_AREA)
    padded = np.pad(middle, ((120, 120), (0, 0), (0, 0)))
    expected = cv2.resize(padded, (256, 256), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(transform(frame), expected)


def test_bad_frames_are_refused(transform: ModelViewTransform) -> None:
    with pytest.raises(ValueError, match=r"RGB uint8 frame \[H, W, 3\], got float32 \[200, 320, 3\]"):
        transform(np.zeros((200, 320, 3), np.float32))
    with pytest.raises(ValueError, match="too small for the model-view crop"):
        transform(np.zeros((0, 0, 3), np.uint8))


@pytest.mark.parametrize("frame_hw", [(800, 1280), (200, 320), (480, 640)])
@pytest.mark.parametrize("geometry", [((480, 720), 120, (256, 256)), ((480, 720), 120, (224, 224)),
                                      ((300, 400), 37, (100, 150)), ((480, 720), 120, (200, 300))],
                         ids=["gr1", "224", "odd-pad", "non-square"])
def test_resizing_only_the_crop_gives_the_padded_chain_exactly(frame_hw, geometry) -> None:
    """The transform never builds and resizes the black bands; its pixels equal the chain that does."""
    resize_hw, pad, size_hw = geometry
    view = ModelViewTransform((800, 1280), (310, 770), (110, 1130), resize_hw, pad, size_hw)
    rng = np.random.default_rng(1)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (*frame_hw, 3), dtype=np.uint8), (9, 9), 3)
    r0, r1, c0, c1 = view.crop_box(*frame_hw)
    shrinks = resize_hw[0] < r1 - r0 or resize_hw[1] < c1 - c0
    middle = cv2.resize(frame[r0:r1, c0:c1], resize_hw[::-1],
                        interpolation=cv2.INTER_AREA if shrinks else cv2.INTER_LINEAR)
    padded = np.pad(middle, ((pad, pad), (0, 0), (0, 0)))
    np.testing.assert_array_equal(view(frame), cv2.resize(padded, size_hw[::-1], interpolation=cv2.INTER_AREA))
