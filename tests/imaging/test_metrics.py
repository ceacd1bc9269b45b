"""The line and spot detectors on synthetic skin: what they count, and how smoothly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.signal import convolve2d

from mesoclinic.imaging import metrics

SIZE = 160


def _skin(seed: int = 1) -> NDArray[np.float32]:
    """L* 65 with fine texture (SD about 1 L*, correlated over a pixel), as skin at 0.35 mm/px."""
    rng = np.random.default_rng(seed)
    texture = rng.normal(0, 1.0, (SIZE, SIZE))
    kernel = np.outer([0.25, 0.5, 0.25], [0.25, 0.5, 0.25])
    texture = convolve2d(texture, kernel, mode="same", boundary="symm") * 2
    return (65 + texture).astype(np.float32)


def _with_line(lightness: NDArray[np.float32], depth: float, row: int = 80) -> NDArray[np.float32]:
    """A horizontal dark line (Gaussian profile, sigma 0.8 px) across the middle 100 px."""
    yy = np.arange(SIZE)[:, None]
    profile = np.exp(-((yy - row) ** 2) / (2 * 0.8**2))
    line = np.zeros((SIZE, SIZE))
    line[:, 30:130] = profile
    return (lightness - depth * line).astype(np.float32)


def _length(lightness: NDArray[np.float32]) -> float:
    lines = metrics.line_map(lightness, np.ones(lightness.shape, dtype=bool))
    band = np.zeros(lightness.shape, dtype=bool)
    band[76:85, 30:130] = True
    return float(lines.weight[band].sum())


def test_a_darker_line_scores_clearer_instead_of_raising_its_own_noise_level() -> None:
    skin = _skin()
    faint, clear, deep = (_length(_with_line(skin, depth)) for depth in (1.5, 4.0, 8.0))
    assert faint < clear
    # A clear line is found along its whole length, with weight 1: about 100 px, not more.
    assert clear == pytest.approx(100, abs=12)
    assert deep == pytest.approx(clear, abs=5)


def test_a_line_does_not_raise_the_noise_level_it_is_judged_against() -> None:
    skin = _skin()
    face = np.ones(skin.shape, dtype=bool)
    bare, lined = metrics.line_map(skin, face), metrics.line_map(_with_line(skin, 8.0), face)
    on_line = (slice(78, 83), slice(40, 120))
    # A block median moves a little (the line is a few of its pixels, spread over a few more by the
    # 0.7 px smoothing that keeps JPEG ringing out); an RMS of the response, which the line itself
    # dominates, more than doubles.
    assert float(np.median(lined.noise[on_line] / bare.noise[on_line])) < 1.5
    assert float(np.median(lined.rms[on_line] / bare.rms[on_line])) > 2


def test_line_length_changes_smoothly_as_a_line_fades() -> None:
    skin = _skin()
    lengths = [_length(_with_line(skin, depth)) for depth in np.linspace(1.0, 4.0, 13)]
    steps = np.diff(lengths)
    assert lengths[-1] > lengths[0] + 50
    assert float(np.max(np.abs(steps))) < 0.5 * (lengths[-1] - lengths[0])  # no all-or-nothing jump


def _density_with_spot(
    depth: float, sigma: float = 3.0, aspect: float = 1.0, centre: tuple[float, float] = (80, 80)
) -> NDArray[np.float32]:
    """Optical density of even skin (0.4 plus grain) with one Gaussian spot of core ``depth``."""
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    spot = np.exp(-(((yy - centre[0]) / (sigma * aspect)) ** 2 + ((xx - centre[1]) / sigma) ** 2) / 2)
    return (0.4 + rng.normal(0, 0.005, (SIZE, SIZE)) + depth * spot).astype(np.float32)


def _spots(density: NDArray[np.float32]) -> metrics.Spots:
    return metrics.find_spots(density, np.ones(density.shape, dtype=bool))


def test_a_clear_round_spot_is_one_spot_with_its_own_size_and_depth() -> None:
    found = _spots(_density_with_spot(0.5, sigma=3.0))
    assert len(found.weight) == 1
    assert found.weight[0] == pytest.approx(1.0)
    assert (found.rows[0], found.cols[0]) == (80, 80)
    assert found.radius[0] == pytest.approx(math.sqrt(2) * 3.0, rel=0.1)
    assert found.darkness[0] == pytest.approx(0.5, rel=0.1)


def test_a_faint_spot_counts_in_part_and_an_elongated_one_not_at_all() -> None:
    faint = _spots(_density_with_spot(0.27, sigma=3.0))
    assert 0.2 < float(faint.weight.sum()) < 0.8
    streak = _spots(_density_with_spot(0.5, sigma=2.0, aspect=5.0))
    assert float(streak.weight.sum()) == pytest.approx(0.0, abs=0.05)


def test_a_spot_on_a_zone_border_is_shared_between_the_zones() -> None:
    density = _density_with_spot(0.5, sigma=3.0, centre=(80, 80))
    found = _spots(density)
    luminance = np.exp(-density).astype(np.float32)
    spread = metrics.spot_maps(found, luminance, density.shape)
    left = np.zeros(density.shape, dtype=bool)
    left[:, :80] = True
    in_left, in_right = float(spread.count[left].sum()), float(spread.count[~left].sum())
    assert in_left + in_right == pytest.approx(1.0, abs=1e-3)
    assert 0.3 < in_left < 0.7
    assert float(spread.area.sum()) == pytest.approx(math.pi * found.radius[0] ** 2, rel=1e-3)
