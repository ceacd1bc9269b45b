"""Server-rendered pages for treatment (thin: rules live in the domain packages).

The session screen at ``/sessions/{id}``: the enforced checklist (with the numbing wait counted
down from the server's ready-at time), the interactive face chart (zones from the assessment
reference, points placed in a 0–1 frame), one form per zone posting to the treatment service,
then the pain score and sign-off.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from mesoclinic.assessment import rules as assessment_rules
from mesoclinic.auth.deps import CurrentPrincipal, DbSession
from mesoclinic.auth.rules import Principal
from mesoclinic.db import utcnow
from mesoclinic.errors import InvalidInput
from mesoclinic.inventory import service as inventory
from mesoclinic.models import Clinic, TreatmentSession
from mesoclinic.patients import service as patients
from mesoclinic.treatment import rules, service
from mesoclinic.treatment.schemas import InjectionIn, NumbingStep, SessionSign
from mesoclinic.web.forms import attempt, form_values
from mesoclinic.web.templating import render

router = APIRouter(include_in_schema=False)

#: Where each zone is drawn on the face chart, in the chart's 0–1 frame (x, y, rx, ry of an
#: ellipse per side). A drawing aid only: the zone codes and laterality come from the reference.
ZONE_SHAPES: dict[tuple[str, str], tuple[float, float, float, float]] = {
    ("forehead", "M"): (0.50, 0.17, 0.20, 0.07),
    ("glabella", "M"): (0.50, 0.28, 0.04, 0.035),
    ("crows_feet", "R"): (0.22, 0.35, 0.035, 0.05),
    ("crows_feet", "L"): (0.78, 0.35, 0.035, 0.05),
    ("periorbital", "R"): (0.36, 0.40, 0.08, 0.03),
    ("periorbital", "L"): (0.64, 0.40, 0.08, 0.03),
    ("cheek", "R"): (0.31, 0.53, 0.08, 0.08),
    ("cheek", "L"): (0.69, 0.53, 0.08, 0.08),
    ("nasolabial", "R"): (0.41, 0.61, 0.025, 0.06),
    ("nasolabial", "L"): (0.59, 0.61, 0.025, 0.06),
    ("perioral", "M"): (0.50, 0.66, 0.06, 0.025),
    ("lips", "M"): (0.50, 0.71, 0.07, 0.025),
    ("marionette", "R"): (0.40, 0.75, 0.025, 0.04),
    ("marionette", "L"): (0.60, 0.75, 0.025, 0.04),
    ("chin", "M"): (0.50, 0.82, 0.06, 0.035),
    ("jawline", "R"): (0.28, 0.73, 0.035, 0.08),
    ("jawline", "L"): (0.72, 0.73, 0.035, 0.08),
    ("neck", "M"): (0.50, 0.94, 0.12, 0.04),
}
SIDE_LABELS = {"L": "left", "R": "right", "M": ""}
#: Lots not offered on the chart (the inventory service refuses them anyway).
UNUSABLE_LOT_STATES = frozenset({"expired", "recalled"})


def chart_zones() -> list[dict[str, Any]]:
    """The zones drawn on the chart: every reference zone with a shape, per side."""
    zones: list[dict[str, Any]] = []
    for zone in assessment_rules.reference().zones.values():
        for side in zone.sides:
            shape = ZONE_SHAPES.get((zone.code, side))
            if shape is None:
                continue
            label = f"{zone.label}, {SIDE_LABELS[side]}" if SIDE_LABELS[side] else zone.label
            zones.append(
                {
                    "code": zone.code,
                    "side": side,
                    "label": label,
                    "cx": shape[0],
                    "cy": shape[1],
                    "rx": shape[2],
                    "ry": shape[3],
                }
            )
    return zones


def _clinic_zone(db: Session, clinic_id: int) -> ZoneInfo:
    return ZoneInfo(db.get_one(Clinic, clinic_id).timezone)


def _screen(
    request: Request,
    db: Session,
    principal: Principal,
    session_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    session = service.get_session(db, principal, session_id)
    patient = patients.get_patient(db, principal, session.patient_id, audit_read=False)
    tz = _clinic_zone(db, session.clinic_id)
    now = utcnow()
    checklist = session.checklist or {}
    missing = rules.missing_steps(checklist)
    ready_at = rules.numbing_ready_at(checklist) if checklist.get("numbing") else None
    lots = []
    if principal.is_staff and session.status != "signed":
        lots = [
            lot
            for lot in inventory.list_lots(db, principal, session.clinic_id)
            if lot.state not in UNUSABLE_LOT_STATES
        ]
    protocol = rules.protocol()
    context = {
        "session": session,
        "patient": patient,
        "checklist": checklist,
        "missing": missing,
        "ready_at": ready_at,
        "ready": ready_at is None or ready_at <= now,
        "now_local": now.astimezone(tz),
        "zones": chart_zones(),
        "lots": lots,
        "protocol": protocol,
        "injections": list(session.injections),
        "total_volume": round(sum(i.total_volume_ml for i in session.injections), 4),
        "total_points": sum(i.points for i in session.injections),
        "signed": session.signed_at is not None,
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "treatment/session.html", context, status_code=status_code)


def _back(session_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/sessions/{session_id}{anchor}", status_code=303)


def _failed(
    request: Request,
    db: Session,
    principal: Principal,
    session_id: int,
    errors: dict[str, str],
    values: dict[str, str],
    status: int,
) -> Response:
    return _screen(request, db, principal, session_id, errors=errors, values=values, status_code=status)


@router.get("/sessions/{session_id}")
def session_screen(request: Request, db: DbSession, principal: CurrentPrincipal, session_id: int) -> Response:
    return _screen(request, db, principal, session_id)


@router.post("/sessions/{session_id}/skin-cleansed")
async def post_skin_cleansed(
    request: Request, db: DbSession, principal: CurrentPrincipal, session_id: int
) -> Response:
    done = attempt(db, principal, lambda: service.mark_skin_cleansed(db, principal, session_id))
    if done.refused:
        return _failed(request, db, principal, session_id, done.errors, {}, done.status)
    return _back(session_id, "#checklist")


def _applied_at(db: Session, session: TreatmentSession, value: str) -> datetime:
    """A clock time typed on the tablet, in the clinic's time zone: today, or yesterday when the
    time is more than 12 hours ahead (cream applied before midnight)."""
    try:
        hours, minutes = (int(part) for part in value.strip().split(":")[:2])
        tz = _clinic_zone(db, session.clinic_id)
        now = utcnow().astimezone(tz)
        applied = now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
    except ValueError:
        raise InvalidInput("Give the time as HH:MM.", code="invalid-time", field="applied_at") from None
    if applied - now > timedelta(hours=12):
        applied -= timedelta(days=1)  # 23:50 typed at 00:15 (a time just ahead stays: it is refused)
    return applied


@router.post("/sessions/{session_id}/numbing")
async def post_numbing(
    request: Request, db: DbSession, principal: CurrentPrincipal, session_id: int
) -> Response:
    values = form_values(await request.form())

    def run() -> None:
        session = service.get_session(db, principal, session_id, audit_read=False)
        if values.get("declined_reason", "").strip():
            data = NumbingStep(declined_reason=values["declined_reason"].strip())
        else:
            if not values.get("applied_at", "").strip():
                raise InvalidInput(
                    "Give the time the cream was applied.", code="required", field="applied_at"
                )
            data = NumbingStep(
                product_name=values.get("product_name", "").strip() or None,
                applied_at=_applied_at(db, session, values["applied_at"]),
            )
        service.record_numbing(db, principal, session_id, data)

    done = attempt(db, principal, run)
    if done.refused:
        errors = {("numbing" if k == "form" else k): v for k, v in done.errors.items()}
        return _failed(request, db, principal, session_id, errors, values, done.status)
    return _back(session_id, "#checklist")


def _chart_points(raw: str) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for pair in raw.split(";"):
        if not pair.strip():
            continue
        try:
            x, y = (float(part) for part in pair.split(","))
        except ValueError:
            raise InvalidInput(
                "The chart points could not be read.", code="invalid-chart-points", field="chart_points"
            ) from None
        points.append((x, y))
    return points


@router.post("/sessions/{session_id}/zones")
async def post_zone(
    request: Request, db: DbSession, principal: CurrentPrincipal, session_id: int
) -> Response:
    values = form_values(await request.form())

    def run() -> None:
        lot_id = int(values["lot"]) if values.get("lot", "").isdigit() else 0
        session = service.get_session(db, principal, session_id, audit_read=False)
        product_id = next(
            (
                lot.product_id
                for lot in inventory.list_lots(db, principal, session.clinic_id)
                if lot.id == lot_id
            ),
            0,
        )
        if not product_id:
            raise InvalidInput("Choose a product lot.", code="required", field="lot_id")
        zone, _, side = values.get("zone", "").partition(":")
        data = InjectionIn.model_validate(
            {
                "zone": zone,
                "side": side or "M",
                "technique": values.get("technique", ""),
                "depth_mm": values.get("depth_mm", ""),
                "volume_per_point_ml": values.get("volume_per_point_ml", ""),
                "points": values.get("points", ""),
                "needle_gauge": values.get("needle_gauge", ""),
                "needle_length_mm": values.get("needle_length_mm", ""),
                "product_id": product_id,
                "lot_id": lot_id,
                "chart_points": _chart_points(values.get("chart_points", "")),
            }
        )
        service.add_injection(db, principal, session_id, data)

    done = attempt(db, principal, run)
    if done.refused:
        errors = {("zone_form" if k == "form" else k): v for k, v in done.errors.items()}
        return _failed(request, db, principal, session_id, errors, values, done.status)
    return _back(session_id, "#chart")


@router.post("/sessions/{session_id}/sign")
async def post_sign(
    request: Request, db: DbSession, principal: CurrentPrincipal, session_id: int
) -> Response:
    values = form_values(await request.form())
    done = attempt(
        db,
        principal,
        lambda: service.sign_session(
            db,
            principal,
            session_id,
            SessionSign.model_validate(
                {"pain_score": values.get("pain_score", ""), "notes": values.get("notes", "")}
            ),
        ),
    )
    if done.refused:
        errors = {("sign" if k == "form" else k): v for k, v in done.errors.items()}
        return _failed(request, db, principal, session_id, errors, values, done.status)
    return _back(session_id)
