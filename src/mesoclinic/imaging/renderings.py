"""Images made for people to look at: aligned photos, before/after comparisons, the capture ghost.

Pure computation on images (no database, no files), like ``analysis.py``. Aligned images are in the
analysis's own canonical frame (``alignment.py``: 256 px per inter-ocular distance, eyes level, the
midpoint between the outer eye corners at a fixed place), resampled from the stored original with the
similarity transform the analysis stored, so no landmarks are detected again and two photos of one
patient line up pixel for pixel as far as their alignment allows (``pair_residual_iod``).

Layouts of a before/after pair (all the same canonical size per photo):

- ``side-by-side``: before left, after right, each labelled with its visit date and view;
- ``overlay``: a 50 % blend of the two; where they differ, both show half-strong (a misaligned pair
  shows double contours, a real change a faint half-tone);
- ``checkerboard``: alternating ``CHECKER_TILE`` squares of before and after (before in the top-left
  square); edges that jump at the square borders show misalignment, a patch that changes tone from
  square to square shows a change in the skin.

An unreliable pair (see ``rules.pair_flags``) gets the reasons printed on the image itself, so a
saved or printed comparison carries its caveat.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage.segmentation import find_boundaries
from skimage.transform import SimilarityTransform

from mesoclinic.imaging import alignment as align
from mesoclinic.imaging.landmarks import Points
from mesoclinic.imaging.rules import Layout
from mesoclinic.imaging.zones import FACE_OVAL

if TYPE_CHECKING:
    from mesoclinic.imaging.analysis import Analysis

LAYOUTS: tuple[Layout, ...] = get_args(Layout)

#: Where the canonical frame reaches beyond the photo (the analysis replicates edge pixels there).
OUTSIDE_PHOTO = (128, 128, 128)
#: A quarter of the inter-ocular distance: large enough to judge tone, small enough to show edges.
CHECKER_TILE = align.CANONICAL_IOD_PX // 4
GAP = 8
LABEL_HEIGHT = 34
FONT_SIZE = 18
PAD = 8
LABEL_BACKGROUND = (32, 32, 32)
LABEL_TEXT = (255, 255, 255)
WARNING_BACKGROUND = (180, 83, 9)
JPEG_QUALITY = 90
#: Ghost opacity when the caller does not choose: visible over a live preview without hiding it.
GHOST_OPACITY = 0.4
ZONE_COLOUR = (255, 255, 0)
LINE_COLOUR = (255, 0, 0)
SPOT_COLOUR = (0, 128, 255)

#: Named points for capture guides (MediaPipe face-mesh indices; sides are the subject's own).
GUIDE_POINTS: Mapping[str, int] = {
    "right_eye_outer": 33,
    "right_eye_inner": 133,
    "left_eye_inner": 362,
    "left_eye_outer": 263,
    "nose_bridge": 168,
    "nose_tip": 1,
    "mouth_right": 61,
    "mouth_left": 291,
    "chin": 152,
    "forehead": 10,
    "face_right_edge": 234,
    "face_left_edge": 454,
}


# --------------------------------------------------------------------------- the canonical frame


def stored_alignment(stored: Mapping[str, Any]) -> align.Alignment:
    """The alignment an analysis stored (``PhotoAnalysis.alignment``), enough to resample the photo
    again. ``KeyError``/``TypeError``/``ValueError`` when the record lacks the transform."""
    transform = SimilarityTransform(
        scale=float(stored["scale"]),
        rotation=math.radians(float(stored["rotation_deg"])),
        translation=[float(v) for v in stored["translation"]],
    )
    return align.Alignment(
        transform=transform,
        landmarks=np.empty((0, 2)),
        residual_iod=float(stored["residual_iod"]),
        iod_px=float(stored["iod_px"]),
        roll_deg=float(stored["roll_deg"]),
        yaw=float(stored["yaw"]),
    )


def aligned(image: Image.Image, alignment: align.Alignment) -> Image.Image:
    """The photo resampled into the canonical frame (RGB); outside the photo, neutral grey.

    ``align.canonical_image`` is the analysis's own resampling (a JPEG opened but not yet decoded is
    decoded at reduced scale there), so this shows the pixels that were measured."""
    rgb = align.canonical_image(image, alignment)
    canonical = Image.fromarray(np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8), "RGB")
    # The photo's own edges (pixel centres at integers, so its border lies half a pixel outside).
    width, height = image.size
    edges = np.array([[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]])
    inside = Image.new("L", canonical.size, 0)
    ImageDraw.Draw(inside).polygon([(float(x), float(y)) for x, y in alignment.transform(edges)], fill=255)
    return Image.composite(canonical, Image.new("RGB", canonical.size, OUTSIDE_PHOTO), inside)


# --------------------------------------------------------------------------- before/after


@functools.cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=FONT_SIZE)


def _wrap(draw: ImageDraw.ImageDraw, text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=_font()) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _band(width: int, text: str, background: tuple[int, int, int], *, centred: bool = True) -> Image.Image:
    """A strip of ``text`` (wrapped to the width) on a solid background."""
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines = _wrap(scratch, text, width - 2 * PAD)
    line_height = LABEL_HEIGHT - PAD
    band = Image.new("RGB", (width, max(LABEL_HEIGHT, len(lines) * line_height + PAD)), background)
    draw = ImageDraw.Draw(band)
    for row, line in enumerate(lines):
        x = (width - draw.textlength(line, font=_font())) / 2 if centred else PAD
        draw.text((x, PAD / 2 + row * line_height), line, font=_font(), fill=LABEL_TEXT)
    return band


def _stack(parts: Sequence[Image.Image]) -> Image.Image:
    out = Image.new("RGB", (parts[0].width, sum(p.height for p in parts)), LABEL_BACKGROUND)
    top = 0
    for part in parts:
        out.paste(part, (0, top))
        top += part.height
    return out


def checker_mask(size: tuple[int, int], tile: int = CHECKER_TILE) -> Image.Image:
    """255 on the squares that show the *before* photo (the top-left one among them)."""
    width, height = size
    rows, cols = np.indices((height, width))
    return Image.fromarray((((rows // tile + cols // tile) % 2 == 0) * 255).astype(np.uint8), "L")


def comparison(
    layout: Layout,
    before: Image.Image,
    after: Image.Image,
    labels: tuple[str, str],
    warning: str | None = None,
) -> Image.Image:
    """Two aligned photos of the same size in one of the ``LAYOUTS``, labelled, with ``warning``
    (why the pair is unreliable) printed below when there is one."""
    if before.size != after.size:
        raise ValueError("both photos must be in the same canonical frame")
    if layout == "side-by-side":
        width = 2 * before.width + GAP
        pictures = Image.new("RGB", (width, before.height), LABEL_BACKGROUND)
        pictures.paste(before, (0, 0))
        pictures.paste(after, (before.width + GAP, 0))
        header = Image.new("RGB", (width, LABEL_HEIGHT), LABEL_BACKGROUND)
        header.paste(_band(before.width, labels[0], LABEL_BACKGROUND), (0, 0))
        header.paste(_band(after.width, labels[1], LABEL_BACKGROUND), (before.width + GAP, 0))
    else:
        if layout == "overlay":
            pictures = Image.blend(before, after, 0.5)
            title = f"Blend 50 %: {labels[0]} | {labels[1]}"
        else:
            pictures = Image.composite(before, after, checker_mask(before.size))
            title = f"Checkerboard (top-left square: before): {labels[0]} | {labels[1]}"
        header = _band(before.width, title, LABEL_BACKGROUND)
    parts = [header, pictures]
    if warning:
        parts.append(_band(pictures.width, f"Not reliably comparable. {warning}", WARNING_BACKGROUND))
    return _stack(parts)


# --------------------------------------------------------------------------- capture ghost


def ghost(display: Image.Image, opacity: float = GHOST_OPACITY) -> Image.Image:
    """The photo as RGBA with a uniform alpha, to lay over a live camera preview."""
    rgba = display.convert("RGBA")
    rgba.putalpha(round(255 * min(max(opacity, 0.0), 1.0)))
    return rgba


Point = tuple[float, float]


Box = tuple[float, float, float, float]


def guides(points: Points, width: int, height: int) -> tuple[list[Point], dict[str, Point], Box]:
    """The face outline (closed), named points and face box as fractions of the image size (0-1)."""

    def normal(index: int) -> Point:
        x, y = points[index]
        return round(min(max(float(x) / width, 0.0), 1.0), 4), round(min(max(float(y) / height, 0.0), 1.0), 4)

    outline = [normal(i) for i in FACE_OVAL]
    outline.append(outline[0])
    xs, ys = [p[0] for p in outline], [p[1] for p in outline]
    return (
        outline,
        {name: normal(i) for name, i in GUIDE_POINTS.items()},
        (min(xs), min(ys), max(xs), max(ys)),
    )


# --------------------------------------------------------------------------- encodings


def findings(result: Analysis) -> Image.Image:
    """The aligned photo with what was measured drawn on it: zone outlines and names (yellow), the
    fine lines (red) and the spots (blue outlines) the metrics counted clearly (weight 0.5 or more)."""
    rgb = (np.clip(result.frame.rgb, 0, 1) * 255).astype(np.uint8)
    for mask in result.frame.zone_masks.values():
        rgb[find_boundaries(mask, mode="inner")] = ZONE_COLOUR
    rgb[result.maps.skeleton] = LINE_COLOUR
    rgb[find_boundaries(result.maps.spots > 0, mode="inner")] = SPOT_COLOUR
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    for code, mask in result.frame.zone_masks.items():
        rows, cols = np.nonzero(mask)
        if rows.size:
            draw.text((int(cols.min()) + 2, int(rows.min()) + 2), code, fill=ZONE_COLOUR)
    return image


def jpeg_bytes(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    """Fast PNG (zlib level 1): a 1024 px photo compresses 4x faster than at the default level and
    only about 15 % larger (photographic pixels barely compress losslessly anyway)."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()
