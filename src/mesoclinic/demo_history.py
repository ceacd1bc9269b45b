"""The demo clinic's clinical history, replayed through the real services at past moments.

Nothing here writes clinical rows directly: each consultation, session and check-in goes through
the same service functions (and rules) a clinician's request does, under ``db.replay_at``. So the
demo shows every step of the journey, and always obeys the rules it demonstrates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mesoclinic.aftercare import service as aftercare
from mesoclinic.aftercare.schemas import AdverseEventIn, CheckinAnswers
from mesoclinic.assessment import service as assessment
from mesoclinic.assessment.schemas import AssessmentCreate, FindingIn
from mesoclinic.audit.service import Actor
from mesoclinic.auth import service as auth
from mesoclinic.auth.rules import Principal
from mesoclinic.consent import service as consent
from mesoclinic.consent.schemas import ConsentSign
from mesoclinic.db import replay_at
from mesoclinic.formulation import service as formulation
from mesoclinic.formulation.schemas import FinalItem, FormulationCreate, FormulationDecide
from mesoclinic.imaging import service as imaging
from mesoclinic.imaging.schemas import CaptureConditions
from mesoclinic.imaging.storage import MediaStore, media_store
from mesoclinic.inventory import service as inventory
from mesoclinic.inventory.schemas import LotCreate, ProductCreate
from mesoclinic.models import AftercareCheckin, ConsentText, CoursePlan, Lot, Patient, User
from mesoclinic.patients import service as patients
from mesoclinic.patients.schemas import IntakeAnswers, MedicationIn
from mesoclinic.planning import service as planning
from mesoclinic.planning.schemas import CourseCreate
from mesoclinic.scheduling import service as scheduling
from mesoclinic.scheduling import setup as calendar_setup
from mesoclinic.scheduling.schemas import (
    AppointmentCreate,
    AppointmentTypeIn,
    OpeningHoursIn,
    RoomIn,
    WorkingHoursIn,
)
from mesoclinic.screening import service as screening
from mesoclinic.settings import get_settings
from mesoclinic.treatment import service as treatment
from mesoclinic.treatment.schemas import InjectionIn, NumbingStep, SessionSign, SessionStart

SIGNATURE = "M 12 40 C 30 5 45 5 52 38 L 70 22 Q 90 8 104 36 L 130 30"
NUMBING_CREAM = "Lidocaine 5% cream"
CHART = {"cheek": (0.30, 0.55), "forehead": (0.50, 0.18), "crows_feet": (0.22, 0.38)}


def _at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


def principal_of(db: Session, email: str) -> Principal:
    user = db.scalars(select(User).where(User.email == email)).one()
    return auth.principal_for(db, user, via="session", actor=Actor(user.id, user.email, "127.0.0.1", "demo"))


@dataclass(frozen=True)
class Stock:
    booster_lot: Lot
    revitalising_lot: Lot
    tranexamic_lot: Lot


def stock_clinic(db: Session, admin: Principal, clinic_id: int, today: date) -> Stock:
    """Products and lots: one in everyday use, one expiring soon, one that will be recalled."""
    received = today - timedelta(days=420)
    with replay_at(_at(received)):
        booster = inventory.create_product(
            db,
            admin,
            clinic_id,
            ProductCreate(
                name="Non-cross-linked HA 20 mg/mL, 3 mL",
                manufacturer="Demo Pharma",
                ingredient_codes=["ncha"],
                vial_type="single_dose",
                volume_ml=3,
            ),
        )
        revitalising = inventory.create_product(
            db,
            admin,
            clinic_id,
            ProductCreate(
                name="Polyrevitalising solution, 3 mL",
                manufacturer="Demo Pharma",
                ingredient_codes=["polyrevitalising"],
                vial_type="single_dose",
                volume_ml=3,
            ),
        )
        tranexamic = inventory.create_product(
            db,
            admin,
            clinic_id,
            ProductCreate(
                name="Tranexamic acid 4 mg/mL, 10 mL",
                manufacturer="Demo Generics",
                ingredient_codes=["tranexamic_acid"],
                vial_type="multi_dose",
                volume_ml=10,
            ),
        )
        inventory.create_product(
            db,
            admin,
            clinic_id,
            ProductCreate(
                name=NUMBING_CREAM,
                manufacturer="Demo Generics",
                category="topical_anaesthetic",
                ingredient_codes=["lidocaine"],
                vial_type="not_applicable",
            ),
        )
        lots = [
            inventory.receive_lot(
                db,
                admin,
                product.id,
                LotCreate(lot_number=number, expires_on=today + timedelta(days=days), quantity=quantity),
            )
            for product, number, days, quantity in [
                (booster, f"HA-{clinic_id}-2611", 365, 120),
                (revitalising, f"PR-{clinic_id}-2509", 20, 40),
                (tranexamic, f"TX-{clinic_id}-2504", 200, 30),
            ]
        ]
    booster_lot, revitalising_lot, tranexamic_lot = (db.get_one(Lot, lot.id) for lot in lots)
    return Stock(booster_lot, revitalising_lot, tranexamic_lot)


@dataclass(frozen=True)
class Journey:
    """One patient's story: where the course stands today."""

    patient: Patient
    practitioner: str
    consult_days_ago: int
    sessions: int = 0
    answers: dict[str, Any] | None = None
    pigmentation: bool = False
    lot: str = "booster"


