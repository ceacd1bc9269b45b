"""Decoding for the alignment: each reduced copy of a photo is decoded once per analysis."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mesoclinic.imaging import alignment as align


def lazy_jpeg(width: int, height: int) -> Image.Image:
    """A JPEG opened but not yet decoded."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([(x * 255) // width, (y * 255) // height, np.full_like(x, 128)], axis=2)
    out = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(out, format="JPEG", quality=90)
    return Image.open(io.BytesIO(out.getvalue()))


@pytest.fixture
def drafts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The factors ``decoded_at`` is asked to draft at, in order."""
    asked: list[int] = []
    draft = align.decoded_at

    def counted(image: Image.Image, factor: int, source: bytes | None = None) -> Any:
        asked.append(factor)
        return draft(image, factor, source)

    monkeypatch.setattr(align, "decoded_at", counted)
    return asked


def test_a_copy_at_a_scale_already_drafted_is_reused(drafts: list[int]) -> None:
    photo = lazy_jpeg(2100, 1600)
    copies = align.Copies(photo)
    overview, scale = copies.at(4)
    assert (scale, overview.size) == (4, (525, 400))
    # The canonical frame of a face four to eight times the canonical scale wants the same copy.
    assert copies.at(5) == (overview, 4)
    assert copies.at(4) == (overview, 4)
    assert drafts == [4]
    half, scale = copies.at(2)
    assert (scale, half.size) == (2, (1050, 800))
    assert drafts == [4, 2]
    assert photo.size == (2100, 1600)  # the caller's image is not swapped for a reduced one


def test_once_decoded_in_full_smaller_copies_are_box_reduced_from_it(drafts: list[int]) -> None:
    photo = lazy_jpeg(1800, 1200)
    copies = align.Copies(photo)
    full = copies.decode_in_full()
    assert full is photo  # the caller's image, loaded
    assert copies.at(1) == (photo, 1)
    reduced, scale = copies.at(2)
    assert (scale, reduced.size) == (2, (900, 600))
    assert np.array_equal(np.asarray(reduced), np.asarray(photo.reduce(2)))
    assert copies.at(3)[1] == 3  # a box reduction needs no power of two
    assert drafts == []
