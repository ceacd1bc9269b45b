"""Every table of MesoClinic, one module per aggregate, one metadata for Alembic."""

from mesoclinic.models.aftercare import AdverseEvent, AftercareCheckin, Escalation
from mesoclinic.models.assessment import AssessmentFinding, SkinAssessment
from mesoclinic.models.audit import AuditEvent
from mesoclinic.models.clinic import Clinic
from mesoclinic.models.consent import ConsentRecord, ConsentText
from mesoclinic.models.formulation import ClinicIngredient, Formulation
from mesoclinic.models.intake import Intake
from mesoclinic.models.inventory import Lot, Product, StockMovement
from mesoclinic.models.patient import Allergy, Medication, Patient, PreviousProcedure
from mesoclinic.models.planning import CoursePlan
from mesoclinic.models.practitioner import Qualification
from mesoclinic.models.screening import ScreeningOverride, ScreeningResult
from mesoclinic.models.treatment import Injection, SessionAmendment, TreatmentSession
from mesoclinic.models.user import ApiToken, BrowserSession, ClinicMembership, LoginAttempt, Role, User

__all__ = [
    "AdverseEvent",
    "AftercareCheckin",
    "Allergy",
    "ApiToken",
    "AssessmentFinding",
    "AuditEvent",
    "BrowserSession",
    "Clinic",
    "ClinicIngredient",
    "ClinicMembership",
    "ConsentRecord",
    "ConsentText",
    "CoursePlan",
    "Escalation",
    "Formulation",
    "Injection",
    "Intake",
    "LoginAttempt",
    "Lot",
    "Medication",
    "Patient",
    "PreviousProcedure",
    "Product",
    "Qualification",
    "Role",
    "ScreeningOverride",
    "ScreeningResult",
    "SessionAmendment",
    "SkinAssessment",
    "StockMovement",
    "TreatmentSession",
    "User",
]
