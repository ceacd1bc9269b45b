"""``mesoclinic bench imaging``: validation on synthetic ground truth painted onto real skin, and speed.

No licensed dataset is needed (imaging-research §6.1): known features are painted onto scikit-image's
bundled public-domain portrait (``data.astronaut()``), then recovered.

- Wrinkles: dark curvilinear lines with a Gaussian profile (width, contrast as a fraction of full
  scale, length) painted on the skin zones of the canonical image; F1 with a 2-pixel tolerance for
  MesoClinic's line detector (shading removal + multi-scale Sato) next to plain Frangi (grey image,
  default scales, threshold mean + 2 SD on the skin) on the same images.
- Spots: dark brownish Gaussian blobs; precision and recall by centre matching.
- Redness and tone: a* and L* shifts painted in CIELAB on one cheek, photo JPEG-encoded and run
  through the whole pipeline (landmarks, alignment, resampling); slope and r² of recovered vs injected.
- Repeatability: simulated re-captures (±0.3 EV exposure, white balance 4500–6500 K, ±5° rotation,
  JPEG quality 70–95); per metric the median over zones of CV% and MDC95 = 1.96·√2·SD.
- Speed: seconds per photo (landmarks + alignment + all metrics) at 3 MP and 12 MP next to the JPEG
  decode time, and peak traced memory.

The portrait's face is small (about 60 px between the outer eye corners) and upsampled into the
canonical frame, so these figures characterise the method on this image, not on clinical captures.
"""

from __future__ import annotations

import io
import math
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from scipy import ndimage
from skimage import data
from skimage.color import lab2rgb, rgb2gray, rgb2lab
from skimage.filters import frangi
from skimage.morphology import skeletonize

from mesoclinic.imaging import analysis, metrics
from mesoclinic.imaging.landmarks import LandmarkDetector, default_detector

SKIN_ZONES = ("cheek_R", "cheek_L", "chin", "perioral", "under_eye_R", "under_eye_L")
TOLERANCE_PX = 2


@dataclass(frozen=True)
class Size:
    wrinkle_images: int
    lines_per_image: int
    spot_images: int
    spots_per_image: int
    recaptures: int
    speed_megapixels: tuple[float, ...]
    colour_doses: int = 5


SIZES = {
    "small": Size(wrinkle_images=1, lines_per_image=4, spot_images=1, spots_per_image=6, recaptures=3,
                  speed_megapixels=(0.5,), colour_doses=3),
    "full": Size(wrinkle_images=6, lines_per_image=6, spot_images=6, spots_per_image=10, recaptures=20,
                 speed_megapixels=(3.0, 12.0)),
}  # fmt: skip


def _jpeg(image: Image.Image, quality: int = 92) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _f1(detected: NDArray[np.bool_], truth: NDArray[np.bool_], region: NDArray[np.bool_]) -> dict[str, float]:
    detected = detected & region
    near_truth = ndimage.distance_transform_edt(~truth) <= TOLERANCE_PX
    near_detected = ndimage.distance_transform_edt(~detected) <= TOLERANCE_PX if detected.any() else detected
    precision = float((detected & near_truth).sum() / detected.sum()) if detected.any() else 0.0
    recall = float((truth & near_detected).sum() / truth.sum()) if truth.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


