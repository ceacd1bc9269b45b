"""Validating an uploaded photo and making what is stored: an EXIF-free original and a display copy.

The type comes from the magic bytes (JPEG or PNG), never from the declared content type or the
file name. Dimensions are checked from the header before any pixel is decoded (decompression-bomb
guard). Orientation is applied, then the pixels are re-encoded: EXIF (GPS, device serials,
timestamps), XMP, comments and PNG text chunks do not survive. An embedded ICC profile is converted
to sRGB first, because every colour metric assumes sRGB.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from mesoclinic.errors import InvalidInput, MesoClinicError
from mesoclinic.imaging import rules

DISPLAY_MAX_SIDE = 1024
JPEG_QUALITY = 95
DISPLAY_JPEG_QUALITY = 85
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}


class UnsupportedMediaType(MesoClinicError):
    status = 415
    title = "Unsupported media type"
    default_code = rules.UNSUPPORTED_MEDIA_TYPE


@dataclass(frozen=True)
class CleanPhoto:
    """The decoded, oriented RGB image and its stored encodings."""

    image: Image.Image
    media_type: str
    original: bytes
    display: bytes
    icc_converted: bool


def _refuse(problem: rules.Problem, field: str = "file") -> InvalidInput:
    return InvalidInput(problem.reason, code=problem.code, field=field)


def decode(data: bytes) -> tuple[Image.Image, str]:
    """The oriented RGB image and its real media type; 415/422 problems for anything else."""
    media_type = rules.sniff_media_type(data[:16])
    if media_type is None:
        raise UnsupportedMediaType(
            "Only JPEG and PNG photos are accepted (recognised from the file's content).", field="file"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[media_type]])
            if problem := rules.dimension_problem(*image.size):
                raise _refuse(problem)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _refuse(
            rules.Problem(rules.DECOMPRESSION_BOMB, "The image inflates beyond safe limits.")
        ) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise _refuse(
            rules.Problem(rules.UNREADABLE_IMAGE, "The file is not a readable image (truncated or corrupt).")
        ) from error
    return image, media_type


def _to_srgb(image: Image.Image) -> tuple[Image.Image, bool]:
    icc = image.info.get("icc_profile")
    if not icc:
        return image, False
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError):
        return image, False
    return (converted if converted is not None else image), True


def load(data: bytes) -> tuple[Image.Image, str, bool]:
    """Decode, apply the EXIF orientation and convert to sRGB RGB: (image, media type, ICC converted)."""
    decoded, media_type = decode(data)
    oriented = ImageOps.exif_transpose(decoded)
    rgb = oriented.convert("RGB") if oriented.mode != "RGB" else oriented
    rgb, icc_converted = _to_srgb(rgb)
    return rgb, media_type, icc_converted


def clean(data: bytes) -> CleanPhoto:
    """Validate and re-encode an upload. Raises 415/422 problems; writes nothing."""
    rgb, media_type, icc_converted = load(data)
    rgb.info.clear()  # nothing from the upload's metadata is carried into the re-encoding
    original = io.BytesIO()
    if media_type == "image/jpeg":
        rgb.save(original, format="JPEG", quality=JPEG_QUALITY)
    else:
        rgb.save(original, format="PNG")
    display = rgb.copy()
    display.thumbnail((DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE), Image.Resampling.LANCZOS)
    display_bytes = io.BytesIO()
    display.save(display_bytes, format="JPEG", quality=DISPLAY_JPEG_QUALITY)
    return CleanPhoto(rgb, media_type, original.getvalue(), display_bytes.getvalue(), icc_converted)
