"""Validating an uploaded photo and making what is stored: a metadata-free original and a display copy.

The type comes from the magic bytes (JPEG, PNG, or HEIC/HEIF from its ``ftyp`` brands), never from
the declared content type or the file name. Dimensions are checked from the header before any pixel
is decoded (decompression-bomb guard; for HEIC the header is the ``ispe`` property libheif reports).
Orientation is applied, then the pixels are re-encoded: EXIF (GPS, device serials, timestamps), XMP,
comments and PNG text chunks do not survive. An embedded colour profile (ICC, or for HEIF an nclx
description with other primaries) is converted to sRGB first, because every colour metric assumes
sRGB.

HEIC originals are stored re-encoded as JPEG (quality 95), not as HEIC. A re-encoding is needed
anyway: the HEIF container carries EXIF, XMP, depth maps and thumbnails that must not be kept, and
copying only the coded image without them would keep a colour description the rest of the system
does not read. JPEG rather than HEIC because every browser, PDF report and the analysis decode it
(HEIC displays in Safari only), because HEVC encoding takes seconds per photo, and because it makes
a HEIC upload measure exactly like a JPEG one; JPEG rather than PNG because a lossless copy of an
already lossy phone photo is four to eight times larger for no information. The stored media type
is therefore ``image/jpeg``; ``CleanPhoto.source_media_type`` keeps what was uploaded.
"""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from mesoclinic.errors import InvalidInput, MesoClinicError
from mesoclinic.imaging import rules

DISPLAY_MAX_SIDE = 1024
JPEG_QUALITY = 95
DISPLAY_JPEG_QUALITY = 85
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/heic": "HEIF", "image/heif": "HEIF"}
#: Uploads stored in another format than they came in (see the module docstring).
_STORED_AS = {"image/heic": "image/jpeg", "image/heif": "image/jpeg"}


class UnsupportedMediaType(MesoClinicError):
    status = 415
    title = "Unsupported media type"
    default_code = rules.UNSUPPORTED_MEDIA_TYPE


@dataclass(frozen=True)
class CleanPhoto:
    """The decoded, oriented RGB image and its stored encodings."""

    image: Image.Image
    #: What ``original`` is encoded as.
    media_type: str
    original: bytes
    display: bytes
    icc_converted: bool
    #: What was uploaded (``image/heic`` for a HEIC stored as JPEG).
    source_media_type: str


def _refuse(problem: rules.Problem, field: str = "file") -> InvalidInput:
    return InvalidInput(problem.reason, code=problem.code, field=field)


@functools.cache
def _heif_opener() -> None:
    """Teach Pillow HEIF, once, on the first HEIC upload (libheif is not loaded at start-up).

    Thumbnails, depth maps and auxiliary images are never read: only the primary image is kept."""
    import pillow_heif

    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def decode(data: bytes) -> tuple[Image.Image, str]:
    """The oriented RGB image and its real media type; 415/422 problems for anything else."""
    media_type = rules.sniff_media_type(data[: rules.SNIFF_BYTES])
    if media_type is None:
        raise UnsupportedMediaType(
            "Only JPEG, PNG and HEIC photos are accepted (recognised from the file's content).",
            field="file",
        )
    if _PIL_FORMATS[media_type] == "HEIF":
        _heif_opener()
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
    # libheif reports a corrupt or undecodable HEIF as ValueError or RuntimeError.
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, RuntimeError) as error:
        raise _refuse(
            rules.Problem(rules.UNREADABLE_IMAGE, "The file is not a readable image (truncated or corrupt).")
        ) from error
    return image, media_type


def _icc_to_srgb(image: Image.Image, icc: bytes) -> tuple[Image.Image, bool]:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError):
        return image, False
    return (converted if converted is not None else image), True


# H.273 code points: primaries 1 = BT.709/sRGB, 2 = unspecified (taken as sRGB).
_SRGB_PRIMARIES = (1, 2)
# Transfer characteristics whose curve the sRGB decoding stands in for: BT.709/601/2020 SDR (1, 6,
# 14, 15), unspecified (2) and sRGB itself (13). PQ and HLG (HDR) need tone mapping: left as decoded.
_SDR_TRANSFERS = (1, 2, 6, 13, 14, 15)
Chromaticity = tuple[float, float]
_SRGB, _D65 = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06)), (0.3127, 0.3290)
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def _xyz(x: float, y: float) -> NDArray[np.float64]:
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def _rgb_to_xyz(
    rgb: tuple[Chromaticity, Chromaticity, Chromaticity], white: Chromaticity
) -> NDArray[np.float64]:
    primaries = np.column_stack([_xyz(*point) for point in rgb])
    matrix: NDArray[np.float64] = primaries * np.linalg.solve(primaries, _xyz(*white))
    return matrix