def _paint_lines(
    rgb: NDArray[np.float64], region: NDArray[np.bool_], count: int, contrast: float, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Gently curved dark lines (Gaussian profile, sigma 0.8 px, 25–50 px long) inside ``region``."""
    height, width = region.shape
    rows, cols = np.nonzero(ndimage.binary_erosion(region, iterations=6))
    darkness = np.zeros(region.shape)
    truth = np.zeros(region.shape, dtype=bool)
    for _ in range(count):
        start = rng.integers(len(rows))
        y0, x0 = float(rows[start]), float(cols[start])
        angle, bend = rng.uniform(0, math.pi), rng.uniform(-0.02, 0.02)
        length = rng.uniform(25, 50)
        centre = np.zeros(region.shape, dtype=bool)
        for step in np.arange(0, length, 0.5):
            theta = angle + bend * step
            y, x = round(y0 + step * math.sin(theta)), round(x0 + step * math.cos(theta))
            if 0 <= y < height and 0 <= x < width and region[y, x]:
                centre[y, x] = True
        if not centre.any():
            continue
        truth |= centre
        distance = ndimage.distance_transform_edt(~centre)
        darkness = np.maximum(darkness, np.exp(-(distance**2) / (2 * 0.8**2)))
    painted = np.clip(rgb - contrast * darkness[..., None], 0, 1)
    return painted, skeletonize(truth)


def wrinkle_detection(base: analysis.Analysis, size: Size, rng: np.random.Generator) -> dict[str, Any]:
    region = np.logical_or.reduce([base.frame.zone_masks[z] for z in SKIN_ZONES])
    results: dict[str, Any] = {}
    for contrast in (0.01, 0.02, 0.04):
        ours, plain = [], []
        for _ in range(size.wrinkle_images):
            painted, truth = _paint_lines(base.frame.rgb, region, size.lines_per_image, contrast, rng)
            maps = metrics.face_maps(painted, base.frame.face)
            ours.append(_f1(maps.skeleton, truth, region))
            response = frangi(rgb2gray(painted), black_ridges=True)
            skin = response[region]
            plain_lines = skeletonize(response > skin.mean() + 2 * skin.std())
            plain.append(_f1(plain_lines, truth, region))
        results[f"{contrast:.0%}"] = {
            "mesoclinic_f1": round(float(np.mean([r["f1"] for r in ours])), 3),
            "frangi_f1": round(float(np.mean([r["f1"] for r in plain])), 3),
            "mesoclinic_precision": round(float(np.mean([r["precision"] for r in ours])), 3),
            "mesoclinic_recall": round(float(np.mean([r["recall"] for r in ours])), 3),
        }
    return results


def spot_detection(base: analysis.Analysis, size: Size, rng: np.random.Generator) -> dict[str, float]:
    region = np.logical_or.reduce([base.frame.zone_masks[z] for z in SKIN_ZONES])
    rows, cols = np.nonzero(ndimage.binary_erosion(region, iterations=8))
    height, width = region.shape
    yy, xx = np.mgrid[0:height, 0:width]
    found = injected = true_positive_detections = detections = 0
    for _ in range(size.spot_images):
        centres = [
            (int(rows[i]), int(cols[i])) for i in rng.choice(len(rows), size.spots_per_image, replace=False)
        ]
        shade = np.zeros(region.shape)
        for y, x in centres:
            radius = rng.uniform(1.5, 3.0)
            shade = np.maximum(shade, np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * radius**2)))
        brown = np.array([0.10, 0.14, 0.18])  # darker, more in blue: a brownish spot
        painted = np.clip(base.frame.rgb - shade[..., None] * brown, 0, 1)
        maps = metrics.face_maps(painted, base.frame.face)
        labels = maps.spots * region
        centroids = ndimage.center_of_mass(labels > 0, labels, np.unique(labels[labels > 0]))
        detections += len(centroids)
        true_positive_detections += sum(
            any(math.dist(c, centre) <= 3 + TOLERANCE_PX for centre in centres) for c in centroids
        )
        found += sum(any(math.dist(c, centre) <= 3 + TOLERANCE_PX for c in centroids) for centre in centres)
        injected += len(centres)
    return {
        "precision": round(true_positive_detections / detections, 3) if detections else 0.0,
        "recall": round(found / injected, 3),
    }


def _shift_lab(
    image: Image.Image, box: tuple[int, int, int, int], channel: int, amount: float
) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float64) / 255.0
    x0, y0, x1, y1 = box
    lab = rgb2lab(pixels[y0:y1, x0:x1])
    lab[..., channel] += amount
    pixels[y0:y1, x0:x1] = np.clip(lab2rgb(lab), 0, 1)
    return Image.fromarray((pixels * 255).round().astype(np.uint8))


def colour_linearity(
    portrait: Image.Image, detector: LandmarkDetector, size: Size
) -> dict[str, dict[str, float]]:
    """Paint a*/L* shifts over the subject's left cheek (image right) and recover them."""
    cheek = (240, 112, 272, 142)
    report: dict[str, dict[str, float]] = {}
    step = 1 if size.colour_doses >= 5 else 2
    for name, channel, metric, all_doses in (
        ("redness_a", 1, "a_star", (0, 2, 4, 6, 8)),
        ("tone_L", 0, "L_star", (-6, -3, 0, 3, 6)),
    ):
        doses = all_doses[::step]
        recovered = []
        for dose in doses:
            shifted = Image.open(io.BytesIO(_jpeg(_shift_lab(portrait, cheek, channel, dose))))
            recovered.append(analysis.analyse(shifted, detector).zones["cheek_L"][metric])
        x = np.asarray(doses, dtype=np.float64)
        y = np.asarray(recovered) - recovered[doses.index(0)]
        slope, intercept = np.polyfit(x, y, 1)
        r2 = 1 - float(np.sum((y - (slope * x + intercept)) ** 2) / np.sum((y - y.mean()) ** 2))
        report[name] = {"slope": round(float(slope), 3), "r2": round(r2, 4)}
    return report


def _white_balance_gains(kelvin: float) -> NDArray[np.float64]:
    """Approximate channel gains of a camera white-balanced for 5500 K shooting at ``kelvin``
    (a linear fit to Planckian-locus sRGB ratios; enough to perturb, not to model a camera)."""
    t = (kelvin - 5500.0) / 1000.0
    return np.array([1.0 - 0.06 * t, 1.0, 1.0 + 0.09 * t])


def recapture(portrait: Image.Image, rng: np.random.Generator) -> Image.Image:
    linear = (np.asarray(portrait, dtype=np.float64) / 255.0) ** 2.2
    linear *= 2 ** rng.uniform(-0.3, 0.3)
    linear *= _white_balance_gains(rng.uniform(4500, 6500))
    srgb = np.clip(linear, 0, 1) ** (1 / 2.2)
    image = Image.fromarray((srgb * 255).round().astype(np.uint8))
    image = image.rotate(rng.uniform(-5, 5), resample=Image.Resampling.BICUBIC, fillcolor=(128, 128, 128))
    return Image.open(io.BytesIO(_jpeg(image, int(rng.integers(70, 96)))))


def repeatability(
    portrait: Image.Image, detector: LandmarkDetector, size: Size, rng: np.random.Generator
) -> dict[str, Any]:
    runs = [analysis.analyse(recapture(portrait, rng), detector).zones for _ in range(size.recaptures)]
    report: dict[str, Any] = {}
    for metric in metrics.METRIC_CODES:
        cvs, mdcs = [], []
        for zone in runs[0]:
            values = np.asarray([run[zone][metric] for run in runs if zone in run])
            sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            mean = float(np.abs(values.mean()))
            cvs.append(100 * sd / mean if mean > 1e-9 else math.nan)
            mdcs.append(1.96 * math.sqrt(2) * sd)
        report[metric] = {
            "cv_pct_median": round(float(np.nanmedian(cvs)), 2) if not all(map(math.isnan, cvs)) else None,
            "mdc95_median": round(float(np.median(mdcs)), 4),
        }
    return report


def speed(portrait: Image.Image, detector: LandmarkDetector, megapixels: float) -> dict[str, float]:
    side = int(math.sqrt(megapixels * 1e6 / 12))
    width, height = 4 * side, 3 * side
    canvas = Image.new("RGB", (width, height), (90, 90, 90))
    face = portrait.resize((height, height), Image.Resampling.BICUBIC)
    canvas.paste(face, ((width - height) // 2, 0))
    encoded = _jpeg(canvas)
    started = time.perf_counter()
    decoded = Image.open(io.BytesIO(encoded))
    decoded.load()
    decode_s = time.perf_counter() - started
    started = time.perf_counter()
    analysis.analyse(decoded, detector)
    analyse_s = time.perf_counter() - started
    tracemalloc.start()  # a second run, because tracing slows allocation-heavy numpy code
    analysis.analyse(decoded, detector)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "megapixels": round(width * height / 1e6, 2),
        "decode_s": round(decode_s, 4),
        "analysis_s": round(analyse_s, 3),
        "ratio_to_decode": round(analyse_s / decode_s, 1) if decode_s else math.inf,
        "peak_traced_mb": round(peak / 2**20, 1),
    }


def run(size: str = "small", seed: int = 5) -> dict[str, Any]:
    """The validation report (JSON-ready)."""
    chosen = SIZES[size]
    rng = np.random.default_rng(seed)
    detector = default_detector()
    portrait = Image.fromarray(data.astronaut())
    base = analysis.analyse(portrait, detector)
    return {
        "size": size,
        "seed": seed,
        "method_version": analysis.METHOD_VERSION,
        "source_image": "skimage.data.astronaut() (public domain, NASA); face about 60 px IOD",
        "wrinkle_f1_2px": wrinkle_detection(base, chosen, rng),
        "spots": spot_detection(base, chosen, rng),
        "colour_linearity": colour_linearity(portrait, detector, chosen),
        "repeatability": repeatability(portrait, detector, chosen, rng),
        "speed": [speed(portrait, detector, mp) for mp in chosen.speed_megapixels],
    }
