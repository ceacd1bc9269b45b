"""How a before/after comparison reads for people: zone and metric names, the per-zone table rows,
and the plain-words outcome that answers the patient's question "does it work for me?".

Only ``improved``/``worsened`` verdicts count as change: the comparison gives them only beyond a
metric's smallest real change (``rules.compare_zones``), so noise is never called an improvement.
Shared by the staff photo pages and the portal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mesoclinic.imaging.reference import metric_specs, reference
from mesoclinic.imaging.schemas import FlagAdvice, MetricChangeRead, PhotoComparison

#: Zone names for people (the subject's own side). Codes and geometry: ``data/imaging.yaml``.
ZONE_NAMES = {
    "forehead": "Forehead",
    "glabella": "Between the brows",
    "crows_feet": "Crow's feet",
    "periorbital": "Under the eye",
    "cheek": "Cheek",
    "nasolabial": "Nasolabial fold",
    "perioral": "Around the mouth",
    "chin": "Chin",
}
SIDE_NAMES = {"R": "right", "L": "left", "M": ""}
#: Metric names for people; units, methods and the smallest real change come from the reference.
METRIC_NAMES = {
    "L_star": "Lightness",
    "a_star": "Redness",
    "b_star": "Yellowness",
    "ita_deg": "Skin tone angle (ITA)",
    "hue_deg": "Hue angle",
    "evenness_sd": "Unevenness of tone",
    "wrinkle_index": "Wrinkle index",
    "line_density_pct": "Line density",
    "line_length_iod": "Line length",
    "spot_count": "Spots",
    "spot_area_pct": "Spot area",
    "spot_contrast": "Spot contrast",
    "roughness": "Roughness",
    "radiance_proxy": "Radiance (proxy)",
}
#: The concern each judged metric speaks to (several metrics measure fine lines, or spots) ...
CONCERN_OF = {
    "wrinkle_index": "lines",
    "line_density_pct": "lines",
    "line_length_iod": "lines",
    "spot_count": "spots",
    "spot_area_pct": "spots",
    "spot_contrast": "spots",
    "a_star": "redness",
    "evenness_sd": "evenness",
    "roughness": "texture",
    "radiance_proxy": "radiance",
}
#: ... and that concern in a patient's words: (what it is, better, worse).
CONCERN_WORDS = {
    "lines": ("fine lines", "fewer fine lines", "more fine lines"),
    "spots": ("spots", "fewer or fainter spots", "more or darker spots"),
    "redness": ("redness", "less redness", "more redness"),
    "evenness": ("evenness of tone", "a more even tone", "a less even tone"),
    "texture": ("texture", "smoother texture", "rougher texture"),
    "radiance": ("radiance", "more radiance", "less radiance"),
}
VERDICT_WORDS = {
    "improved": "Improved",
    "worsened": "Worsened",
    "no-real-change": "No real change",
    "descriptive": "Descriptive (not judged)",
    "obscured": "Not judged (skin covered)",
}


def zone_name(code: str) -> str:
    spec = next((z for z in reference().zones if z.code == code), None)
    if spec is None:
        return code.replace("_", " ")
    name = ZONE_NAMES.get(spec.assessment_zone, spec.assessment_zone.replace("_", " ").capitalize())
    side = SIDE_NAMES[spec.side]
    return f"{name}, {side}" if side else name


def number(value: float, metric: str = "") -> str:
    """A measured value for a table: counts whole, others to two decimals, or to two significant
    digits below 0.1 (a tiny index must not read 0.00 next to a verdict); never "-0.00"."""
    magnitude = abs(value)
    if metric == "spot_count":
        text = f"{value:.0f}"
    elif magnitude >= 0.1 or magnitude == 0 or not math.isfinite(value):
        text = f"{value:.2f}"
    else:
        text = f"{value:.{1 - math.floor(math.log10(magnitude))}f}"
    return text.replace("-", "−") if text.strip("-0.") else text.lstrip("-")


def signed(value: float, metric: str = "") -> str:
    """A change with its sign (none when it rounds to zero)."""
    text = number(abs(value), metric)
    if not math.isfinite(value) or not text.strip("0."):
        return text
    return ("+" if value > 0 else "−") + text


@dataclass(frozen=True)
class ChangeRow:
    zone: str
    metric: str
    unit: str
    before: str
    after: str
    change: str
    smallest_real_change: str
    verdict: str
    verdict_text: str


def change_rows(comparison: PhotoComparison) -> list[tuple[str, list[ChangeRow]]]:
    """The per-zone metric changes in the reference's zone and metric order, as table rows."""
    specs = metric_specs()
    order = [z.code for z in reference().zones]
    zones = sorted(comparison.zones, key=lambda z: order.index(z) if z in order else len(order))
    groups: list[tuple[str, list[ChangeRow]]] = []
    for zone in zones:
        rows = []
        metrics = comparison.zones[zone]
        for code in [m for m in specs if m in metrics] + sorted(set(metrics) - set(specs)):
            change = metrics[code]
            spec = specs.get(code)
            rows.append(
                ChangeRow(
                    zone=zone_name(zone),
                    metric=METRIC_NAMES.get(code, code),
                    unit=spec.unit if spec else "",
                    before=number(change.before, code),
                    after=number(change.after, code),
                    change=signed(change.delta, code),
                    smallest_real_change=number(change.smallest_real_change, code),
                    verdict=change.verdict,
                    verdict_text=VERDICT_WORDS[change.verdict],
                )
            )
        groups.append((zone_name(zone), rows))
    return groups