def primaries_to_srgb_matrix(nclx: dict[str, Any]) -> NDArray[np.float64]:
    """Linear RGB in the nclx primaries → linear sRGB, with Bradford adaptation to D65 if needed."""

    def point(name: str) -> tuple[float, float]:
        return float(nclx[f"color_primary_{name}_x"]), float(nclx[f"color_primary_{name}_y"])

    white = point("white")
    source = _rgb_to_xyz((point("red"), point("green"), point("blue")), white)
    if not np.allclose(white, _D65, atol=1e-3):
        cone = _BRADFORD @ _xyz(*_D65) / (_BRADFORD @ _xyz(*white))
        source = np.linalg.inv(_BRADFORD) @ np.diag(cone) @ _BRADFORD @ source
    matrix: NDArray[np.float64] = np.linalg.solve(_rgb_to_xyz(_SRGB, _D65), source)
    return matrix


def _srgb_decode(v: NDArray[np.float64]) -> NDArray[np.float64]:
    decoded: NDArray[np.float64] = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return decoded


def _srgb_encode(v: NDArray[np.float64]) -> NDArray[np.float64]:
    encoded: NDArray[np.float64] = np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)
    return encoded


_BAND_ROWS = 256
#: Linear light is quantised to this many levels before encoding: finer than one 8-bit sRGB step
#: everywhere, including next to black.
_ENCODE_LEVELS = 16_384
_DECODE_LUT = _srgb_decode(np.arange(256) / 255.0).astype(np.float32)
_ENCODE_LUT = np.round(_srgb_encode(np.linspace(0.0, 1.0, _ENCODE_LEVELS)) * 255.0).astype(np.uint8)


def _nclx_to_srgb(image: Image.Image, nclx: dict[str, Any]) -> tuple[Image.Image, bool]:
    """HEIF photos may describe their colour space with nclx code points instead of an ICC profile
    (Display P3 from phones); convert other primaries with an SDR transfer to sRGB."""
    if nclx.get("color_primaries") in _SRGB_PRIMARIES or nclx.get("transfer_characteristics") not in (
        _SDR_TRANSFERS
    ):
        return image, False
    try:
        matrix = primaries_to_srgb_matrix(nclx)
    except (KeyError, TypeError, ValueError, np.linalg.LinAlgError):
        return image, False
    # In bands of rows through lookup tables, float32: a 12 MP photo never becomes a float64 array.
    pixels = np.asarray(image, dtype=np.uint8)
    mix = matrix.T.astype(np.float32)
    out = np.empty_like(pixels)
    for top in range(0, pixels.shape[0], _BAND_ROWS):
        linear = _DECODE_LUT[pixels[top : top + _BAND_ROWS]] @ mix
        levels = np.clip(np.rint(linear * (_ENCODE_LEVELS - 1)), 0, _ENCODE_LEVELS - 1).astype(np.intp)
        out[top : top + _BAND_ROWS] = _ENCODE_LUT[levels]
    return Image.fromarray(out, "RGB"), True


def _to_srgb(image: Image.Image, info: dict[str, Any]) -> tuple[Image.Image, bool]:
    if icc := info.get("icc_profile"):
        return _icc_to_srgb(image, icc)
    if isinstance(nclx := info.get("nclx_profile"), dict):
        return _nclx_to_srgb(image, nclx)
    return image, False


def load(data: bytes) -> tuple[Image.Image, str, bool]:
    """Decode, apply the orientation and convert to sRGB RGB: (image, media type uploaded, colour
    converted). Accepts JPEG, PNG and HEIC/HEIF (used by the upload and by ``mesoclinic analyze``)."""
    decoded, media_type = decode(data)
    info: dict[str, Any] = {str(k): v for k, v in decoded.info.items()}
    # HEIF: libheif has applied the irot/imir transforms and pillow-heif reset the EXIF orientation
    # to 1, so this is a no-op there and never rotates twice.
    oriented = ImageOps.exif_transpose(decoded)
    rgb = oriented.convert("RGB") if oriented.mode != "RGB" else oriented
    rgb, converted = _to_srgb(rgb, info)
    return rgb, media_type, converted


def clean(data: bytes) -> CleanPhoto:
    """Validate and re-encode an upload. Raises 415/422 problems; writes nothing."""
    rgb, source_media_type, icc_converted = load(data)
    rgb.info.clear()  # nothing from the upload's metadata is carried into the re-encoding
    media_type = _STORED_AS.get(source_media_type, source_media_type)
    original = io.BytesIO()
    if media_type == "image/jpeg":
        rgb.save(original, format="JPEG", quality=JPEG_QUALITY)
    else:
        rgb.save(original, format="PNG")
    display = rgb.copy()
    display.thumbnail((DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE), Image.Resampling.LANCZOS)
    display_bytes = io.BytesIO()
    display.save(display_bytes, format="JPEG", quality=DISPLAY_JPEG_QUALITY)
    return CleanPhoto(
        rgb, media_type, original.getvalue(), display_bytes.getvalue(), icc_converted, source_media_type
    )
