"""Formulation rules: catalogue, allergy matching, the proposal and the final check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesoclinic.formulation import rules
from mesoclinic.formulation.rules import Ingredient

CAT = rules.catalogue()
TABLE = CAT.by_code()


def clinic_ingredient(code: str, concerns: tuple[str, ...], **extra: object) -> Ingredient:
    return Ingredient.model_validate(
        {
            "code": code,
            "name": code.replace("_", " ").title(),
            "ingredient_class": "clinic",
            "concerns": concerns,
            "evidence": "clinic",
            "source": "clinic protocol 2025",
            "clinic_id": 1,
            **extra,
        }
    )


# --------------------------------------------------------------------------- catalogue


def test_every_ingredient_has_a_source_evidence_level_and_known_concerns() -> None:
    from mesoclinic.assessment.rules import concern_codes

    for ingredient in CAT.ingredients:
        assert ingredient.source
        assert ingredient.evidence in CAT.evidence_levels
        assert set(ingredient.concerns) <= set(concern_codes())
    for needed in (
        "ncha",
        "polyrevitalising",
        "skin_booster",
        "polynucleotides",
        "vitamin_c",
        "glutathione",
        "tranexamic_acid",
        "dmae",
        "amino_acids",
        "minerals",
        "antioxidants",
        "peptides",
    ):
        assert needed in TABLE
    assert TABLE["tranexamic_acid"].usual_concentration.startswith("4 mg/mL")
    assert TABLE["dmae"].evidence == "weak"
    assert TABLE["peptides"].evidence == "vendor"


def test_known_incompatibilities_carry_their_source() -> None:
    assert CAT.incompatible_pairs(["lidocaine", "ncha", "phosphatidylcholine"]) == [
        ("lidocaine", "phosphatidylcholine", CAT.incompatibilities[0].source)
    ]
    assert "vendor page" in CAT.incompatibilities[0].source
    assert CAT.incompatible_pairs(["ncha", "lidocaine"]) == []


def test_a_clinic_ingredient_can_declare_its_own_incompatibility() -> None:
    extra = clinic_ingredient("house_serum", ("dullness",), incompatible_with=("vitamin_c",))
    cat = CAT.with_extras([extra])
    assert cat.incompatible_pairs(["vitamin_c", "house_serum"]) == [
        ("house_serum", "vitamin_c", "clinic protocol 2025")
    ]


def test_a_clinic_ingredient_with_a_builtin_code_overrides_it() -> None:
    override = clinic_ingredient("ncha", ("dehydration",))
    assert CAT.with_extras([override]).by_code()["ncha"].clinic_id == 1
    assert TABLE["ncha"].clinic_id is None  # the built-in catalogue is untouched


def test_the_catalogue_refuses_an_incompatibility_with_unknown_ingredients() -> None:
    raw = CAT.model_dump()
    raw["incompatibilities"] = [{"pair": ["ncha", "unobtainium"], "reason": "x", "source": "y"}]
    with pytest.raises(ValueError, match="unknown ingredients"):
        rules.Catalogue.model_validate(raw)


# --------------------------------------------------------------------------- allergies


@pytest.mark.parametrize(
    ("allergy", "code"),
    [
        ("Lidocaine", "lidocaine"),
        ("  LIDOCAINE  ", "lidocaine"),
        ("lignocaine", "lidocaine"),
        ("Lidocaine hydrochloride 2%", "lidocaine"),
        ("sodium   hyaluronate", "ncha"),
        ("hyaluronic acid", "skin_booster"),
        ("TXA", "tranexamic_acid"),
        ("tranexamic acid", "tranexamic_acid"),
        ("salmon DNA", "polynucleotides"),
    ],
)
def test_an_allergy_matches_by_name_or_synonym_ignoring_case_and_spacing(allergy: str, code: str) -> None:
    assert rules.allergy_matches(TABLE[code], [allergy]) == [allergy]


@pytest.mark.parametrize(("allergy", "code"), [("penicillin", "ncha"), ("", "ncha"), ("lido", "lidocaine")])
def test_unrelated_or_partial_words_do_not_match(allergy: str, code: str) -> None:
    assert rules.allergy_matches(TABLE[code], [allergy]) == []


@given(st.sampled_from(CAT.ingredients), st.data())
def test_every_name_of_an_ingredient_matches_in_any_case_and_spacing(
    ingredient: Ingredient, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(ingredient.names))
    variant = "  " + "  ".join(name.upper().split()) + " "
    assert rules.allergy_matches(ingredient, [variant]) == [variant]


# --------------------------------------------------------------------------- proposal


def test_it_proposes_one_best_evidenced_ingredient_per_concern_and_reuses_it() -> None:
    proposal = rules.propose({"dehydration": 0.7, "fine_lines": 0.5, "dullness": 0.2}, [])
    assert proposal.codes == ("ncha",)
    assert proposal.ingredients[0].concerns == ("dehydration", "fine_lines", "dullness")
    assert "PMC10082573" in proposal.ingredients[0].source  # HA alone beat cocktails
    assert proposal.warnings == ()


def test_pigmentation_gets_tranexamic_acid_and_laxity_a_skin_booster() -> None:
    proposal = rules.propose({"pigmentation": 0.9, "laxity": 0.8, "dehydration": 0.3}, [])
    assert proposal.codes == ("tranexamic_acid", "skin_booster")
    assert proposal.ingredients[1].concerns == ("laxity", "dehydration")


def test_it_excludes_an_allergen_and_says_why() -> None:
    proposal = rules.propose({"dehydration": 0.7}, ["Sodium Hyaluronate"])
    # Every hyaluronic-acid product is excluded, including the polyrevitalising solution that contains it.
    assert proposal.codes == ()
    excluded = [w for w in proposal.warnings if w.code == "allergy-excluded"]
    assert {w.ingredients for w in excluded} == {("ncha",), ("skin_booster",), ("polyrevitalising",)}
    assert "Sodium Hyaluronate" in excluded[0].message


def test_a_concern_with_only_vendor_claims_or_nothing_is_reported_not_proposed() -> None:
    proposal = rules.propose({"acne_scars": 0.9}, [])
    assert proposal.codes == ()
    assert [w.code for w in proposal.warnings] == ["concern-not-addressed"]
    weak_only = rules.propose({"laxity": 0.5}, ["hyaluronic acid"])
    assert weak_only.codes == ("dmae",)  # weak evidence is still proposed; vendor claims never are
    vendor = rules.propose({"pigmentation": 0.5}, ["TXA", "vitamin c", "glutathione"])
    assert vendor.codes == ()
    assert "kojic_acid" in vendor.warnings[-1].ingredients


def test_zero_severity_concerns_are_ignored_and_none_is_reported() -> None:
    proposal = rules.propose({"dullness": 0.0}, [])
    assert proposal.codes == ()
    assert [w.code for w in proposal.warnings] == ["no-concerns-assessed"]


def test_a_clinic_ingredient_is_proposed_only_where_nothing_stronger_exists() -> None:
    scars = clinic_ingredient("scar_blend", ("acne_scars",))
    hydrate = clinic_ingredient("house_ha", ("dehydration",))
    proposal = rules.propose({"acne_scars": 0.8, "dehydration": 0.5}, [], [scars, hydrate])
    assert proposal.codes == ("scar_blend", "ncha")


def test_incompatible_proposed_pairs_are_flagged() -> None:
    a = clinic_ingredient("house_a", ("acne_scars",), incompatible_with=("ncha",))
    proposal = rules.propose({"acne_scars": 0.8, "dehydration": 0.5}, [], [a])
    assert [(w.code, w.ingredients) for w in proposal.warnings] == [
        ("incompatible-pair", ("house_a", "ncha"))
    ]


concern_maps = st.dictionaries(
    st.sampled_from(["fine_lines", "dullness", "dehydration", "pigmentation", "acne_scars", "laxity"]),
    st.floats(0, 1),
)
allergy_lists = st.lists(
    st.sampled_from([n for i in CAT.ingredients for n in i.names] + ["penicillin"]), max_size=4
)


@given(concern_maps, allergy_lists)
def test_a_proposal_never_contains_an_allergen_or_a_vendor_only_ingredient(
    concerns: dict[str, float], allergies: list[str]
) -> None:
    proposal = rules.propose(concerns, allergies)
    for item in proposal.ingredients:
        assert rules.allergy_matches(TABLE[item.code], allergies) == []
        assert CAT.rank(TABLE[item.code]) >= CAT.proposal_min_evidence
        assert set(item.concerns) <= {c for c, s in concerns.items() if s > 0}
    assert len(proposal.codes) == len(set(proposal.codes))


# --------------------------------------------------------------------------- final check


def issue_codes(issues: list[rules.Issue]) -> list[tuple[str, str, str]]:
    return [(i.code, i.field, i.blocking) for i in issues]


def test_a_clean_final_cocktail_passes() -> None:
    assert rules.check(["ncha", "vitamin_c"], ["penicillin"]) == []


def test_an_allergy_match_in_the_final_cocktail_is_invalid() -> None:
    assert issue_codes(rules.check(["ncha", "lidocaine"], ["Xylocaine"])) == [
        ("ingredient-allergy", "final", "invalid")
    ]


def test_unknown_duplicate_and_empty_finals_are_invalid() -> None:
    assert issue_codes(rules.check([], [])) == [("final-empty", "final", "invalid")]
    assert issue_codes(rules.check(["ncha", "nope", "ncha"], [])) == [
        ("unknown-ingredient", "final.1.code", "invalid"),
        ("duplicate-ingredient", "final.2.code", "invalid"),
    ]


def test_an_incompatible_pair_conflicts_unless_acknowledged() -> None:
    assert issue_codes(rules.check(["phosphatidylcholine", "lidocaine"], [])) == [
        ("incompatible-ingredients", "final", "conflict")
    ]
    acknowledged = rules.check(["phosphatidylcholine", "lidocaine"], [], acknowledge_incompatible=True)
    assert issue_codes(acknowledged) == [("incompatible-ingredients", "final", "none")]
    assert "acknowledged" in acknowledged[0].message


def test_clinic_ingredients_are_checked_too() -> None:
    extra = clinic_ingredient("house_serum", ("dullness",))
    assert rules.check(["house_serum"], [], [extra]) == []
    assert issue_codes(rules.check(["house_serum"], ["house serum"], [extra])) == [
        ("ingredient-allergy", "final", "invalid")
    ]


def test_an_allergy_to_hyaluronic_acid_excludes_every_ingredient_that_contains_it() -> None:
    proposal = rules.propose({"dehydration": 3, "fine_lines": 2, "dullness": 2}, ["hyaluronic acid"])
    assert {"ncha", "skin_booster", "polyrevitalising"}.isdisjoint({p.code for p in proposal.ingredients})
