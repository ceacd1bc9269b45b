"""The scheduling benchmark runs end to end at a tiny size and reports its figures (no timing asserted)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mesoclinic.cli import app


def test_bench_schedule_prints_percentiles_as_json() -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "schedule",
            "--json",
            "--days",
            "5",
            "--requests",
            "5",
            "--practitioners",
            "3",
            "--rooms",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {
        "propose_course",
        "propose_course_full_load",
        "week_view",
        "n",
        "setup_s",
        "clinic",
    }
    assert report["propose_course_full_load"]["differing_results"] == 0
    for name in ("propose_course", "week_view"):
        assert report[name]["p95_ms"] >= report[name]["p50_ms"] > 0
    assert report["n"] == 5
    assert report["clinic"]["appointments"] > 0
