"""Skin assessment rules: pure functions over the scale and zone reference data.

What a clinician reviews here: which scales exist and how each is validated (range, step,
laterality, method, rest/dynamic state), the MASI/mMASI formulas, how a grade becomes a 0–1
severity for the formulation proposal, and when the assessment produces expectation-setting advice
and a surgical-consult referral suggestion. Every fact comes from ``data/*.yaml`` with its source.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

Side = Literal["L", "R", "M"]

# --------------------------------------------------------------------------- reference data


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Zone(_Frozen):
    """A facial zone for charting: findings, the session face chart and imaging use these codes."""

    code: str = Field(pattern=r"^[a-z_]+$")
    label: str
    region: str
    laterality: Literal["bilateral", "midline"]
    source: str = Field(min_length=1)

    @property
    def sides(self) -> tuple[Side, ...]:
        """Bilateral zones are charted per side (L/R); midline zones use M."""
        return ("L", "R") if self.laterality == "bilateral" else ("M",)


class MelasmaRegion(_Frozen):
    code: str
    label: str
    weight: float = Field(gt=0, le=1)
    zones: tuple[str, ...]
    sides: tuple[Side, ...]


class Band(_Frozen):
    label: str
    #: Upper bound (exclusive); the last band has none.
    below: float | None = None


class Scale(_Frozen):
    code: str = Field(pattern=r"^[a-z_]+$")
    name: str
    version: str = ""
    level: Literal["assessment", "finding"]
    kind: Literal["grade", "computed", "outcome"]
    min: float
    max: float
    #: ``None``: continuous (VAS, computed indices).
    step: float | None = None
    direction: Literal["higher_is_worse", "higher_is_better", "none"]
    severe_from: float | None = None
    per_side: bool = False
    states: tuple[str, ...] = ()
    #: ``None``: any zone.
    zones: tuple[str, ...] | None = None
    concerns: tuple[str, ...]
    requires_method: bool = False
    anchors: dict[float, str] = Field(default_factory=dict)
    bands: tuple[Band, ...] = ()
    bands_verify: bool = False
    bands_source: str = ""
    responder_max: float | None = None
    notes: str = ""
    verify: bool = False
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scale:
        if self.min >= self.max:
            raise ValueError(f"{self.code}: min must be below max")
        if self.step is not None and not _on_grid((self.max - self.min) / self.step):
            raise ValueError(f"{self.code}: the step does not divide the range")
        if self.severe_from is not None and not self.min <= self.severe_from <= self.max:
            raise ValueError(f"{self.code}: severe_from is outside the range")
        for value in self.anchors:
            if not self.min <= value <= self.max:
                raise ValueError(f"{self.code}: anchor {value} is outside the range")
        return self


class Concern(_Frozen):
    code: str
    label: str


class Goal(_Frozen):
    code: str
    label: str
    #: A lifting goal: mesotherapy does not lift, so it triggers expectation setting.
    lifting: bool = False


class _ScalesFile(_Frozen):
    version: str
    concerns: tuple[Concern, ...]
    concerns_source: str
    goals: tuple[Goal, ...]
    goals_source: str
    scales: tuple[Scale, ...]


class _ZonesFile(_Frozen):
    version: str
    source_note: str
    zones: tuple[Zone, ...]
    melasma_regions: tuple[MelasmaRegion, ...]
    melasma_regions_source: str


@dataclass(frozen=True)
class Reference:
    """The assessment reference data, validated across both files."""

    version: str
    zones: Mapping[str, Zone]
    scales: Mapping[str, Scale]
    concerns: Mapping[str, Concern]
    goals: Mapping[str, Goal]
    melasma_regions: Mapping[str, MelasmaRegion]


MASI_REGIONS = ("forehead", "malar_right", "malar_left", "chin")


def _read(name: str) -> Any:
    return yaml.safe_load(resources.files("mesoclinic.assessment").joinpath("data", name).read_text("utf-8"))


@functools.cache
def reference() -> Reference:
    """Load and cross-check ``scales.yaml`` and ``zones.yaml`` once per process."""
    scales_file = _ScalesFile.model_validate(_read("scales.yaml"))
    zones_file = _ZonesFile.model_validate(_read("zones.yaml"))
    zones = {z.code: z for z in zones_file.zones}
    concerns = {c.code: c for c in scales_file.concerns}
    for scale in scales_file.scales:
        unknown = set(scale.zones or ()) - zones.keys()
        if unknown:
            raise ValueError(f"scale {scale.code} names unknown zones {sorted(unknown)}")
        if set(scale.concerns) - concerns.keys():
            raise ValueError(f"scale {scale.code} names unknown concerns")
    regions = {r.code: r for r in zones_file.melasma_regions}
    if tuple(regions) != MASI_REGIONS:
        raise ValueError(f"melasma regions must be {MASI_REGIONS}")
    if sum(_tenths(r.weight) for r in regions.values()) != 10:
        raise ValueError("melasma region weights must sum to 1")
    for region in regions.values():
        if set(region.zones) - zones.keys():
            raise ValueError(f"melasma region {region.code} names unknown zones")
    return Reference(
        version=f"scales {scales_file.version}, zones {zones_file.version}",
        zones=zones,
        scales={s.code: s for s in scales_file.scales},
        concerns=concerns,
        goals={g.code: g for g in scales_file.goals},
        melasma_regions=regions,
    )


def zone_codes() -> tuple[str, ...]:
    """Every facial zone code, in charting order (for the face chart, imaging and treatment)."""
    return tuple(reference().zones)


def zone(code: str) -> Zone:
    """The zone with this code; ``LookupError`` when there is none."""
    try:
        return reference().zones[code]
    except KeyError:
        raise LookupError(f"unknown zone {code!r}") from None


def zone_sides() -> dict[str, set[str]]:
    """Each zone code with the sides it may be charted on (``{"cheek": {"L", "R"}, "chin": {"M"}}``)."""
    return {code: set(z.sides) for code, z in reference().zones.items()}


def scale(code: str) -> Scale:
    try:
        return reference().scales[code]
    except KeyError:
        raise LookupError(f"unknown scale {code!r}") from None


def concern_codes() -> tuple[str, ...]:
    return tuple(reference().concerns)


# --------------------------------------------------------------------------- MASI / mMASI


@dataclass(frozen=True)
class MasiRegion:
    """One melasma region's scores: area 0–6, darkness 0–4, homogeneity 0–4."""

    area: int
    darkness: int
    homogeneity: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.area <= 6 and 0 <= self.darkness <= 4 and 0 <= self.homogeneity <= 4):
            raise ValueError("MASI region scores out of range (area 0–6, darkness/homogeneity 0–4)")


