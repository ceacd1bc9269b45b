"""Assessment rules: the reference data, finding validation, MASI/mMASI, severity and advice."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesoclinic.assessment import rules
from mesoclinic.assessment.rules import FindingInput, MasiRegion

REGIONS = rules.MASI_REGIONS


def problems_of(**kwargs: Any) -> list[tuple[str, str]]:
    finding, problems = rules.check_finding(FindingInput(**kwargs), 0)
    assert (finding is None) == bool(problems)
    return [(p.code, p.field) for p in problems]


# --------------------------------------------------------------------------- reference data


def test_every_scale_zone_and_region_carries_a_source() -> None:
    ref = rules.reference()
    assert all(s.source for s in ref.scales.values())
    assert all(z.source for z in ref.zones.values())
    assert sum(r.weight for r in ref.melasma_regions.values()) == pytest.approx(1)


def test_zone_lookup_exposes_codes_and_laterality() -> None:
    codes = rules.zone_codes()
    for expected in (
        "forehead",
        "glabella",
        "crows_feet",
        "periorbital",
        "cheek",
        "nasolabial",
        "marionette",
        "perioral",
        "lips",
        "chin",
        "jawline",
        "neck",
        "decolletage",
    ):
        assert expected in codes
    assert rules.zone("cheek").sides == ("L", "R")
    assert rules.zone("forehead").sides == ("M",)
    with pytest.raises(LookupError):
        rules.zone("elbow")


def test_scales_state_their_direction_and_verify_flags() -> None:
    assert rules.scale("gais").direction == "higher_is_worse"
    assert rules.scale("gais").responder_max == 3
    assert rules.scale("vas_radiance").direction == "higher_is_better"
    assert rules.scale("mfws").verify is True
    assert rules.scale("mmasi").bands_verify is True
    assert rules.scale("wsrs").per_side is True
    with pytest.raises(LookupError):
        rules.scale("nope")


# --------------------------------------------------------------------------- finding validation


def test_it_accepts_a_valid_per_side_finding() -> None:
    finding, problems = rules.check_finding(
        FindingInput(concern="laxity", zone="nasolabial", side="R", scale="wsrs", value=3), 0
    )
    assert problems == []
    assert finding is not None
    assert (finding.side, finding.value) == ("R", 3.0)


def test_midline_zones_default_to_side_m() -> None:
    finding, _ = rules.check_finding(
        FindingInput(
            concern="fine_lines",
            zone="forehead",
            scale="merz_forehead_lines",
            value=1,
            components={"state": "dynamic"},
        ),
        0,
    )
    assert finding is not None
    assert finding.side == "M"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"scale": "nope"}, [("unknown-scale", "findings.0.scale")]),
        ({"scale": "glogau"}, [("scale-not-for-findings", "findings.0.scale")]),
        ({"concern": "wrinkly"}, [("unknown-concern", "findings.0.concern")]),
        ({"concern": "pigmentation"}, [("scale-concern-mismatch", "findings.0.concern")]),
        ({"zone": "elbow"}, [("unknown-zone", "findings.0.zone")]),
        ({"zone": "cheek"}, [("scale-zone-mismatch", "findings.0.zone")]),
        ({"side": None}, [("side-required", "findings.0.side")]),
        ({"side": "M"}, [("side-mismatch", "findings.0.side"), ("side-required", "findings.0.side")]),
        ({"value": 6}, [("value-out-of-range", "findings.0.value")]),
        ({"value": 0}, [("value-out-of-range", "findings.0.value")]),
        ({"value": 2.5}, [("value-off-step", "findings.0.value")]),
        ({"value": None}, [("value-required", "findings.0.value")]),
        ({"value": float("nan")}, [("value-out-of-range", "findings.0.value")]),
        ({"components": {"state": "rest"}}, [("component-unknown", "findings.0.components.state")]),
    ],
)
def test_it_names_the_exact_field_of_each_problem(
    kwargs: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    base: dict[str, Any] = {
        "concern": "laxity",
        "zone": "nasolabial",
        "side": "L",
        "scale": "wsrs",
        "value": 3,
    }
    assert problems_of(**{**base, **kwargs}) == expected


def test_it_requires_rest_or_dynamic_on_upper_face_merz_scales() -> None:
    base: dict[str, Any] = {
        "concern": "fine_lines",
        "zone": "glabella",
        "scale": "merz_glabellar_lines",
        "value": 2,
    }
    assert problems_of(**base) == [("state-required", "findings.0.components.state")]
    assert problems_of(**base, components={"state": "sleeping"}) == [
        ("state-required", "findings.0.components.state")
    ]
    assert problems_of(**base, components={"state": "rest"}) == []


def test_mfws_moves_in_half_steps() -> None:
    base: dict[str, Any] = {"concern": "fine_lines", "zone": "forehead", "scale": "mfws"}
    assert problems_of(**base, value=1.5) == []
    assert problems_of(**base, value=1.25) == [("value-off-step", "findings.0.value")]
    assert problems_of(**base, value=3.5) == [("value-out-of-range", "findings.0.value")]


def test_vas_needs_a_method() -> None:
    base: dict[str, Any] = {
        "concern": "dullness",
        "zone": "full_face",
        "scale": "vas_radiance",
        "value": 42.5,
    }
    assert problems_of(**base) == [("method-required", "findings.0.method")]
    assert problems_of(**base, method="   ") == [("method-required", "findings.0.method")]
    assert problems_of(**base, method="blinded panel, 100 mm VAS") == []


def test_goodman_baron_grades_acne_scars_one_to_four() -> None:
    base: dict[str, Any] = {"concern": "acne_scars", "zone": "cheek", "side": "L", "scale": "goodman_baron"}
    assert problems_of(**base, value=4) == []
    assert problems_of(**base, value=5) == [("value-out-of-range", "findings.0.value")]


def test_masi_finding_is_computed_from_its_components() -> None:
    finding, problems = rules.check_finding(
        FindingInput(
            concern="pigmentation", zone="full_face", scale="masi", components=rules_components(2, 2, 1)
        ),
        3,
    )
    assert problems == []
    assert finding is not None
    assert finding.value == pytest.approx(0.3 * 2 * 3 * 3 + 0.1 * 2 * 3)


def rules_components(area: int, darkness: int, homogeneity: int) -> dict[str, Any]:
    return {code: {"area": area, "darkness": darkness, "homogeneity": homogeneity} for code in REGIONS}


def test_masi_refuses_a_stated_value_that_disagrees_with_the_components() -> None:
    assert problems_of(
        concern="pigmentation", zone="full_face", scale="masi", value=40, components=rules_components(1, 1, 1)
    ) == [("value-mismatch", "findings.0.value")]


def test_masi_names_each_missing_or_out_of_range_component() -> None:
    components = rules_components(1, 1, 1)
    del components["chin"]
    components["forehead"]["area"] = 7
    components["malar_left"]["darkness"] = 1.5
    components["malar_right"]["sparkle"] = 1
    components["nose"] = {}
    assert problems_of(concern="pigmentation", zone="full_face", scale="masi", components=components) == [
        ("component-unknown", "findings.0.components.nose"),
        ("component-out-of-range", "findings.0.components.forehead.area"),
        ("component-unknown", "findings.0.components.malar_right.sparkle"),
        ("component-out-of-range", "findings.0.components.malar_left.darkness"),
        ("component-missing", "findings.0.components.chin"),
    ]


def test_mmasi_ignores_homogeneity_but_refuses_it_as_an_extra_component() -> None:
    components = {code: {"area": 3, "darkness": 2} for code in REGIONS}
    finding, problems = rules.check_finding(
        FindingInput(concern="pigmentation", zone="full_face", scale="mmasi", components=components), 0
    )
    assert problems == []
    assert finding is not None
    assert finding.value == pytest.approx(6.0)
    assert rules.band("mmasi", finding.value) == "moderate"
    assert (
        problems_of(
            concern="pigmentation", zone="full_face", scale="mmasi", components=rules_components(1, 1, 1)
        )[0][0]
        == "component-unknown"
    )


def test_it_refuses_the_same_scale_twice_on_the_same_zone_side_and_state() -> None:
    same = FindingInput(concern="laxity", zone="nasolabial", side="L", scale="wsrs", value=2)
    other_side = FindingInput(concern="laxity", zone="nasolabial", side="R", scale="wsrs", value=2)
    valid, problems = rules.check_findings([same, other_side, same])
    assert len(valid) == 2
    assert [(p.code, p.field) for p in problems] == [("duplicate-finding", "findings.2")]


def test_unknown_goals_are_named_by_position() -> None:
    assert [(p.code, p.field) for p in rules.check_goals(["hydration", "youth"])] == [
        ("unknown-goal", "goals.1")
    ]


# --------------------------------------------------------------------------- MASI / mMASI

scores = st.builds(
    MasiRegion,
    area=st.integers(0, 6),
    darkness=st.integers(0, 4),
    homogeneity=st.integers(0, 4),
)
region_maps = st.fixed_dictionaries(dict.fromkeys(REGIONS, scores))


def test_masi_extremes() -> None:
    worst = {c: MasiRegion(6, 4, 4) for c in REGIONS}
    clear = {c: MasiRegion(0, 0, 0) for c in REGIONS}
    assert (rules.masi(worst), rules.mmasi(worst)) == (48.0, 24.0)
    assert (rules.masi(clear), rules.mmasi(clear)) == (0.0, 0.0)


def test_masi_needs_all_four_regions_and_valid_scores() -> None:
    with pytest.raises(ValueError, match="regions"):
        rules.masi({"forehead": MasiRegion(1, 1, 1)})
    with pytest.raises(ValueError, match="out of range"):
        MasiRegion(7, 0, 0)


@given(region_maps)
def test_masi_and_mmasi_stay_in_range(regions: dict[str, MasiRegion]) -> None:
    assert 0 <= rules.masi(regions) <= 48
    assert 0 <= rules.mmasi(regions) <= 24
    assert rules.mmasi(regions) <= rules.masi(regions)


@given(region_maps)
def test_masi_is_exact_to_one_decimal(regions: dict[str, MasiRegion]) -> None:
    weights = {"forehead": 0.3, "malar_right": 0.3, "malar_left": 0.3, "chin": 0.1}
    expected = sum(weights[c] * r.area * (r.darkness + r.homogeneity) for c, r in regions.items())
    assert rules.masi(regions) == pytest.approx(expected)
    assert rules.masi(regions) == round(rules.masi(regions), 1)


@given(region_maps, st.sampled_from(REGIONS), st.sampled_from(["area", "darkness", "homogeneity"]))
def test_masi_never_falls_when_a_component_rises(
    regions: dict[str, MasiRegion], region: str, part: str
) -> None:
    before = regions[region]
    limit = 6 if part == "area" else 4
    raised = {
        **regions,
        region: MasiRegion(**{**before.__dict__, part: min(getattr(before, part) + 1, limit)}),
    }
    assert rules.masi(raised) >= rules.masi(regions)
    assert rules.mmasi(raised) >= rules.mmasi(regions)


@given(region_maps)
def test_mmasi_is_at_most_half_masi_when_darkness_never_exceeds_homogeneity(
    regions: dict[str, MasiRegion],
) -> None:
    capped = {
        c: MasiRegion(r.area, min(r.darkness, r.homogeneity), r.homogeneity) for c, r in regions.items()
    }
    assert rules.mmasi(capped) <= rules.masi(capped) / 2 + 1e-9
    equal = {c: MasiRegion(r.area, r.darkness, r.darkness) for c, r in regions.items()}
    assert rules.mmasi(equal) == pytest.approx(rules.masi(equal) / 2)


def test_mmasi_bands_follow_the_verify_cut_offs() -> None:
    assert [rules.band("mmasi", v) for v in (0, 3.1, 3.2, 6.5, 6.6, 24)] == [
        "mild",
        "mild",
        "moderate",
        "moderate",
        "severe",
        "severe",
    ]
    assert rules.band("wsrs", 3) is None


# --------------------------------------------------------------------------- severity


def test_severity_runs_from_none_to_worst_whichever_way_the_scale_points() -> None:
    assert rules.severity("wsrs", 1) == 0
    assert rules.severity("wsrs", 5) == 1
    assert rules.severity("vas_hydration", 100) == 0
    assert rules.severity("vas_hydration", 25) == pytest.approx(0.75)
    assert rules.severity("gais", 5) == 0  # an outcome, not a concern grade
    assert rules.severity("fitzpatrick", 6) == 0


@given(st.sampled_from(sorted(rules.reference().scales)), st.floats(-1000, 1000))
def test_severity_is_always_between_zero_and_one(code: str, value: float) -> None:
    assert 0 <= rules.severity(code, value) <= 1


def test_concern_severity_takes_the_worst_grade_per_concern_most_severe_first() -> None:
    findings = [
        rules.Finding("fine_lines", "crows_feet", "L", "merz_crows_feet", 1),
        rules.Finding("fine_lines", "crows_feet", "R", "merz_crows_feet", 3),
        rules.Finding("dehydration", "full_face", "M", "vas_hydration", 10),
        rules.Finding("fine_lines", "full_face", "M", "gais", 5),
    ]
    result = rules.concern_severity(findings)
    assert list(result) == ["dehydration", "fine_lines"]
    assert result == {"dehydration": pytest.approx(0.9), "fine_lines": pytest.approx(0.75)}
    with_glogau = rules.concern_severity([], glogau=4)
    assert with_glogau == {"fine_lines": 1.0}


# --------------------------------------------------------------------------- advice


def codes(advice: list[rules.Advice]) -> list[str]:
    return [a.code for a in advice]


def test_glogau_iv_suggests_expectations_and_a_surgical_consult() -> None:
    result = rules.advice(4, [], [])
    assert codes(result) == ["expectation-no-lift", "surgical-consult"]
    assert result[1].kind == "referral"
    assert "Glogau IV" in result[0].reason
    assert "does not lift" in result[0].message
    assert "pubmed.ncbi.nlm.nih.gov/34516073" in result[0].source


def test_a_lifting_goal_alone_triggers_the_referral_suggestion() -> None:
    assert codes(rules.advice(None, ["lifting"], [])) == ["expectation-no-lift", "surgical-consult"]


def test_severe_laxity_grade_triggers_the_referral_suggestion() -> None:
    severe = rules.Finding("laxity", "jawline", "L", "merz_jawline", 3)
    moderate = rules.Finding("laxity", "jawline", "L", "merz_jawline", 2)
    assert codes(rules.advice(2, [], [severe])) == ["expectation-no-lift", "surgical-consult"]
    assert "merz_jawline 3 on jawline L" in rules.advice(2, [], [severe])[0].reason
    assert rules.advice(2, [], [moderate]) == []


def test_no_advice_without_a_trigger() -> None:
    assert rules.advice(3, ["hydration", "radiance"], []) == []
    assert rules.advice(None, [], []) == []


def test_higher_phototypes_with_pigmentation_get_a_pigmentary_risk_note() -> None:
    melasma = rules.Finding("pigmentation", "full_face", "M", "mmasi", 5)
    assert codes(rules.advice(None, [], [melasma], fitzpatrick=4)) == ["pigmentary-risk"]
    assert codes(rules.advice(None, ["pigmentation"], [], fitzpatrick=5)) == ["pigmentary-risk"]
    assert rules.advice(None, [], [melasma], fitzpatrick=3) == []
    assert rules.advice(None, [], [], fitzpatrick=6) == []
