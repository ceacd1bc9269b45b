"""The photo pages through the test client: who may see them, an upload refused next to its field
(keeping the choices), the consent step a refused upload links to, analysis without JavaScript, the
per-zone changes table, and the patient's own before/after in the portal."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from typing import Any, get_args

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.app import create_app
from mesoclinic.audit.service import SYSTEM_ACTOR
from mesoclinic.consent.service import publish_default_texts
from mesoclinic.imaging.outcome import METRIC_NAMES, VERDICT_WORDS, number, outcome, signed, zone_name
from mesoclinic.imaging.pages import LIGHTING, POLARISATION
from mesoclinic.imaging.schemas import CaptureConditions, PhotoComparison
from mesoclinic.models import ConsentText, Patient, User
from mesoclinic.settings import Settings
from mesoclinic.web.templating import TEMPLATES
from tests.conftest import count
from tests.imaging.conftest import jpeg
from tests.support import World
from tests.treatment.helpers import created, ok
from tests.web.conftest import HTML, sign_in, text

API = "/api/v1"
TODAY = date.today()
EARLIER = (TODAY - timedelta(days=60)).isoformat()
LATER = (TODAY - timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def face() -> bytes:
    """scikit-image's bundled portrait (public domain), as a clinic would upload it."""
    return jpeg(Image.fromarray(data.astronaut()))


@pytest.fixture(scope="module")
def redder_face() -> bytes:
    """The same portrait with a red cast: its redness (a*) is well above the later plain one's."""
    pixels = data.astronaut().astype(np.int16) + np.array([18, -6, -2], dtype=np.int16)
    return jpeg(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)))


@pytest.fixture(scope="module")
def no_face() -> bytes:
    return jpeg(Image.fromarray(np.full((512, 512, 3), 180, dtype=np.uint8)))


def publish_photo_consent(db: Session, world: World) -> int:
    """Clinic A's default consent texts; the photo text's id."""
    owner = db.scalars(select(User.id).where(User.email == world.admin)).one()
    texts = publish_default_texts(db, SYSTEM_ACTOR, world.clinic_a, owner)
    db.commit()
    return next(t.id for t in texts if t.kind == "photo")


def sign_photo_consent(
    client: TestClient, db: Session, headers: dict[str, str], patient_id: int, text_id: int
) -> None:
    patient = db.get_one(Patient, patient_id)
    signature = {
        "consent_text_id": text_id,
        "typed_name": f"{patient.given_name} {patient.family_name}",
        "signature_svg_path": "M 12 40 C 20 10 35 10 40 40 L 55 25 Q 70 5 90 38 L 120 30",
    }
    created(client.post(f"{API}/patients/{patient_id}/consents", json=signature, headers=headers))


def photo_consent(
    client: TestClient, db: Session, world: World, clinician: dict[str, str], *patients: int
) -> None:
    text_id = publish_photo_consent(db, world)
    for patient_id in patients or (world.patient_a,):
        sign_photo_consent(client, db, clinician, patient_id, text_id)


def uploaded(
    client: TestClient, headers: dict[str, str], patient_id: int, content: bytes, visit_on: str
) -> int:
    response = client.post(
        f"{API}/patients/{patient_id}/photos",
        data={"view": "front", "visit_on": visit_on, "capture_conditions": '{"lighting": "flash"}'},
        files={"file": ("face.jpg", content, "image/jpeg")},
        headers=headers,
    )
    return int(created(response)["id"])


def analysed(
    client: TestClient, headers: dict[str, str], patient_id: int, content: bytes, visit_on: str
) -> int:
    photo_id = uploaded(client, headers, patient_id, content, visit_on)
    created(client.post(f"{API}/photos/{photo_id}/analysis", headers=headers))
    return photo_id


def upload_form(client: TestClient, csrf: str, patient_id: int, content: bytes, **fields: str) -> Any:
    form = {"csrf_token": csrf, "view": "front", "visit_on": LATER, **fields}
    return client.post(
        f"/patients/{patient_id}/photos",
        data=form,
        files={"file": ("face.jpg", content, "image/jpeg")},
        headers=HTML,
        follow_redirects=False,
    )


def test_the_capture_form_offers_exactly_the_conditions_the_service_accepts() -> None:
    def accepted(name: str) -> set[str]:
        literal = get_args(CaptureConditions.model_fields[name].annotation)[0]
        return set(get_args(literal))

    assert {code for code, _ in LIGHTING} == accepted("lighting")
    assert {code for code, _ in POLARISATION} == accepted("polarisation")