MASI_AREA_MAX = 6
MASI_GRADE_MAX = 4


def _tenths(weight: float) -> int:
    tenths = round(weight * 10)
    if not math.isclose(tenths, weight * 10):
        raise ValueError("melasma region weights are expressed in tenths")
    return tenths


def _weighted_tenths(regions: Mapping[str, MasiRegion], *, homogeneity: bool) -> int:
    if set(regions) != set(MASI_REGIONS):
        raise ValueError(f"MASI needs exactly the regions {MASI_REGIONS}")
    weights = reference().melasma_regions
    return sum(
        _tenths(weights[code].weight) * r.area * (r.darkness + (r.homogeneity if homogeneity else 0))
        for code, r in regions.items()
    )


def masi(regions: Mapping[str, MasiRegion]) -> float:
    """MASI = Σ weight·A·(D+H) over forehead (0.3), right and left malar (0.3 each) and chin (0.1).

    Range 0–48. Computed in integer tenths, so the result is exact to one decimal.
    Source: Kimbrough-Green via https://www.medicalalgorithms.com/melasma-area-and-severity-index-masi-of-kimbrough-green-et-al
    """
    return _weighted_tenths(regions, homogeneity=True) / 10


def mmasi(regions: Mapping[str, MasiRegion]) -> float:
    """Modified MASI (Pandya 2011) drops homogeneity: Σ weight·A·D, range 0–24.

    Source: https://jamanetwork.com/journals/jamadermatology/fullarticle/2519450
    """
    return _weighted_tenths(regions, homogeneity=False) / 10


