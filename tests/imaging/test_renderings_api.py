"""Images for people over the API: aligned photos, before/after comparisons, the capture ghost and its
guides; their refusals, access rules and audit."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from numpy.typing import NDArray
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.imaging.alignment import CANONICAL_SHAPE
from mesoclinic.imaging.renderings import CHECKER_TILE, GAP, LABEL_HEIGHT, LINE_COLOUR, ZONE_COLOUR
from mesoclinic.models import AuditEvent, PhotoAnalysis
from tests.imaging.conftest import jpeg, refused, upload
from tests.support import World, bearer

HEIGHT, WIDTH = CANONICAL_SHAPE


def analysed(
    client: TestClient, patient_id: int, headers: dict[str, str], content: bytes, **fields: Any
) -> int:
    response = upload(client, patient_id, headers, content, **fields)
    assert response.status_code == 201, response.text
    photo_id = int(response.json()["id"])
    assert client.post(f"/api/v1/photos/{photo_id}/analysis", headers=headers).status_code == 201
    return photo_id


def pixels(response: Any, media_type: str = "image/jpeg") -> NDArray[np.float64]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type
    assert response.headers["cache-control"] == "no-store"
    return np.asarray(Image.open(io.BytesIO(response.content)), dtype=np.float64)


def image_reads(db: Session) -> list[tuple[str | None, dict[str, Any]]]:
    rows = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "photo.image_read").order_by(AuditEvent.id)
    )
    return [(row.target_id, dict(row.details or {})) for row in rows]


def test_two_visits_come_out_aligned_for_the_slider_and_composed_side_by_side_blended_and_checkered(
    client: TestClient,
    world: World,
    db: Session,
    clinician: dict[str, str],
    photo_consent: int,
    face_jpeg: bytes,
    astronaut: Image.Image,
) -> None:
    before = analysed(client, world.patient_a, clinician, face_jpeg, visit_on="2026-09-01")
    tilted = astronaut.rotate(4, resample=Image.Resampling.BICUBIC)
    after = analysed(client, world.patient_a, clinician, jpeg(tilted, quality=88))

    first = pixels(client.get(f"/api/v1/photos/{before}/aligned", headers=clinician))
    second_response = client.get(f"/api/v1/photos/{after}/aligned", headers=clinician)
    second = pixels(second_response)
    assert first.shape == second.shape == (HEIGHT, WIDTH, 3)
    latest = db.scalars(select(PhotoAnalysis.id).where(PhotoAnalysis.photo_id == after)).one()
    assert second_response.headers["x-analysis-id"] == str(latest)
    # The 4° tilt is undone: the aligned pair is far closer than the photos as taken.
    face = (slice(HEIGHT // 4, 3 * HEIGHT // 4), slice(WIDTH // 4, 3 * WIDTH // 4))
    taken = np.abs(np.asarray(astronaut, dtype=np.float64) - np.asarray(tilted, dtype=np.float64))
    assert np.abs(first - second)[face].mean() < 0.5 * taken[128:384, 128:384].mean()

    url = f"/api/v1/patients/{world.patient_a}/photo-comparison/image?before={before}&after={after}"
    side = client.get(url, headers=clinician)
    both = pixels(side)
    assert both.shape[1] == 2 * WIDTH + GAP
    assert side.headers["x-comparison-reliable"] == "true"
    assert side.headers["x-comparison-flags"] == ""
    assert float(side.headers["x-pair-residual-iod"]) < 0.02
    panels = both[-HEIGHT:]  # under the labels (no caption: the pair is reliable)
    assert np.abs(panels[:, :WIDTH] - first).mean() < 3  # before on the left…
    assert np.abs(panels[:, WIDTH + GAP :] - second).mean() < 3  # …after on the right

    blend = pixels(client.get(url + "&layout=overlay", headers=clinician))[-HEIGHT:]
    assert blend.shape == (HEIGHT, WIDTH, 3)
    assert np.abs(blend - (first + second) / 2).mean() < 3
    squares = pixels(client.get(url + "&layout=checkerboard", headers=clinician))
    squares = squares[-HEIGHT:]
    tile = (slice(8, CHECKER_TILE - 8), slice(8, CHECKER_TILE - 8))
    beside = (tile[0], slice(CHECKER_TILE + 8, 2 * CHECKER_TILE - 8))
    assert np.abs(squares[tile] - first[tile]).mean() < 3  # top-left square: before
    assert np.abs(squares[beside] - second[beside]).mean() < 3  # the next one: after
    refused(client.get(url + "&layout=mosaic", headers=clinician), 422, "invalid-input")

    reads = image_reads(db)
    assert reads[:2] == [(str(before), {"size": "aligned", "analysis_id": reads[0][1]["analysis_id"]}),
                         (str(after), {"size": "aligned", "analysis_id": latest})]  # fmt: skip
    assert reads[2:4] == [
        (str(before), {"size": "comparison", "layout": "side-by-side", "compared_with_photo_id": after}),
        (str(after), {"size": "comparison", "layout": "side-by-side", "compared_with_photo_id": before}),
    ]
    assert len(reads) == 8

    # The patient sees their own comparison; a colleague at another clinic sees nothing.
    patient = bearer(client, world.patient_user)
    assert client.get(url, headers=patient).status_code == 200
    assert client.get(f"/api/v1/photos/{before}/aligned", headers=patient).status_code == 200
    colleague = bearer(client, world.colleague)
    refused(client.get(url, headers=colleague), 404, "patient-not-found")
    refused(client.get(f"/api/v1/photos/{before}/aligned", headers=colleague), 404, "photo-not-found")
    refused(client.get(url, headers=bearer(client, world.receptionist)), 403, "permission-denied")


def test_an_unreliable_pair_says_why_in_the_headers_the_json_and_on_the_image_itself(
    client: TestClient, world: World, clinician: dict[str, str], photo_consent: int, face_jpeg: bytes
) -> None:
    front = analysed(client, world.patient_a, clinician, face_jpeg, visit_on="2026-09-01")
    side = analysed(client, world.patient_a, clinician, face_jpeg, view="left45")
    query = f"before={front}&after={side}"
    comparison = client.get(f"/api/v1/patients/{world.patient_a}/photo-comparison?{query}", headers=clinician)
    assert comparison.status_code == 200
    body = comparison.json()
    assert (body["reliable"], body["flags"]) == (False, ["view-differs"])
    assert [(a["flag"], a["retake"]) for a in body["advice"]] == [("view-differs", True)]
    assert "different views" in body["advice"][0]["advice"]

    image = client.get(
        f"/api/v1/patients/{world.patient_a}/photo-comparison/image?{query}", headers=clinician
    )
    assert image.headers["x-comparison-reliable"] == "false"
    assert image.headers["x-comparison-flags"] == "view-differs"
    rows = pixels(image)
    assert rows.shape[0] > LABEL_HEIGHT + HEIGHT  # a caption band below the photos…
    caption = rows[LABEL_HEIGHT + HEIGHT + 4 :, 4:20].reshape(-1, 3).mean(axis=0)
    assert caption[0] > caption[2] + 60  # …in the warning colour (amber), not the label grey


def test_images_of_a_pair_are_refused_for_unanalysed_or_other_patients_photos_naming_the_rule(
    client: TestClient, world: World, clinician: dict[str, str], photo_consent: int, face_jpeg: bytes
) -> None:
    photo = upload(client, world.patient_a, clinician, face_jpeg).json()["id"]
    base = "/api/v1/patients/{patient}/photo-comparison/image?before={before}&after={after}"
    not_analysed = client.get(
        base.format(patient=world.patient_a, before=photo, after=photo), headers=clinician
    )
    refused(not_analysed, 409, "photo-not-analysed")
    assert not_analysed.json()["field"] == "before"
    refused(client.get(f"/api/v1/photos/{photo}/aligned", headers=clinician), 409, "photo-not-analysed")

    other = client.get(
        base.format(patient=world.other_patient_a, before=photo, after=photo), headers=clinician
    )
    refused(other, 422, "photo-of-another-patient")
    missing = client.get(base.format(patient=world.patient_a, before=photo, after=987654), headers=clinician)
    refused(missing, 404, "photo-not-found")
    assert missing.json()["field"] == "after"
    patient = bearer(client, world.patient_user)
    refused(
        client.get(base.format(patient=world.other_patient_a, before=photo, after=photo), headers=patient),
        404,
        "patient-not-found",
    )
    refused(
        client.get(f"/api/v1/photos/{photo}/aligned", headers=bearer(client, world.receptionist)),
        403,
        "permission-denied",
    )


def _painted(findings: NDArray[np.float64], colour: tuple[int, int, int]) -> int:
    return int(np.all(findings[..., :3] == colour, axis=-1).sum())


def test_what_was_measured_is_drawn_on_the_aligned_photo_for_the_practitioner(
    client: TestClient,
    world: World,
    db: Session,
    clinician: dict[str, str],
    photo_consent: int,
    face_jpeg: bytes,
    astronaut: Image.Image,
) -> None:
    plain = analysed(client, world.patient_a, clinician, face_jpeg)
    creased = astronaut.copy()
    ImageDraw.Draw(creased).line([(246, 118), (266, 130)], fill=(120, 80, 70), width=1)  # on her left cheek
    lined = analysed(client, world.patient_a, clinician, jpeg(creased))

    response = client.get(f"/api/v1/photos/{plain}/findings", headers=clinician)
    first = pixels(response, "image/png")
    second = pixels(client.get(f"/api/v1/photos/{lined}/findings", headers=clinician), "image/png")

    assert first.shape[:2] == (HEIGHT, WIDTH)
    assert response.headers["x-method-version"].startswith("mesoclinic-imaging-")
    assert _painted(first, ZONE_COLOUR) > 1000  # the twelve zones' outlines
    # The crease, drawn: it is about 100 px long in the aligned frame.
    assert _painted(second, LINE_COLOUR) > _painted(first, LINE_COLOUR) + 100
    latest = db.scalar(select(PhotoAnalysis.id).where(PhotoAnalysis.photo_id == plain))
    assert response.headers["x-analysis-id"] == str(latest)
    assert (str(plain), {"size": "findings", "analysis_id": latest}) in image_reads(db)
    colleague = bearer(client, world.colleague)
    refused(client.get(f"/api/v1/photos/{plain}/findings", headers=colleague), 404, "photo-not-found")
    unanalysed = upload(client, world.patient_a, clinician, face_jpeg).json()["id"]
    refused(client.get(f"/api/v1/photos/{unanalysed}/findings", headers=clinician), 409, "photo-not-analysed")


def test_the_ghost_of_the_last_analysed_photo_of_a_view_guides_the_next_capture(
    client: TestClient,
    world: World,
    db: Session,
    clinician: dict[str, str],
    photo_consent: int,
    face_jpeg: bytes,
) -> None:
    ghost = f"/api/v1/patients/{world.patient_a}/photos/ghost?view=front"
    guides = f"/api/v1/patients/{world.patient_a}/photos/ghost/guides?view=front"
    refused(client.get(ghost, headers=clinician), 404, "no-earlier-photo")
    unanalysed = upload(client, world.patient_a, clinician, face_jpeg, visit_on="2026-10-01").json()["id"]
    refused(client.get(ghost, headers=clinician), 404, "no-earlier-photo")  # only analysed photos guide
    photo = analysed(client, world.patient_a, clinician, face_jpeg, visit_on="2026-09-01")
    assert photo != unanalysed

    response = client.get(ghost, headers=clinician)
    rgba = pixels(response, "image/png")
    assert (response.headers["x-photo-id"], response.headers["x-visit-on"]) == (str(photo), "2026-09-01")
    assert rgba.shape == (512, 512, 4)  # the display copy, in the photo's own frame
    assert set(np.unique(rgba[..., 3])) == {round(0.4 * 255)}
    stronger = pixels(client.get(ghost + "&opacity=0.7", headers=clinician), "image/png")
    assert set(np.unique(stronger[..., 3])) == {round(0.7 * 255)}
    refused(client.get(ghost + "&opacity=1.5", headers=clinician), 422, "invalid-input")
    refused(client.get(ghost + "&before=2026-09-01", headers=clinician), 404, "no-earlier-photo")
    assert client.get(ghost + "&before=2026-09-02", headers=clinician).headers["x-photo-id"] == str(photo)
    refused(client.get(ghost.replace("front", "left45"), headers=clinician), 404, "no-earlier-photo")

    answer = client.get(guides, headers=clinician)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert (body["photo_id"], body["view"], body["width"], body["height"]) == (photo, "front", 512, 512)
    outline, points = body["face_outline"], body["landmarks"]
    assert outline[0] == outline[-1]
    assert len(outline) > 30
    assert all(0 <= v <= 1 for point in [*outline, *points.values()] for v in point)
    x0, y0, x1, y1 = body["face_box"]
    assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in points.values())
    # Subject's left eye on the image's right in a front view; eyes above the nose tip above the chin.
    assert points["left_eye_outer"][0] > points["nose_tip"][0] > points["right_eye_outer"][0]
    assert points["left_eye_outer"][1] < points["nose_tip"][1] < points["chin"][1]
    # The guides agree with the analysis, which found the eye corners independently on the original.
    alignment = db.scalars(select(PhotoAnalysis.alignment).where(PhotoAnalysis.photo_id == photo)).one()
    scale, angle = alignment["scale"], np.radians(alignment["rotation_deg"])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    eye_corners = np.linalg.solve(
        rotation, (np.array(alignment["rigid_canonical"])[[0, 2]] - alignment["translation"]).T
    ).T
    guided = np.array([points["right_eye_outer"], points["left_eye_outer"]]) * 512
    assert np.abs(eye_corners - guided).max() < 4  # pixels

    assert [d for _, d in image_reads(db)] == [{"size": "ghost"}] * 3  # refusals read nothing
    read = db.scalars(select(AuditEvent).where(AuditEvent.action == "photo.read")).one()
    assert (read.target_id, read.details) == (str(photo), {"derived": "capture-guides"})

    patient = bearer(client, world.patient_user)
    assert client.get(guides, headers=patient).status_code == 200
    refused(client.get(ghost, headers=bearer(client, world.colleague)), 404, "patient-not-found")
    refused(client.get(guides, headers=bearer(client, world.receptionist)), 403, "permission-denied")