def test_a_tiny_measured_change_is_never_printed_as_zero_and_zero_has_no_sign() -> None:
    assert (number(0.0012), signed(-0.0004), signed(0.25)) == ("0.0012", "−0.00040", "+0.25")
    assert (number(-0.0), signed(-0.0), signed(-2, "spot_count")) == ("0.00", "0.00", "−2")


def _comparison(verdicts: dict[str, dict[str, str]], obscured: tuple[str, ...] = ()) -> PhotoComparison:
    """A reliable comparison whose metrics got these verdicts (the numbers do not matter here)."""

    def change(verdict: str) -> dict[str, Any]:
        return {"before": 1, "after": 1, "delta": 0, "smallest_real_change": 0.1, "verdict": verdict}

    return PhotoComparison.model_validate(
        {
            "patient_id": 1,
            "before_photo_id": 1,
            "after_photo_id": 2,
            "before_analysis_id": 1,
            "after_analysis_id": 2,
            "reliable": True,
            "flags": [],
            "pair_residual_iod": 0.01,
            "colour_calibrated": True,
            "obscured_zones": list(obscured),
            "zones": {zone: {m: change(v) for m, v in metrics.items()} for zone, metrics in verdicts.items()},
        }
    )


def test_the_outcome_counts_a_zone_improved_only_on_judged_verdicts_and_names_disagreeing_measures() -> None:
    comparison = _comparison(
        {
            "cheek_L": {"a_star": "improved", "L_star": "descriptive"},
            "cheek_R": {"wrinkle_index": "improved", "line_density_pct": "worsened"},
            "chin": {"a_star": "no-real-change", "hue_deg": "descriptive"},
        }
    )

    found = outcome(comparison)

    assert [(z.zone, z.better) for z in found.improved] == [("Cheek, left", ["less redness"])]
    assert [(z.zone, z.unclear) for z in found.unchanged] == [("Cheek, right", ["fine lines"]), ("Chin", [])]
    assert found.headline == (
        "Yes, measurably:",
        "1 of 3 areas improved by more than the measurement noise, and none got worse.",
    )


def test_a_zone_covered_in_one_photo_is_set_apart_unjudged_for_staff_and_patient() -> None:
    comparison = _comparison(
        {
            "forehead": {"line_length_iod": "obscured", "L_star": "obscured"},
            "chin": {"a_star": "no-real-change"},
        },
        obscured=("forehead",),
    )

    found = outcome(comparison)

    assert found.obscured == ["Forehead"]
    assert [z.zone for z in found.unchanged] == ["Chin"]
    assert found.headline[0] == "No measurable change yet:"
    macros = '{% from "photos/_macros.html" import summary %}'
    summary = TEMPLATES.env.from_string(macros + "{{ summary(o, you=you) }}")
    staff, patient = (summary.render(o=found, you=you) for you in (False, True))
    assert "Not judged: skin covered" in staff
    assert "Forehead: hair or a deep shadow covers part of the skin in one of the photos" in staff
    assert "Pin the hair back" in staff
    assert "in one of your photos, so it is not judged." in patient
    assert "Pin the hair back" not in patient
    only_forehead = {"forehead": comparison.zones["forehead"]}
    everything_covered = outcome(comparison.model_copy(update={"zones": only_forehead}))
    assert everything_covered.headline == ("Not judged:", "the skin is covered in every area measured.")


def test_the_front_desk_is_refused_photos_and_a_colleague_elsewhere_finds_none(
    client: TestClient, db: Session, settings: Settings, world: World, face: bytes
) -> None:
    pages = [
        f"/patients/{world.patient_a}/photos",
        f"/patients/{world.patient_a}/photos/compare",
        f"/patients/{world.patient_a}/photos/consent",
    ]
    csrf = sign_in(client, db, settings, world.receptionist)
    for path in pages:
        assert client.get(path, headers=HTML).status_code == 403, path
    assert upload_form(client, csrf, world.patient_a, face).status_code == 403

    csrf = sign_in(client, db, settings, world.colleague)
    for path in pages:
        assert client.get(path, headers=HTML).status_code == 404, path
    assert upload_form(client, csrf, world.patient_a, face).status_code == 404
    assert count(db, "photo") == 0


def test_a_refused_upload_says_why_next_to_the_file_and_keeps_the_choices(
    client: TestClient,
    db: Session,
    settings: Settings,
    world: World,
    clinician: dict[str, str],
    no_face: bytes,
) -> None:
    photo_consent(client, db, world, clinician)
    csrf = sign_in(client, db, settings, world.clinician)

    refused = upload_form(
        client,
        csrf,
        world.patient_a,
        no_face,
        view="left45",
        lighting="daylight",
        polarisation="cross",
        makeup="yes",
        visit_on=EARLIER,
    )

    assert refused.status_code == 422
    error = re.search(r'<p class="field-error" id="file-error">([^<]+)</p>', refused.text)
    assert error, refused.text
    assert "face" in error.group(1)
    assert 'aria-describedby="file-error"' in refused.text
    assert '<option value="left45" selected>' in refused.text
    assert '<option value="daylight" selected>' in refused.text
    assert '<option value="cross" selected>' in refused.text
    assert 'id="makeup-yes" name="makeup" value="yes" checked' in refused.text
    assert f'name="visit_on" value="{EARLIER}"' in refused.text
    assert count(db, "photo") == 0


