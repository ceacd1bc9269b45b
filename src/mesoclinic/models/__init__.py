"""Every table of MesoClinic, one module per aggregate, one metadata for Alembic."""

from mesoclinic.models.aftercare import AdverseEvent, AftercareCheckin, Escalation
from mesoclinic.models.assessment import AssessmentFinding, SkinAssessment
from mesoclinic.models.audit import AuditEvent
from mesoclinic.models.clinic import Clinic
from mesoclinic.models.consent import ConsentRecord, ConsentText
from mesoclinic.models.formulation import ClinicIngredient, Formulation
from mesoclinic.models.imaging import Photo, PhotoAnalysis
from mesoclinic.models.intake import Intake
from mesoclinic.models.inventory import Lot, Product, StockMovement
from mesoclinic.models.patient import Allergy, Medication, Patient, PreviousProcedure
from mesoclinic.models.planning import CoursePlan
from mesoclinic.models.practitioner import Qualification
from mesoclinic.models.scheduling import (
    Absence,
    Appointment,
    AppointmentEvent,
    AppointmentType,
    BookedSlot,
    CalendarFeed,
    ClinicClosure,
    ContactPreference,
    OpeningHours,
    OutboxMessage,
    Room,
    WorkingHours,
)
from mesoclinic.models.screening import ScreeningOverride, ScreeningResult
from mesoclinic.models.treatment import Injection, SessionAmendment, TreatmentSession
from mesoclinic.models.user import ApiToken, BrowserSession, ClinicMembership, LoginAttempt, Role, User

__all__ = [
    "Absence",
    "AdverseEvent",
    "AftercareCheckin",
    "Allergy",
    "ApiToken",
    "Appointment",
    "AppointmentEvent",
    "AppointmentType",
    "AssessmentFinding",
    "AuditEvent",
    "BookedSlot",
    "BrowserSession",
    "CalendarFeed",
    "Clinic",
    "ClinicClosure",
    "ClinicIngredient",
    "ClinicMembership",
    "ConsentRecord",
    "ConsentText",
    "ContactPreference",
    "CoursePlan",
    "Escalation",
    "Formulation",
    "Injection",
    "Intake",
    "LoginAttempt",
    "Lot",
    "Medication",
    "OpeningHours",
    "OutboxMessage",
    "Patient",
    "Photo",
    "PhotoAnalysis",
    "PreviousProcedure",
    "Product",
    "Qualification",
    "Role",
    "Room",
    "ScreeningOverride",
    "ScreeningResult",
    "SessionAmendment",
    "SkinAssessment",
    "StockMovement",
    "TreatmentSession",
    "User",
    "WorkingHours",
]