# --------------------------------------------------------------------------- finding validation


@dataclass(frozen=True)
class Problem:
    """One reason an input is refused: a stable rule code, the offending field, plain language."""

    code: str
    field: str
    message: str


@dataclass(frozen=True)
class FindingInput:
    concern: str
    zone: str
    scale: str
    value: float | None = None
    side: str | None = None
    method: str = ""
    components: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """A validated finding, ready to store (value computed for MASI/mMASI)."""

    concern: str
    zone: str
    side: Side
    scale: str
    value: float
    method: str = ""
    components: Mapping[str, Any] = field(default_factory=dict)


def _on_grid(x: float) -> bool:
    return math.isclose(x, round(x), abs_tol=1e-9)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _masi_regions(
    components: Mapping[str, Any], *, homogeneity: bool, prefix: str
) -> tuple[dict[str, MasiRegion], list[Problem]]:
    problems: list[Problem] = []
    regions: dict[str, MasiRegion] = {}
    parts = ("area", "darkness", "homogeneity") if homogeneity else ("area", "darkness")
    limits = {"area": MASI_AREA_MAX, "darkness": MASI_GRADE_MAX, "homogeneity": MASI_GRADE_MAX}
    for extra in sorted(set(components) - set(MASI_REGIONS)):
        problems.append(
            Problem("component-unknown", f"{prefix}.{extra}", f"{extra} is not a MASI region {MASI_REGIONS}.")
        )
    for code in MASI_REGIONS:
        raw = components.get(code)
        if not isinstance(raw, Mapping):
            problems.append(
                Problem(
                    "component-missing", f"{prefix}.{code}", f"Score the {code} region ({', '.join(parts)})."
                )
            )
            continue
        scores: dict[str, int] = {}
        for part in sorted(set(raw) - set(parts)):
            problems.append(
                Problem("component-unknown", f"{prefix}.{code}.{part}", f"{part} is not scored here.")
            )
        for part in parts:
            value: Any = raw.get(part)
            if not (_is_number(value) and _on_grid(value) and 0 <= value <= limits[part]):
                problems.append(
                    Problem(
                        "component-out-of-range",
                        f"{prefix}.{code}.{part}",
                        f"{part} must be a whole number from 0 to {limits[part]}.",
                    )
                )
                continue
            scores[part] = round(value)
        if len(scores) == len(parts):
            regions[code] = MasiRegion(**scores)
    return regions, problems


