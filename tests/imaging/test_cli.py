"""``mesoclinic analyze``: the JSON contract, comparison, annotation and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data
from typer.testing import CliRunner

from mesoclinic.cli import app
from mesoclinic.imaging.metrics import METRIC_CODES
from mesoclinic.imaging.zones import ZONE_CODES
from tests.imaging.conftest import jpeg

runner = CliRunner()


def test_it_prints_the_zone_metrics_and_quality_as_one_json_object(face_file: Path) -> None:
    result = runner.invoke(app, ["analyze", str(face_file), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"zones", "quality"}
    assert set(report["zones"]) == set(ZONE_CODES)
    for metrics in report["zones"].values():
        assert set(metrics) == set(METRIC_CODES)
        assert all(isinstance(v, int | float) for v in metrics.values())
    assert isinstance(report["quality"]["flags"], list)


def test_it_measures_a_heic_from_a_phone_like_its_jpeg(
    face_heic: bytes, face_file: Path, tmp_path: Path
) -> None:
    phone = tmp_path / "IMG_0001.HEIC"
    phone.write_bytes(face_heic)
    result = runner.invoke(app, ["analyze", str(phone), "--before", str(face_file), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["zones"]) == set(ZONE_CODES)
    # The same portrait through another codec: it lines up with the JPEG and its colour barely moves.
    assert report["comparison"]["reliable"] is True
    assert report["comparison"]["zones"]["cheek_L"]["a_star"]["verdict"] == "no-real-change"


def test_it_compares_with_an_earlier_photo_and_annotates(face_file: Path, tmp_path: Path) -> None:
    later = tmp_path / "later.png"
    Image.open(face_file).rotate(2).save(later)
    annotated = tmp_path / "zones.png"
    result = runner.invoke(
        app, ["analyze", str(later), "--before", str(face_file), "--json", "--annotate", str(annotated)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"zones", "quality", "comparison"}
    comparison = report["comparison"]
    assert comparison["reliable"] is True
    assert set(comparison["zones"]) == set(ZONE_CODES)
    assert {"before", "after", "delta", "smallest_real_change", "verdict"} <= set(
        comparison["zones"]["chin"]["a_star"]
    )
    with Image.open(annotated) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image)
    assert (pixels == (255, 255, 0)).all(axis=2).any()  # zone outlines drawn


def test_it_refuses_a_photo_without_a_face_with_a_clear_message(tmp_path: Path) -> None:
    camera = tmp_path / "camera.jpg"
    camera.write_bytes(jpeg(Image.fromarray(data.camera()).convert("RGB")))
    result = runner.invoke(app, ["analyze", str(camera), "--json"])
    assert result.exit_code == 1
    assert "No face was found" in result.stderr
    assert "no-face" in result.stderr
    assert result.stdout == ""


def test_it_refuses_a_file_that_is_not_a_photo(tmp_path: Path) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_text("not an image")
    result = runner.invoke(app, ["analyze", str(notes), "--json"])
    assert result.exit_code == 1
    assert "unsupported-media-type" in result.stderr
