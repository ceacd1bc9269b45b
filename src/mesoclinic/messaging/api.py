"""REST routes for messaging (thin: decisions live in rules.py, use cases in service.py).

``calendar_router`` serves the public feed URL ``/calendar/{token}.ics`` outside ``/api/v1``:
calendar apps fetch it without logging in, the secret token is the credential.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from mesoclinic.auth.deps import AppSettings, CurrentPrincipal, DbSession, RequestActor, requires
from mesoclinic.auth.rules import Permission, Principal
from mesoclinic.messaging import service
from mesoclinic.messaging.schemas import (
    CalendarFeedCreate,
    CalendarFeedIssued,
    CalendarFeedRead,
    MaintenanceDueRead,
)

router = APIRouter(prefix="/api/v1", tags=["messaging"])
calendar_router = APIRouter(tags=["calendar"])

ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"


@router.get(
    "/clinics/{clinic_id}/maintenance-due",
    response_model=list[MaintenanceDueRead],
)
def list_maintenance_due(
    clinic_id: int,
    db: DbSession,
    principal: Annotated[Principal, Depends(requires(Permission.PATIENT_READ))],
    within_days: Annotated[int, Query(ge=0, le=365)] = 0,
) -> list[service.MaintenanceDue]:
    """Patients whose maintenance visit is due or overdue (or due within ``within_days``), most
    overdue first, for the front desk to call. Staff of the clinic only."""
    return service.maintenance_due(db, principal, clinic_id, within_days)


@router.post("/calendar-feeds", response_model=CalendarFeedIssued, status_code=201)
def create_calendar_feed(
    body: CalendarFeedCreate,
    db: DbSession,
    principal: CurrentPrincipal,
    request: Request,
    settings: AppSettings,
) -> CalendarFeedIssued:
    """Create a secret iCalendar feed URL for your own appointments (or, as an admin, for a
    practitioner of your clinic). The URL is shown only in this response; revoke it if it leaks."""
    issued = service.create_feed(db, principal, body.owner, body.owner_id)
    base = settings.public_base_url.rstrip("/") or str(request.base_url).rstrip("/")
    return CalendarFeedIssued(
        **CalendarFeedRead.model_validate(issued.feed).model_dump(),
        url=f"{base}/calendar/{issued.token}.ics",
        token=issued.token,
    )


@router.delete("/calendar-feeds/{feed_id}", status_code=204, response_class=Response)
def revoke_calendar_feed(feed_id: int, db: DbSession, principal: CurrentPrincipal) -> Response:
    """Revoke a calendar feed: its URL stops working at once."""
    service.revoke_feed(db, principal, feed_id)
    return Response(status_code=204)


@calendar_router.get(
    "/calendar/{token}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "An RFC 5545 calendar"}},
)
def read_calendar_feed(token: str, db: DbSession, actor: RequestActor) -> Response:
    """The iCalendar feed behind a secret URL (no login). Unknown or revoked tokens get 404."""
    text = service.render_feed(db, token, actor)
    return Response(
        content=text.encode(),
        media_type=ICS_MEDIA_TYPE,
        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"},
    )