def _intake(journey: Journey) -> IntakeAnswers:
    base: dict[str, Any] = {"pregnant": False, "breastfeeding": False, "fitzpatrick": 3}
    base.update(journey.answers or {})
    return IntakeAnswers.model_validate(base)


def _assessment(journey: Journey) -> AssessmentCreate:
    findings = [
        FindingIn(
            concern="fine_lines",
            zone="crows_feet",
            side="L",
            scale="merz_crows_feet",
            value=2,
            components={"state": "rest"},
        ),
        FindingIn(
            concern="fine_lines",
            zone="crows_feet",
            side="R",
            scale="merz_crows_feet",
            value=2,
            components={"state": "rest"},
        ),
        FindingIn(
            concern="dehydration",
            zone="full_face",
            scale="vas_hydration",
            value=35,
            method="patient self-rating, 100 mm VAS",
        ),
        FindingIn(
            concern="dullness",
            zone="full_face",
            scale="vas_radiance",
            value=40,
            method="practitioner rating of standard photos, 100 mm VAS",
        ),
    ]
    if journey.pigmentation:
        region = {"area": 2, "darkness": 2, "homogeneity": 1}
        findings.append(
            FindingIn(
                concern="pigmentation",
                zone="full_face",
                scale="masi",
                components={code: dict(region) for code in ("forehead", "malar_right", "malar_left", "chin")},
            )
        )
    return AssessmentCreate(
        glogau=2,
        fitzpatrick=3,
        goals=["hydration", "fine_lines"],
        notes="Demo consultation.",
        findings=findings,
    )


def consult(db: Session, journey: Journey, day: date) -> CoursePlan | None:
    """Intake, screening, assessment, formulation, course plan and consent on one day.

    Stops after screening when the patient may not be treated (as the clinic would)."""
    clinician = principal_of(db, journey.practitioner)
    with replay_at(_at(day, 9)):
        patients.submit_intake(db, clinician, journey.patient.id, _intake(journey))
        result = screening.run_screening(db, clinician, journey.patient.id, on_date=day)
        if result.outcome == "blocked":
            return None
        if result.outcome == "needs_override":
            for finding in result.findings:
                screening.add_override(
                    db,
                    clinician,
                    result.id,
                    finding["code"],
                    "Discussed with the patient and their GP; proceeding with care.",
                )
        done = assessment.create_assessment(db, clinician, journey.patient.id, _assessment(journey))
        proposal = formulation.propose_formulation(
            db, clinician, journey.patient.id, FormulationCreate(assessment_id=done.id)
        )
        formulation.decide(
            db,
            clinician,
            proposal.id,
            FormulationDecide(
                final=[FinalItem(code=item["code"]) for item in proposal.proposed], note="As proposed."
            ),
        )
        course = planning.create_course(
            db,
            clinician,
            journey.patient.id,
            CourseCreate(formulation_id=proposal.id, starts_on=day, sessions_planned=3),
        )
        text = db.scalars(
            select(ConsentText).where(
                ConsentText.clinic_id == journey.patient.clinic_id, ConsentText.kind == "treatment"
            )
        ).one()
        consent.sign(
            db,
            clinician,
            journey.patient.id,
            ConsentSign(
                consent_text_id=text.id,
                typed_name=f"{journey.patient.given_name} {journey.patient.family_name}",
                signature_svg_path=SIGNATURE,
            ),
        )
    return course