def check_finding(finding: FindingInput, index: int) -> tuple[Finding | None, list[Problem]]:
    """Validate one finding against its scale and zone; every problem names its exact field."""
    ref = reference()
    prefix = f"findings.{index}"
    problems: list[Problem] = []

    def refuse(code: str, name: str, message: str) -> None:
        problems.append(Problem(code, f"{prefix}.{name}", message))

    sc = ref.scales.get(finding.scale)
    if sc is None:
        refuse("unknown-scale", "scale", f"Unknown scale {finding.scale!r}.")
    elif sc.level != "finding":
        refuse("scale-not-for-findings", "scale", f"{sc.name} is recorded once per assessment, not per zone.")
        sc = None

    if finding.concern not in ref.concerns:
        refuse("unknown-concern", "concern", f"Unknown concern {finding.concern!r}.")
    elif sc is not None and finding.concern not in sc.concerns:
        refuse("scale-concern-mismatch", "concern", f"{sc.name} does not grade {finding.concern}.")

    zn = ref.zones.get(finding.zone)
    side: str | None = finding.side
    if zn is None:
        refuse("unknown-zone", "zone", f"Unknown zone {finding.zone!r}.")
    else:
        if sc is not None and sc.zones is not None and zn.code not in sc.zones:
            refuse("scale-zone-mismatch", "zone", f"{sc.name} is rated on: {', '.join(sc.zones)}.")
        if side is None:
            if zn.laterality == "midline":
                side = "M"
            else:
                refuse("side-required", "side", f"{zn.label} is rated per side: give L or R.")
        elif side not in zn.sides:
            refuse("side-mismatch", "side", f"{zn.label} takes side {' or '.join(zn.sides)}.")
    if sc is not None and sc.per_side and side not in (None, "L", "R"):
        refuse("side-required", "side", f"{sc.name} is rated for each side separately.")

    if sc is None:
        return None, problems

    if sc.requires_method and not finding.method.strip():
        refuse("method-required", "method", f"{sc.name} needs the method used (e.g. blinded photo panel).")

    components = dict(finding.components)
    value = finding.value
    if sc.kind == "computed":
        regions, region_problems = _masi_regions(
            components, homogeneity=sc.code == "masi", prefix=f"{prefix}.components"
        )
        problems.extend(region_problems)
        if not region_problems:
            computed = masi(regions) if sc.code == "masi" else mmasi(regions)
            if value is not None and not math.isclose(value, computed, abs_tol=0.05):
                refuse(
                    "value-mismatch", "value", f"{sc.name} from the components is {computed}, not {value}."
                )
            value = computed
    else:
        allowed = {"state"} if sc.states else set()
        for extra in sorted(set(components) - allowed):
            refuse("component-unknown", f"components.{extra}", f"{sc.name} takes no component {extra!r}.")
        if sc.states and components.get("state") not in sc.states:
            refuse("state-required", "components.state", f"Say whether rated {' or '.join(sc.states)}.")
        if value is None:
            refuse("value-required", "value", f"Give the {sc.name} value.")
        elif not (math.isfinite(value) and sc.min <= value <= sc.max):
            refuse("value-out-of-range", "value", f"{sc.name} runs from {sc.min:g} to {sc.max:g}.")
        elif sc.step is not None and not _on_grid((value - sc.min) / sc.step):
            refuse("value-off-step", "value", f"{sc.name} moves in steps of {sc.step:g}.")

    if problems or value is None or side not in ("L", "R", "M"):
        return None, problems
    return (
        Finding(
            concern=finding.concern,
            zone=finding.zone,
            side=side,  # type: ignore[arg-type]  # narrowed by the membership test above
            scale=sc.code,
            value=float(value),
            method=finding.method.strip(),
            components=components,
        ),
        [],
    )


def check_findings(findings: Sequence[FindingInput]) -> tuple[list[Finding], list[Problem]]:
    """Validate every finding, and refuse the same scale graded twice on the same zone, side and state."""
    valid: list[Finding] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    for index, raw in enumerate(findings):
        finding, found = check_finding(raw, index)
        problems.extend(found)
        if finding is None:
            continue
        key = (finding.scale, finding.zone, finding.side, str(finding.components.get("state", "")))
        if key in seen:
            problems.append(
                Problem(
                    "duplicate-finding",
                    f"findings.{index}",
                    f"Finding {seen[key]} already grades {finding.scale} on this zone and side.",
                )
            )
            continue
        seen[key] = index
        valid.append(finding)
    return valid, problems


def check_goals(goals: Sequence[str]) -> list[Problem]:
    known = reference().goals
    return [
        Problem("unknown-goal", f"goals.{i}", f"Unknown goal {goal!r}; known: {', '.join(known)}.")
        for i, goal in enumerate(goals)
        if goal not in known
    ]


# --------------------------------------------------------------------------- severity


def severity(scale_code: str, value: float) -> float:
    """A grade as 0 (nothing to treat) … 1 (worst on its scale), whichever way the scale runs."""
    sc = scale(scale_code)
    if sc.direction == "none" or sc.kind == "outcome":
        return 0.0
    fraction = (min(max(value, sc.min), sc.max) - sc.min) / (sc.max - sc.min)
    return fraction if sc.direction == "higher_is_worse" else 1.0 - fraction


def band(scale_code: str, value: float) -> str | None:
    """The severity band of a value on scales that define bands (mMASI, [verify] cut-offs)."""
    for b in scale(scale_code).bands:
        if b.below is None or value < b.below:
            return b.label
    return None


