"""Renderings without the API: the stored alignment reused, large JPEGs, the parts outside the photo,
layouts, the ghost and the guides."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from mesoclinic.imaging import alignment as align
from mesoclinic.imaging import renderings
from mesoclinic.imaging.alignment import CANONICAL_SHAPE

HEIGHT, WIDTH = CANONICAL_SHAPE


def face_points(scale: float, angle_deg: float, offset: tuple[float, float]) -> np.ndarray:
    """478 landmarks whose rigid points sit exactly on the template, seen through a similarity."""
    angle = math.radians(angle_deg)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = np.zeros((478, 2))
    points[list(align.RIGID)] = align.TEMPLATE
    points[[234, 454]] = [(-0.7, 0.3), (0.7, 0.3)]
    return (points @ rotation.T) * scale + np.array(offset)


def smooth_photo(size: int) -> Image.Image:
    """Large soft shapes: what survives JPEG and box reduction alike (unlike a noise texture)."""
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack(
        [0.5 + 0.4 * np.sin(6 * x), 0.5 + 0.4 * np.cos(5 * y), 0.5 + 0.3 * np.sin(4 * (x + y))], axis=2
    )
    return Image.fromarray(np.round(rgb * 255).astype(np.uint8))


def encoded(image: Image.Image, fmt: str) -> Image.Image:
    out = io.BytesIO()
    image.save(out, format=fmt, **({"quality": 95} if fmt == "JPEG" else {"compress_level": 1}))
    return Image.open(io.BytesIO(out.getvalue()))


def test_the_stored_alignment_rebuilds_the_transform_the_analysis_fitted() -> None:
    fitted = align.fit(face_points(700.0, 12.0, (1500.0, 1400.0)))
    rebuilt = renderings.stored_alignment(fitted.as_dict())
    assert np.allclose(rebuilt.transform.params, fitted.transform.params, atol=1e-9)
    assert rebuilt.iod_px == pytest.approx(fitted.iod_px)
    with pytest.raises(KeyError):
        renderings.stored_alignment({"scale": 1.0})


def test_a_large_jpeg_decoded_at_reduced_scale_lines_up_with_the_full_decode() -> None:
    # 850 px between the eyes, three times the canonical scale: the JPEG may be decoded at reduced
    # scale, the PNG of the same pixels is decoded whole and box-reduced; both must land alike.
    photo = smooth_photo(2000)
    alignment = align.fit(face_points(850.0, 5.0, (1000.0, 800.0)))
    jpeg_image = encoded(photo, "JPEG")
    from_jpeg = np.asarray(renderings.aligned(jpeg_image, alignment), dtype=np.float64)
    from_png = np.asarray(renderings.aligned(encoded(photo, "PNG"), alignment), dtype=np.float64)
    assert from_jpeg.shape == from_png.shape == (HEIGHT, WIDTH, 3)
    # Compared where both show the photo (its border may fall one canonical pixel apart).
    photo_in_both = ~((from_jpeg == 128).all(axis=2) | (from_png == 128).all(axis=2))
    assert photo_in_both.mean() > 0.9
    difference = np.abs(from_jpeg - from_png)[photo_in_both]
    assert difference.mean() < 1.5
    assert np.percentile(difference, 99.9) < 8


def test_the_frame_beyond_the_photo_is_neutral_grey_not_smeared_edge_pixels() -> None:
    # The face at the photo's left edge: the left part of the canonical frame has no photo under it.
    photo = smooth_photo(1000)
    alignment = align.fit(face_points(260.0, 0.0, (120.0, 500.0)))
    rgb = np.asarray(renderings.aligned(encoded(photo, "PNG"), alignment))
    outside, inside = rgb[:, :20], rgb[:, WIDTH // 2 :]
    assert (outside == renderings.OUTSIDE_PHOTO).all()
    assert not (inside == renderings.OUTSIDE_PHOTO).all(axis=2).any()


def test_layouts_compose_the_pair_and_a_warning_adds_a_caption_band() -> None:
    before = Image.new("RGB", (WIDTH, HEIGHT), (200, 0, 0))
    after = Image.new("RGB", (WIDTH, HEIGHT), (0, 0, 200))
    labels = ("Before 2026-09-01 · front", "After 2026-11-02 · front")
    side = renderings.comparison("side-by-side", before, after, labels)
    assert side.size == (2 * WIDTH + renderings.GAP, renderings.LABEL_HEIGHT + HEIGHT)
    blend = np.asarray(renderings.comparison("overlay", before, after, labels))[-HEIGHT:]
    assert (blend == (100, 0, 100)).all()
    squares = np.asarray(renderings.comparison("checkerboard", before, after, labels))[-HEIGHT:]
    tile = renderings.CHECKER_TILE
    assert tuple(squares[0, 0]) == tuple(squares[tile, tile]) == (200, 0, 0)
    assert tuple(squares[0, tile]) == tuple(squares[tile, 0]) == (0, 0, 200)
    warned = renderings.comparison(
        "side-by-side", before, after, labels, "The two photos show different views."
    )
    assert warned.height > side.height
    assert warned.getpixel((2, warned.height - 2)) == renderings.WARNING_BACKGROUND
    with pytest.raises(ValueError, match="same canonical frame"):
        renderings.comparison("overlay", before, after.resize((10, 10)), labels)


def test_the_ghost_is_the_photo_itself_with_uniform_alpha() -> None:
    photo = smooth_photo(300)
    ghost = renderings.ghost(photo, 0.25)
    assert ghost.mode == "RGBA"
    rgba = np.asarray(ghost)
    assert (rgba[..., :3] == np.asarray(photo)).all()
    assert (rgba[..., 3] == 64).all()


def test_guides_are_fractions_of_the_photo_clipped_to_it_and_the_outline_is_closed() -> None:
    points = np.full((478, 2), 50.0)
    points[33] = (-10.0, 40.0)  # a landmark just beyond the photo's left edge
    points[263] = (150.0, 40.0)
    outline, named, box = renderings.guides(points, 200, 100)
    assert outline[0] == outline[-1]
    assert named["right_eye_outer"] == (0.0, 0.4)
    assert named["left_eye_outer"] == (0.75, 0.4)
    assert box == (0.25, 0.5, 0.25, 0.5)