def treat(db: Session, journey: Journey, course: CoursePlan, day: date, lot: Lot) -> None:
    """One session as documented in the treatment room: checklist, injections, sign-off."""
    clinician = principal_of(db, journey.practitioner)
    start = _at(day, 11)
    with replay_at(start):
        session = treatment.start_session(db, clinician, course.id, SessionStart())
        treatment.mark_skin_cleansed(db, clinician, session.id)
        treatment.record_numbing(
            db,
            clinician,
            session.id,
            NumbingStep(
                product_name=NUMBING_CREAM, applied_at=start - timedelta(minutes=25), wait_minutes=20
            ),
        )
    with replay_at(start + timedelta(minutes=5)):
        for zone, side, points in [("cheek", "L", 25), ("cheek", "R", 25), ("forehead", "M", 20)]:
            x, y = CHART[zone]
            offset = -0.1 if side == "R" else 0.0
            chart = [
                [round(x + offset + (i % 5) * 0.02, 3), round(y + (i // 5) * 0.02, 3)] for i in range(points)
            ]
            treatment.add_injection(
                db,
                clinician,
                session.id,
                InjectionIn(
                    zone=zone,
                    side=side,
                    technique="nappage",
                    depth_mm=1.5,
                    volume_per_point_ml=0.02,
                    points=points,
                    needle_gauge=32,
                    needle_length_mm=4,
                    product_id=lot.product_id,
                    lot_id=lot.id,
                    chart_points=[(p[0], p[1]) for p in chart],
                ),
            )
    with replay_at(start + timedelta(minutes=30)):
        treatment.sign_session(db, clinician, session.id, SessionSign(pain_score=3, notes="Well tolerated."))


def _portrait(red_cast: bool) -> bytes:
    """scikit-image's bundled public-domain portrait standing in for the patient, as a JPEG; with
    ``red_cast`` its colours lean red (a reddened skin before the course, for the outcome to show)."""
    import io

    import numpy as np
    from PIL import Image
    from skimage import data  # the imaging stack is loaded here only, not for the rest of the demo

    pixels = data.astronaut().astype(np.int16)  # type: ignore[no-untyped-call]
    if red_cast:
        pixels += np.array([18, -6, -2], dtype=np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, format="JPEG", quality=92)
    return out.getvalue()


def photograph(db: Session, journey: Journey, store: MediaStore, first: date, last: date) -> None:
    """The photo consent at the consultation, then a front photo at the consultation and at the latest
    session, each uploaded and analysed through the imaging services (the portal's before/after)."""
    clinician = principal_of(db, journey.practitioner)
    text = db.scalars(
        select(ConsentText).where(
            ConsentText.clinic_id == journey.patient.clinic_id, ConsentText.kind == "photo"
        )
    ).one()
    conditions = CaptureConditions(lighting="ring-light", polarisation="none", makeup_present=False)
    with replay_at(_at(first, 9, 30)):
        consent.sign(
            db,
            clinician,
            journey.patient.id,
            ConsentSign(
                consent_text_id=text.id,
                typed_name=f"{journey.patient.given_name} {journey.patient.family_name}",
                signature_svg_path=SIGNATURE,
            ),
        )
    for day, red_cast in ((first, True), (last, False)):
        with replay_at(_at(day, 10, 40)):
            content = _portrait(red_cast)
            photo = imaging.upload_photo(
                db,
                clinician,
                store,
                journey.patient.id,
                data=content,
                max_bytes=len(content),
                view="front",
                visit_on=day,
                capture_conditions=conditions,
            )
            imaging.analyse_photo(db, clinician, store, photo.id)


def answer_checkins(
    db: Session, journey: Journey, today: date, late_answers: dict[str, CheckinAnswers]
) -> None:
    """Answer every check-in already due: expected symptoms early on, or the story's own answers."""
    clinician = principal_of(db, journey.practitioner)
    due = db.scalars(
        select(AftercareCheckin)
        .where(
            AftercareCheckin.patient_id == journey.patient.id,
            AftercareCheckin.completed_at.is_(None),
            AftercareCheckin.due_on < today,
        )
        .order_by(AftercareCheckin.due_on)
    ).all()
    latest_session = max((c.session_id for c in due), default=None)
    for checkin in due:
        story = late_answers.get(checkin.label) if checkin.session_id == latest_session else None
        answers = story or CheckinAnswers(
            symptoms={"redness": 1, "swelling": 1} if checkin.label == "day1" else {}
        )
        with replay_at(_at(checkin.due_on, 18)):
            aftercare.submit_checkin(db, clinician, checkin.id, answers)


def replay(db: Session, today: date, store: MediaStore | None = None) -> None:
    """Seed the clinical history of both demo clinics. The portal patient's photos go to ``store``,
    by default the media store of the settings the CLI runs with."""
    store = store or media_store(get_settings())
    admin = principal_of(db, "admin@lumen.example")
    with replay_at(_at(today - timedelta(days=500))):
        for clinic_id in sorted(admin.clinic_ids):
            consent.publish_default_texts(db, admin.actor, clinic_id, admin.user_id)
    stock = {clinic_id: stock_clinic(db, admin, clinic_id, today) for clinic_id in sorted(admin.clinic_ids)}

    central = sorted(admin.clinic_ids)[0]
    central_patients = db.scalars(
        select(Patient).where(Patient.clinic_id == central).order_by(Patient.id)
    ).all()
    north_patients = db.scalars(
        select(Patient).where(Patient.clinic_id != central).order_by(Patient.id)
    ).all()
    hart, nasser = "dr.hart@lumen.example", "dr.nasser@lumen.example"
    journeys = [
        # The portal patient: two sessions done, the second yesterday; check-ins due.
        (Journey(central_patients[0], hart, consult_days_ago=40, sessions=2), {}),
        # A completed course eight months ago: maintenance is due; the TXA lot used was later recalled.
        (
            Journey(
                central_patients[1],
                hart,
                consult_days_ago=260,
                sessions=3,
                pigmentation=True,
                lot="tranexamic",
            ),
            {},
        ),
        # Completed a month ago; a painful nodule at week 4: an urgent escalation waits in the queue.
        (
            Journey(central_patients[2], hart, consult_days_ago=75, sessions=3),
            {
                "week4": CheckinAnswers(
                    symptoms={"pain": 1},
                    red_flags=["new_painful_nodule"],
                    note="Tender lump on the left cheek since yesterday.",
                )
            },
        ),
        # One session ten days ago; bruising still there on day 7: a routine review.
        (
            Journey(central_patients[3], hart, consult_days_ago=10, sessions=1),
            {"day7": CheckinAnswers(symptoms={"bruising": 1, "swelling": 1})},
        ),
        # Consultation done today: plan and consent in place, first session to book.
        (Journey(central_patients[4], hart, consult_days_ago=0), {}),
        # On an anticoagulant: the relative contraindication was overridden with a documented reason.
        (
            Journey(
                central_patients[5],
                hart,
                consult_days_ago=0,
                answers={
                    "medications": [
                        MedicationIn(
                            name="Apixaban",
                            drug_class="anticoagulant",
                            started_on=today - timedelta(days=300),
                        )
                    ]
                },
            ),
            {},
        ),
        # Stopped isotretinoin two months ago: deferred, with the date treatment may be reconsidered.
        (
            Journey(
                central_patients[6],
                hart,
                consult_days_ago=0,
                answers={
                    "medications": [
                        MedicationIn(
                            name="Isotretinoin",
                            drug_class="isotretinoin",
                            started_on=today - timedelta(days=240),
                            stopped_on=today - timedelta(days=60),
                        )
                    ]
                },
            ),
            {},
        ),
        # Manchester: a course completed three weeks ago.
        (Journey(north_patients[0], nasser, consult_days_ago=70, sessions=3), {}),
    ]
    in_progress: list[tuple[CoursePlan, date]] = []
    for journey, late_answers in journeys:
        consult_on = today - timedelta(days=journey.consult_days_ago)
        course = consult(db, journey, consult_on)
        if course is None or not journey.sessions:
            continue
        clinic_stock = stock[journey.patient.clinic_id]
        lot = clinic_stock.tranexamic_lot if journey.lot == "tranexamic" else clinic_stock.booster_lot
        gap = (journey.consult_days_ago - 1) // max(journey.sessions, 1)
        gap = max(course.interval_min_days, min(gap, course.interval_max_days))
        last = today - timedelta(days=1) if journey.sessions == 2 else None
        days = [consult_on + timedelta(days=i * gap) for i in range(journey.sessions)]
        if last is not None:
            days = [last - timedelta(days=(journey.sessions - 1 - i) * gap) for i in range(journey.sessions)]
        for day in days:
            treat(db, journey, course, day, lot)
        if journey is journeys[0][0]:
            photograph(db, journey, store, consult_on, days[-1])
        answer_checkins(db, journey, today, late_answers)
        if journey.sessions < course.sessions_planned:
            in_progress.append((course, days[-1]))

    nodule = journeys[2][0]
    hart_principal = principal_of(db, hart)
    with replay_at(_at(today - timedelta(days=1), 16)):
        queue = [
            e for e in aftercare.escalation_queue(db, hart_principal) if e.patient_id == nodule.patient.id
        ]
        if queue:
            aftercare.acknowledge(db, hart_principal, queue[0].id)
            aftercare.report_adverse_event(
                db,
                hart_principal,
                nodule.patient.id,
                AdverseEventIn(
                    session_id=queue[0].session_id,
                    suspected_lot_id=stock[central].booster_lot.id,
                    escalation_id=queue[0].id,
                    code="nodule",
                    description="Tender 8 mm nodule, left cheek; no fever. Swab taken, reviewed in clinic.",
                    onset_on=today - timedelta(days=2),
                    seriousness="non_serious",
                    severity="moderate",
                    outcome="ongoing",
                ),
            )
    set_up_calendars(db, admin, today, in_progress, [p.id for p in central_patients[4:6]])
    with replay_at(_at(today - timedelta(days=5), 12)):
        inventory.recall_lot(
            db,
            admin,
            stock[central].tranexamic_lot.id,
            "Manufacturer recall: particulate matter in some vials.",
        )


# --- scheduling ----------------------------------------------------------------------------------

#: Rooms of each clinic, in clinic id order (Marylebone, then Manchester).
ROOMS = [
    [("Treatment room 1", ["treatment_couch", "photo_station"]), ("Consulting room", [])],
    [("Treatment room", ["treatment_couch"]), ("Consulting room", [])],
]
OPENING = [(d, time(9), time(18)) for d in range(5)] + [(5, time(9), time(13))]  # Mon-Fri, Sat morning
TYPES = [
    AppointmentTypeIn(code="consultation", name="Consultation", duration_minutes=45),
    AppointmentTypeIn(
        code="mesotherapy_session",
        name="Mesotherapy session",
        duration_minutes=30,
        buffer_minutes=10,
        required_equipment=["treatment_couch"],
        patient_bookable=True,
    ),
    AppointmentTypeIn(code="review", name="Review", duration_minutes=15),
]


def _open_day(day: date) -> date:
    return day + timedelta(days=1) if day.weekday() == 6 else day


def set_up_calendars(
    db: Session,
    admin: Principal,
    today: date,
    in_progress: list[tuple[CoursePlan, date]],
    to_consult: list[int],
) -> None:
    """Rooms, hours and appointment types of both clinics (set up a year ago), then, booked this
    morning, the next session of each course in progress (inside its interval window) and
    consultations in the coming week, all through the scheduling services."""
    hart = principal_of(db, "dr.hart@lumen.example")
    nasser = principal_of(db, "dr.nasser@lumen.example")
    places: dict[int, dict[str, int]] = {}
    with replay_at(_at(today - timedelta(days=400), 8)):
        for clinic_id, rooms in zip(sorted(admin.clinic_ids), ROOMS, strict=True):
            ids = {
                name: calendar_setup.create_room(db, admin, clinic_id, RoomIn(name=name, equipment=kit)).id
                for name, kit in rooms
            }
            for weekday, opens, closes in OPENING:
                calendar_setup.add_opening_hours(
                    db, admin, clinic_id, OpeningHoursIn(weekday=weekday, opens=opens, closes=closes)
                )
            types = {t.code: calendar_setup.add_appointment_type(db, admin, clinic_id, t).id for t in TYPES}
            places[clinic_id] = {
                "treatment": ids[rooms[0][0]],
                "consulting": ids["Consulting room"],
                **types,
            }
        central, north = sorted(admin.clinic_ids)
        for person, clinic_id in ((hart, central), (nasser, north)):
            for weekday, opens, closes in OPENING:
                calendar_setup.add_working_hours(
                    db,
                    admin,
                    person.user_id,
                    WorkingHoursIn(clinic_id=clinic_id, weekday=weekday, starts=opens, ends=closes),
                )
    with replay_at(_at(today, 7)):
        for course, last_session in in_progress:
            patient = db.get_one(Patient, course.patient_id)
            place = places[patient.clinic_id]
            clinician = hart if patient.clinic_id == central else nasser
            day = _open_day(last_session + timedelta(days=course.interval_min_days))
            scheduling.book_appointment(
                db,
                clinician,
                AppointmentCreate(
                    patient_id=patient.id,
                    practitioner_user_id=clinician.user_id,
                    room_id=place["treatment"],
                    appointment_type_id=place["mesotherapy_session"],
                    starts_at=_at(max(day, today + timedelta(days=1)), 10),
                    course_plan_id=course.id,
                ),
            )
        for n, patient_id in enumerate(to_consult):
            day = _open_day(today + timedelta(days=2 + n))
            place = places[central]
            scheduling.book_appointment(
                db,
                hart,
                AppointmentCreate(
                    patient_id=patient_id,
                    practitioner_user_id=hart.user_id,
                    room_id=place["consulting"],
                    appointment_type_id=place["review" if n else "consultation"],
                    starts_at=_at(day, 11 + n),
                ),
            )
