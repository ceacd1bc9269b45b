"""``mesoclinic bench imaging --json`` at the small size: the report's shape and the figures the
method already meets on the bundled portrait (colour linearity, tone repeatability)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mesoclinic.cli import app
from mesoclinic.imaging.metrics import METRIC_CODES


def test_the_small_validation_report_runs_and_recovers_painted_colour_linearly() -> None:
    result = CliRunner().invoke(app, ["bench", "imaging", "--size", "small", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["wrinkle_f1_2px"]) == {"1%", "2%", "4%"}
    for scores in report["wrinkle_f1_2px"].values():
        assert 0 <= scores["mesoclinic_f1"] <= 1
        assert 0 <= scores["frangi_f1"] <= 1
    # Stronger lines are found better than faint ones.
    assert report["wrinkle_f1_2px"]["4%"]["mesoclinic_f1"] > report["wrinkle_f1_2px"]["1%"]["mesoclinic_f1"]
    assert 0 <= report["spots"]["precision"] <= 1
    assert 0 <= report["spots"]["recall"] <= 1
    for fit in report["colour_linearity"].values():
        assert 0.8 <= fit["slope"] <= 1.1
        assert fit["r2"] > 0.98
    assert set(report["repeatability"]) == set(METRIC_CODES)
    assert report["repeatability"]["L_star"]["cv_pct_median"] < 3.0
    (timing,) = report["speed"]
    assert timing["analysis_s"] > 0
    assert timing["peak_traced_mb"] > 0


def test_it_refuses_an_unknown_size() -> None:
    result = CliRunner().invoke(app, ["bench", "imaging", "--size", "huge"])
    assert result.exit_code == 2
    assert "small, full" in result.stderr