@dataclass(frozen=True)
class ZoneOutcome:
    zone: str
    #: What improved or worsened beyond the smallest real change, in plain words.
    better: list[str] = field(default_factory=list)
    worse: list[str] = field(default_factory=list)
    #: Concerns whose measures disagree (one improved, another worsened): no clear change.
    unclear: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """Does it work for me? The comparison's verdicts gathered per zone, in plain words."""

    reliable: bool
    advice: list[FlagAdvice]
    improved: list[ZoneOutcome]
    worsened: list[ZoneOutcome]
    mixed: list[ZoneOutcome]
    unchanged: list[ZoneOutcome]
    #: Zone names whose skin is covered in either photo: shown in the table, not judged.
    obscured: list[str] = field(default_factory=list)

    @property
    def zones(self) -> int:
        return len(self.improved) + len(self.worsened) + len(self.mixed) + len(self.unchanged)

    @property
    def headline(self) -> tuple[str, str]:
        """The short answer (lead, rest of the sentence); only for a reliable pair."""
        better, mixed, worse = len(self.improved), len(self.mixed), len(self.worsened)
        improved = f"{better} of {self.zones} areas improved by more than the measurement noise"
        if better and not mixed and not worse:
            return "Yes, measurably:", f"{improved}, and none got worse."
        if better or mixed:
            parts = [improved if better else "no area improved in every way"]
            if mixed:
                parts.append(f"{mixed} improved in one way but got worse in another")
            if worse:
                parts.append(f"{worse} measured worse")
            return "Partly:", "; ".join(parts) + "."
        if worse:
            return "Not yet:", f"no area improved by more than the measurement noise; {worse} measured worse."
        if not self.zones:
            return "Not judged:", "the skin is covered in every area measured."
        return "No measurable change yet:", "every difference is within the measurement noise."


def zone_outcome(zone: str, changes: dict[str, MetricChangeRead]) -> ZoneOutcome:
    """One zone's judged changes per concern. Only ``improved``/``worsened`` verdicts (a change beyond
    the metric's smallest real change) count; descriptive metrics (tone, hue) are never judged."""
    verdicts: dict[str, set[str]] = {}
    for code in [m for m in metric_specs() if m in changes]:
        if changes[code].verdict in ("improved", "worsened"):
            verdicts.setdefault(CONCERN_OF.get(code, code), set()).add(changes[code].verdict)

    def words(concern: str, which: int) -> str:
        fallback = (concern, f"better {concern}", f"worse {concern}")
        return CONCERN_WORDS.get(concern, fallback)[which]

    return ZoneOutcome(
        zone_name(zone),
        better=[words(c, 1) for c, found in verdicts.items() if found == {"improved"}],
        worse=[words(c, 2) for c, found in verdicts.items() if found == {"worsened"}],
        unclear=[words(c, 0) for c, found in verdicts.items() if len(found) > 1],
    )


def outcome(comparison: PhotoComparison) -> Outcome:
    """The comparison's verdicts gathered per zone: improved, worsened, both, or neither; zones
    covered in either photo are set apart, unjudged."""
    order = [z.code for z in reference().zones]
    improved, worsened, mixed, unchanged, obscured = [], [], [], [], []
    for zone in sorted(comparison.zones, key=lambda z: order.index(z) if z in order else len(order)):
        if zone in comparison.obscured_zones:
            obscured.append(zone_name(zone))
            continue
        found = zone_outcome(zone, comparison.zones[zone])
        if found.better and found.worse:
            mixed.append(found)
        elif found.better:
            improved.append(found)
        elif found.worse:
            worsened.append(found)
        else:
            unchanged.append(found)
    return Outcome(comparison.reliable, comparison.advice, improved, worsened, mixed, unchanged, obscured)