def test_a_photo_over_the_size_limit_is_refused_in_megabytes_with_a_way_back_to_the_form(
    client: TestClient,
    db: Session,
    settings: Settings,
    world: World,
    clinician: dict[str, str],
    face: bytes,
) -> None:
    photo_consent(client, db, world, clinician)
    form_page = f"/patients/{world.patient_a}/photos"
    # The request is refused on its declared length, before any of it is read.
    with TestClient(create_app(settings.model_copy(update={"photo_max_bytes": 2**20}))) as small:
        csrf = sign_in(small, db, settings, world.clinician)

        def upload(referrer: str) -> Any:
            return small.post(
                form_page,
                data={"csrf_token": csrf, "view": "front", "visit_on": LATER},
                files={"file": ("face.jpg", face + bytes(2**20), "image/jpeg")},
                headers={**HTML, "Referer": referrer},
                follow_redirects=False,
            )

        refused, from_elsewhere = (
            upload(f"http://testserver{form_page}"),
            upload("https://elsewhere.example/x"),
        )

    assert refused.status_code == 413
    assert re.search(r"Photos are limited to 1 MB \(this one is 1\.\d MB\)\.", refused.text), refused.text
    assert f'<a href="{form_page}">Back to the page you came from</a>' in refused.text
    assert from_elsewhere.status_code == 413
    assert "Back to the page you came from" not in from_elsewhere.text
    assert count(db, "photo") == 0