def concern_severity(findings: Iterable[Finding], glogau: int | None = None) -> dict[str, float]:
    """The worst severity per concern, most severe first; outcome scales (GAIS) do not count.

    Glogau counts towards the concerns it grades (fine lines)."""
    worst: dict[str, float] = {}
    graded = [(f.concern, severity(f.scale, f.value)) for f in findings]
    if glogau is not None:
        graded += [(c, severity("glogau", glogau)) for c in scale("glogau").concerns]
    for concern, value in graded:
        worst[concern] = max(worst.get(concern, 0.0), value)
    return dict(sorted(worst.items(), key=lambda item: (-item[1], item[0])))


def is_severe(scale_code: str, value: float) -> bool:
    sc = scale(scale_code)
    if sc.severe_from is None or sc.direction == "none":
        return False
    return value >= sc.severe_from if sc.direction == "higher_is_worse" else value <= sc.severe_from


# --------------------------------------------------------------------------- advice


@dataclass(frozen=True)
class Advice:
    """An expectation-setting note or a referral suggestion, produced when an assessment is saved."""

    code: str
    kind: Literal["expectation", "referral"]
    message: str
    reason: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "kind": self.kind,
            "message": self.message,
            "reason": self.reason,
            "source": self.source,
        }


NO_LIFT_SOURCE = (
    "Issue 'Clinical workflow' §3 (clinic requirement: mesotherapy does not lift like a facelift); "
    "effects are modest, 10–40% in instrument measures (reference.md §8); no conclusive efficacy data "
    "for facial rejuvenation, https://pubmed.ncbi.nlm.nih.gov/34516073"
)
PIGMENTARY_RISK_SOURCE = "https://www.theaestheticguide.com/cosmetic-surgery/wrinkle-scales-use-or-not-use"


def advice(
    glogau: int | None,
    goals: Sequence[str],
    findings: Iterable[Finding],
    fitzpatrick: int | None = None,
) -> list[Advice]:
    """Rule ``laxity-expectations``: Glogau IV, a lifting goal or a severe laxity grade produce an
    expectation note and a surgical-consult referral suggestion (mesotherapy does not lift).
    Rule ``pigmentary-risk``: phototype IV–VI with pigmentation concerns gets a caution note."""
    findings = list(findings)
    reasons: list[str] = []
    if glogau is not None and is_severe("glogau", glogau):
        reasons.append("Glogau IV (severe photoaging)")
    goal_table = reference().goals
    if lifting := [g for g in goals if g in goal_table and goal_table[g].lifting]:
        reasons.append(f"goal: {', '.join(lifting)}")
    for f in findings:
        if f.concern == "laxity" and is_severe(f.scale, f.value):
            reasons.append(f"severe laxity: {f.scale} {f.value:g} on {f.zone} {f.side}")
    result: list[Advice] = []
    if reasons:
        reason = "; ".join(reasons)
        result.append(
            Advice(
                "expectation-no-lift",
                "expectation",
                "Mesotherapy improves skin quality (hydration, fine lines, radiance); it does not lift "
                "like a facelift. Expect modest changes (about 10–40% in instrument measures) that fade "
                "over months.",
                reason,
                NO_LIFT_SOURCE,
            )
        )
        result.append(
            Advice(
                "surgical-consult",
                "referral",
                "Suggest a surgical consultation to discuss lifting options.",
                reason,
                NO_LIFT_SOURCE,
            )
        )
    pigmented = any(f.concern == "pigmentation" for f in findings) or "pigmentation" in goals
    if fitzpatrick is not None and fitzpatrick >= 4 and pigmented:
        result.append(
            Advice(
                "pigmentary-risk",
                "expectation",
                "Higher phototypes carry more pigmentary risk after procedures; discuss this and "
                "sun protection.",
                f"Fitzpatrick {fitzpatrick} with pigmentation concern",
                PIGMENTARY_RISK_SOURCE,
            )
        )
    return result
