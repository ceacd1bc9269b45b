"""Every table of MesoClinic, one module per aggregate, one metadata for Alembic."""

from mesoclinic.models.audit import AuditEvent
from mesoclinic.models.clinic import Clinic
from mesoclinic.models.patient import Allergy, Medication, Patient, PreviousProcedure
from mesoclinic.models.practitioner import Qualification
from mesoclinic.models.user import (
    ApiToken,
    BrowserSession,
    ClinicMembership,
    LoginAttempt,
    Role,
    User,
)

__all__ = [
    "Allergy",
    "ApiToken",
    "AuditEvent",
    "BrowserSession",
    "Clinic",
    "ClinicMembership",
    "LoginAttempt",
    "Medication",
    "Patient",
    "PreviousProcedure",
    "Qualification",
    "Role",
    "User",
]