def test_without_photo_consent_the_upload_links_to_the_consent_step_then_shows_its_quality(
    client: TestClient,
    db: Session,
    settings: Settings,
    world: World,
    clinician: dict[str, str],
    face: bytes,
) -> None:
    publish_photo_consent(db, world)
    csrf = sign_in(client, db, settings, world.clinician)

    refused = upload_form(client, csrf, world.patient_a, face)

    assert refused.status_code == 409
    error = re.search(r'<p class="error" role="alert" id="form-error">(.+?)</p>', refused.text)
    assert error, refused.text
    assert "photo consent" in error.group(1)
    assert f'href="/patients/{world.patient_a}/photos/consent"' in error.group(1)

    step = client.get(f"/patients/{world.patient_a}/photos/consent", headers=HTML)
    assert step.status_code == 200
    text_id = db.scalars(select(ConsentText.id).where(ConsentText.kind == "photo")).one()
    signed = client.post(
        f"/patients/{world.patient_a}/photos/consent",
        data={"csrf_token": csrf, "consent_text_id": str(text_id), "typed_name": "", "sign_by_typing": "yes"},
        headers=HTML,
        follow_redirects=False,
    )
    assert signed.status_code == 422  # no name typed: said next to the field
    assert 'id="typed_name-error"' in signed.text
    signed = client.post(
        f"/patients/{world.patient_a}/photos/consent",
        data={
            "csrf_token": csrf,
            "consent_text_id": str(text_id),
            "typed_name": "Ada Lovelace",
            "sign_by_typing": "yes",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text

    taken = upload_form(client, csrf, world.patient_a, face, lighting="flash", makeup="no")

    assert taken.status_code == 303, taken.text
    photo_id = int(re.search(r"uploaded=(\d+)", taken.headers["location"]).group(1))  # type: ignore[union-attr]
    feedback = client.get(taken.headers["location"], headers=HTML)
    assert feedback.status_code == 200
    photo = ok(client.get(f"{API}/photos/{photo_id}", headers=clinician))
    assert photo["capture_conditions"] == {"lighting": "flash", "makeup_present": False}
    section = feedback.text.split('id="feedback"')[1].split("</section>")[0]
    assert ("Retake advised" in section) == photo["retake_advised"]
    for advice in photo["capture_advice"]:
        assert advice["advice"] in text(section)
    assert f'id="photo-{photo_id}"' in feedback.text


def test_analysis_without_javascript_then_the_changes_table_gives_each_verdict_in_words(
    client: TestClient,
    db: Session,
    settings: Settings,
    world: World,
    clinician: dict[str, str],
    face: bytes,
    redder_face: bytes,
) -> None:
    photo_consent(client, db, world, clinician)
    before = uploaded(client, clinician, world.patient_a, redder_face, EARLIER)
    after = uploaded(client, clinician, world.patient_a, face, LATER)
    csrf = sign_in(client, db, settings, world.clinician)
    for photo_id in (before, after):
        done = client.post(
            f"/patients/{world.patient_a}/photos/{photo_id}/analysis",
            data={"csrf_token": csrf},
            headers=HTML,
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"].endswith(f"?analysed={photo_id}#photo-{photo_id}")
    photos = client.get(f"/patients/{world.patient_a}/photos", headers=HTML).text
    for photo_id in (before, after):  # each analysed photo links to what was measured on it
        assert f'<a href="/api/v1/photos/{photo_id}/findings"' in photos

    page = client.get(
        f"/patients/{world.patient_a}/photos/compare?before={before}&after={after}", headers=HTML
    )

    assert page.status_code == 200, page.text
    comparison = ok(
        client.get(
            f"{API}/patients/{world.patient_a}/photo-comparison?before={before}&after={after}",
            headers=clinician,
        )
    )
    assert comparison["colour_calibrated"] is False  # the portraits carry no chart: the page says so
    assert "No colour chart was found in both photos" in page.text
    rows = re.findall(r'<tr class="v-([a-z-]+)">(.*?)</tr>', page.text, re.S)
    expected = [change["verdict"] for metrics in comparison["zones"].values() for change in metrics.values()]
    assert sorted(verdict for verdict, _ in rows) == sorted(expected)  # one row per zone and metric
    for verdict, cells in rows:
        assert text(cells).strip().endswith(VERDICT_WORDS[verdict])
    redness = comparison["zones"]["cheek_L"]["a_star"]
    assert redness["verdict"] == "improved", redness  # the red cast is gone: beyond the smallest real change
    groups = {
        html.unescape(zone).strip(): body
        for zone, body in re.findall(r'<th scope="rowgroup"[^>]*>([^<]+)</th>(.*?)</tbody>', page.text, re.S)
    }
    assert set(groups) == {zone_name(code) for code in comparison["zones"]}
    cheek = groups[zone_name("cheek_L")]
    row = text(re.findall(r"<td>(Redness .*?)</tr>", cheek, re.S)[0])
    assert row.split() == [
        "Redness", "a*", "(CIELAB)",
        f"{redness['before']:.2f}", f"{redness['after']:.2f}", f"−{abs(redness['delta']):.2f}",
        f"{redness['smallest_real_change']:.2f}", "Improved",
    ]  # fmt: skip
    assert METRIC_NAMES["a_star"] in page.text
    assert "less redness" in text(page.text.split('id="summary-h"')[1])
    assert f"/api/v1/photos/{before}/aligned" in page.text
    assert f"/api/v1/photos/{after}/aligned" in page.text


def test_ada_sees_only_her_own_before_and_after_and_what_it_means_in_the_portal(
    client: TestClient,
    db: Session,
    settings: Settings,
    world: World,
    clinician: dict[str, str],
    face: bytes,
    redder_face: bytes,
) -> None:
    photo_consent(client, db, world, clinician, world.patient_a, world.other_patient_a)
    before = uploaded(client, clinician, world.patient_a, redder_face, EARLIER)
    not_hers = analysed(client, clinician, world.other_patient_a, face, EARLIER)
    sign_in(client, db, settings, world.patient_user)
    assert "have not been measured yet" in text(client.get("/portal/photos", headers=HTML).text)

    created(client.post(f"{API}/photos/{before}/analysis", headers=clinician))
    after = analysed(client, clinician, world.patient_a, face, LATER)
    page = client.get("/portal/photos", headers=HTML)

    assert page.status_code == 200
    words = text(page.text)
    assert "Does it work for me?" in words
    assert "less redness" in words
    assert f"/api/v1/photos/{before}/aligned" in page.text
    assert f"/api/v1/photos/{after}/aligned" in page.text
    assert f"/api/v1/photos/{not_hers}/" not in page.text
    assert f'value="{not_hers}"' not in page.text

    theirs = client.get(f"/portal/photos?before={not_hers}&after={after}", headers=HTML)
    assert theirs.status_code == 404
    assert 'id="pick-before-error"' in theirs.text
    assert f"/api/v1/photos/{not_hers}/" not in theirs.text
    staff_page = client.get(f"/patients/{world.other_patient_a}/photos", headers=HTML, follow_redirects=False)
    assert (staff_page.status_code, staff_page.headers["location"]) == (303, "/portal/photos")
    assert "My photos" in client.get("/portal", headers=HTML).text

    sign_in(client, db, settings, world.clinician)
    assert client.get("/portal/photos", headers=HTML).status_code == 403
