"""The pure imaging rules: intake refusals, quality flags, pair reliability, smallest real change."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesoclinic.imaging import rules
from mesoclinic.imaging.metrics import METRIC_CODES
from mesoclinic.imaging.reference import metric_specs, reference
from mesoclinic.imaging.rules import CaptureMeasures, MetricSpec, SmallestRealChange
from mesoclinic.imaging.zones import ZONE_CODES

THRESHOLDS = reference().quality


def spec(
    better: rules.Better = "lower", kind: str = "absolute", value: float = 1.0, floor: float = 0.0
) -> MetricSpec:
    return MetricSpec(
        code="m",
        unit="u",
        method="test",
        better=better,
        smallest_real_change=SmallestRealChange.model_validate(
            {"kind": kind, "value": value, "floor": floor}
        ),
        source="test",
    )


def test_reference_data_names_every_zone_and_metric_the_code_measures_with_a_source() -> None:
    ref = reference()
    assert tuple(z.code for z in ref.zones) == ZONE_CODES
    assert set(metric_specs()) == set(METRIC_CODES)
    assert all(z.source and m.source for z in ref.zones for m in ref.metrics)
    sides = {z.code: z.side for z in ref.zones}
    assert all(sides[code] == code[-1] for code in ZONE_CODES if code.endswith(("_L", "_R")))


def ftyp(major: bytes, *compatible: bytes, size: int | None = None) -> bytes:
    """An ISO-BMFF ``ftyp`` box: major brand, minor version 0, compatible brands."""
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return (size or 8 + len(body)).to_bytes(4, "big") + b"ftyp" + body


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (ftyp(b"heic", b"mif1", b"heic", b"miaf"), "image/heic"),  # what an iPhone writes
        (ftyp(b"heix", b"mif1", b"heix"), "image/heic"),
        (ftyp(b"mif1", b"mif1", b"heic", b"miaf"), "image/heic"),  # many Android phones
        (ftyp(b"msf1", b"hevc"), "image/heic"),
        (ftyp(b"mif1", b"mif1", b"miaf"), "image/heif"),  # HEIF without a codec brand
        (ftyp(b"avif", b"mif1", b"avif"), None),  # AVIF: HEIF with AV1, not accepted
        (ftyp(b"mif1", b"avif", b"heic"), None),  # contradictory brands
        (ftyp(b"isom", b"isom", b"mp41"), None),  # an MP4 video
        (ftyp(b"qt  "), None),  # a QuickTime movie
        (ftyp(b"heic", size=7), None),  # a box too short to be one
        (ftyp(b"heic", size=18), None),  # a box size that is not whole brands
        (b"\x00\x00\x00\x18ftyp", None),  # truncated before the brand
        (b"\x00\x00\x00\x18moovheic", None),  # the brand without an ftyp box
        (b"GIF89a", None),
        (b"RIFF\x00\x00\x00\x00WEBP", None),
        (b"", None),
        (b"\xff\xd8", None),
    ],
)
def test_it_recognises_jpeg_png_and_heic_from_magic_bytes_only(head: bytes, expected: str | None) -> None:
    assert rules.sniff_media_type(head[: rules.SNIFF_BYTES]) == expected


@given(st.binary(max_size=rules.SNIFF_BYTES))
def test_sniffing_never_fails_on_arbitrary_bytes(head: bytes) -> None:
    assert rules.sniff_media_type(head) in (None, "image/jpeg", "image/png", "image/heic", "image/heif")


@given(st.integers(1, 100_000), st.integers(1, 100_000))
def test_dimensions_beyond_the_pixel_budget_are_a_decompression_bomb(width: int, height: int) -> None:
    problem = rules.dimension_problem(width, height)
    if width * height > rules.MAX_PIXELS:
        assert problem is not None
        assert problem.code == rules.DECOMPRESSION_BOMB
    elif problem is not None:
        assert problem.code == rules.IMAGE_DIMENSIONS
        assert (
            min(width, height) < rules.MIN_SIDE
            or max(width, height) > rules.MAX_SIDE
            or max(width, height) / min(width, height) > rules.MAX_ASPECT
        )


@pytest.mark.parametrize(
    ("size", "code"),
    [
        ((4000, 3000), None),
        ((3024, 4032), None),
        ((512, 512), None),
        ((255, 400), rules.IMAGE_DIMENSIONS),
        ((12_001, 5000), rules.IMAGE_DIMENSIONS),
        ((3000, 900), rules.IMAGE_DIMENSIONS),
        ((9000, 8000), rules.DECOMPRESSION_BOMB),
    ],
)
def test_it_accepts_photo_shapes_and_refuses_absurd_ones(size: tuple[int, int], code: str | None) -> None:
    problem = rules.dimension_problem(*size)
    assert (problem.code if problem else None) == code


def test_exactly_one_face_is_required() -> None:
    assert rules.face_count_problem(1) is None
    assert rules.face_count_problem(0) == rules.Problem(rules.NO_FACE, "No face was found in the photo.")
    several = rules.face_count_problem(2)
    assert several is not None
    assert several.code == rules.SEVERAL_FACES


def test_a_visit_cannot_be_in_the_clinics_future() -> None:
    today = date(2026, 11, 25)
    assert rules.visit_problem(today, today) is None
    assert rules.visit_problem(today - timedelta(days=400), today) is None
    problem = rules.visit_problem(today + timedelta(days=1), today)
    assert problem is not None
    assert problem.code == rules.VISIT_IN_FUTURE


GOOD = CaptureMeasures(
    view="front",
    face_iod_px=600,
    sharpness=10.0,
    clipped_pct=0.2,
    black_pct_by_zone={"forehead": 0.5, "cheek_R": 0.0},
    yaw=0.01,
    alignment_residual_iod=0.005,
    colour_calibrated=True,
)


def test_a_good_capture_has_no_quality_flags() -> None:
    assert rules.quality_flags(GOOD, THRESHOLDS) == []


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"clipped_pct": 1.5}, rules.EXPOSURE_CLIPPED),
        ({"black_pct_by_zone": {"forehead": 6.0, "cheek_R": 0.0}}, rules.SKIN_OBSCURED),
        ({"yaw": -0.3}, rules.POSE_OFF),
        ({"alignment_residual_iod": 0.03}, rules.ALIGNMENT_UNRELIABLE),
        ({"face_iod_px": 100}, rules.LOW_RESOLUTION),
        ({"sharpness": 0.5}, rules.BLURRED),
        ({"colour_calibrated": False}, rules.COLOUR_UNCALIBRATED),
    ],
)
def test_each_capture_defect_gets_its_flag(change: dict[str, object], flag: str) -> None:
    from dataclasses import replace

    assert rules.quality_flags(replace(GOOD, **change), THRESHOLDS) == [flag]  # type: ignore[arg-type]


def test_an_angled_view_is_not_flagged_for_its_yaw_or_its_distance_from_the_frontal_template() -> None:
    from dataclasses import replace

    angled = replace(GOOD, view="left45", yaw=0.5, alignment_residual_iod=0.06)
    assert rules.quality_flags(angled, THRESHOLDS) == []
    assert rules.quality_flags(replace(angled, view="front"), THRESHOLDS) == [
        rules.POSE_OFF,
        rules.ALIGNMENT_UNRELIABLE,
    ]


def test_a_pair_is_unreliable_when_misaligned_turned_differently_or_of_different_views() -> None:
    def flags(**kw: object) -> list[str]:
        args: dict[str, object] = {
            "residual_iod": 0.005,
            "yaw_before": 0.0,
            "yaw_after": 0.02,
            "view_before": "front",
            "view_after": "front",
        }
        args.update(kw)
        return rules.pair_flags(t=THRESHOLDS, **args)  # type: ignore[arg-type]

    assert flags() == []
    assert flags(residual_iod=0.05) == [rules.ALIGNMENT_UNRELIABLE]
    assert flags(yaw_after=0.2) == [rules.POSE_DIFFERS]
    assert flags(view_after="left45") == [rules.VIEW_DIFFERS]
    assert flags(view_before=None) == []


def test_every_capture_flag_has_plain_advice_and_only_measurement_defects_ask_for_a_retake() -> None:
    flags = [rules.BLURRED, rules.EXPOSURE_CLIPPED, rules.POSE_OFF, rules.ALIGNMENT_UNRELIABLE,
             rules.LOW_RESOLUTION, rules.COLOUR_UNCALIBRATED]  # fmt: skip
    advice = rules.capture_advice(flags)
    assert [a.flag for a in advice] == flags
    assert {a.flag for a in advice if not a.retake} == {rules.COLOUR_UNCALIBRATED}
    assert all(a.advice.startswith("Retake: ") for a in advice if a.retake)
    assert advice[0].advice.startswith("Retake: the photo is blurred.")


def test_every_flag_a_capture_can_get_has_its_own_advice() -> None:
    worst = CaptureMeasures(
        view="front",
        face_iod_px=10,
        sharpness=0.0,
        clipped_pct=100.0,
        black_pct_by_zone={"forehead": 100.0},
        yaw=1.0,
        alignment_residual_iod=1.0,
        colour_calibrated=False,
    )
    flags = rules.quality_flags(worst, THRESHOLDS)
    assert set(flags) <= set(rules.CAPTURE_ADVICE)
    assert len(flags) == len(rules.CAPTURE_ADVICE)


def test_an_unknown_flag_gets_a_neutral_note_not_a_retake() -> None:
    (advice,) = rules.capture_advice(["glare"])
    assert advice == rules.Advice("glare", False, "Quality flag 'glare': see the measured values.")


def test_every_pair_flag_is_explained() -> None:
    flags = rules.pair_flags(
        residual_iod=1.0,
        yaw_before=0.0,
        yaw_after=1.0,
        view_before="front",
        view_after="left45",
        t=THRESHOLDS,
    )
    advice = rules.pair_advice(flags)
    assert (
        [a.flag for a in advice]
        == flags
        == [rules.VIEW_DIFFERS, rules.ALIGNMENT_UNRELIABLE, rules.POSE_DIFFERS]
    )
    assert all(a.retake and a.advice for a in advice)


@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(0.01, 100),
    st.sampled_from(["lower", "higher"]),
)
def test_only_changes_beyond_the_smallest_real_change_are_called(
    before: float, after: float, mdc: float, better: rules.Better
) -> None:
    metric = spec(better=better, value=mdc)
    called = rules.verdict(metric, before, after)
    if abs(after - before) <= mdc:
        assert called == "no-real-change"
    else:
        improved = (after < before) if better == "lower" else (after > before)
        assert called == ("improved" if improved else "worsened")
        # Swapping the visits swaps the verdict.
        assert rules.verdict(metric, after, before) == ("worsened" if improved else "improved")


@given(st.floats(0, 1e4), st.floats(0.001, 1), st.floats(0, 10))
def test_a_relative_smallest_real_change_scales_with_the_baseline_but_never_below_its_floor(
    before: float, fraction: float, floor: float
) -> None:
    metric = spec(kind="relative", value=fraction, floor=floor)
    assert rules.smallest_real_change(metric, before) == max(fraction * before, floor)
    assert rules.smallest_real_change(metric, -before) == rules.smallest_real_change(metric, before)


def test_descriptive_metrics_are_never_called_better_or_worse() -> None:
    assert rules.verdict(spec(better="none"), 10.0, 50.0) == "descriptive"


def test_zone_comparison_covers_the_zones_and_metrics_both_visits_have() -> None:
    specs = {"a_star": metric_specs()["a_star"], "spot_count": metric_specs()["spot_count"]}
    before = {"cheek_L": {"a_star": 10.0, "spot_count": 10.0}, "chin": {"a_star": 8.0}}
    after = {"cheek_L": {"a_star": 7.0, "spot_count": 10.3, "unknown": 1.0}, "forehead": {"a_star": 1.0}}
    result = rules.compare_zones(before, after, specs, calibrated=True)
    assert set(result) == {"cheek_L"}
    assert set(result["cheek_L"]) == {"a_star", "spot_count"}
    assert result["cheek_L"]["a_star"].verdict == "improved"  # 3 a* units down: beyond noise either way
    assert result["cheek_L"]["spot_count"].verdict == "no-real-change"  # a faint third of a spot: noise
    assert result["cheek_L"]["a_star"].delta == pytest.approx(-3.0)


def test_uncalibrated_colours_need_a_larger_change_to_count() -> None:
    """Without a chart in both photos the device's colours are trusted: a change the chart-corrected
    measurement resolves is within the noise of an uncalibrated one."""
    redness = metric_specs()["a_star"]
    calibrated_noise = rules.smallest_real_change(redness, 10.0)
    uncalibrated_noise = rules.smallest_real_change(redness, 10.0, calibrated=False)
    assert calibrated_noise < uncalibrated_noise
    between = 10.0 - (calibrated_noise + uncalibrated_noise) / 2
    assert rules.verdict(redness, 10.0, between) == "improved"
    assert rules.verdict(redness, 10.0, between, calibrated=False) == "no-real-change"
    before, after = {"cheek_L": {"a_star": 10.0}}, {"cheek_L": {"a_star": between}}
    judged = rules.compare_zones(before, after, {"a_star": redness}, calibrated=False)
    assert judged["cheek_L"]["a_star"].smallest_real_change == uncalibrated_noise


def test_a_zone_covered_in_either_photo_is_shown_but_not_judged() -> None:
    """A fringe over the forehead in one photo hides its lines and spots: that is not a treatment
    effect, however large the change."""
    specs = {"line_length_iod": metric_specs()["line_length_iod"], "a_star": metric_specs()["a_star"]}
    before = {zone: {"line_length_iod": 1.0, "a_star": 10.0} for zone in ("forehead", "cheek_L")}
    after = {zone: {"line_length_iod": 0.2, "a_star": 10.0} for zone in ("forehead", "cheek_L")}
    result = rules.compare_zones(before, after, specs, calibrated=True, obscured=["forehead"])
    assert [c.verdict for c in result["forehead"].values()] == ["obscured", "obscured"]
    assert result["forehead"]["line_length_iod"].delta == pytest.approx(-0.8)  # still shown
    assert result["cheek_L"]["line_length_iod"].verdict == "improved"
    assert result["cheek_L"]["a_star"].verdict == "no-real-change"
