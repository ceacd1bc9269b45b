from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
)

from mesoclinic.screening.ruleset import ProcedureCategory, default_ruleset

Sex = Literal["female", "male", "other", "unknown"]

#: The version of ``IntakeAnswers`` written with every new intake (``Intake.answers_version``).
INTAKE_ANSWERS_VERSION = 1


def _stored(info: ValidationInfo) -> bool:
    """Answers read back from the database were checked when submitted: checks that depend on
    today's date or on the current vocabulary must not make an old record unreadable."""
    return isinstance(info.context, dict) and bool(info.context.get("stored"))


def not_in_future(value: date | None, info: ValidationInfo) -> date | None:
    if value is not None and not _stored(info) and value > date.today():
        raise ValueError("cannot be in the future")
    return value


def _known_codes(kind: str, values: set[str], info: ValidationInfo) -> set[str]:
    if _stored(info):
        return values
    known = getattr(default_ruleset().vocabulary, kind)
    unknown = sorted(values - set(known))
    if unknown:
        raise ValueError(f"unknown code(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return values


def _vocabulary_enum(kind: str) -> Any:
    """Lists the current codes in the OpenAPI schema, from the screening data."""

    def extra(schema: dict[str, Any]) -> None:
        schema.setdefault("items", {})["enum"] = list(getattr(default_ruleset().vocabulary, kind))

    return extra


class _AllergyFields(BaseModel):
    substance: str = Field(min_length=1, max_length=200)
    reaction: str = Field(default="", max_length=400)


class AllergyIn(_AllergyFields):
    model_config = ConfigDict(str_strip_whitespace=True)


class _MedicationFields(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    drug_class: str = Field(
        default="",
        max_length=60,
        description="A screening class (see the intake questionnaire's drug_classes), or empty.",
    )
    started_on: date | None = None
    stopped_on: date | None = Field(default=None, description="May be a planned stop date.")


class MedicationIn(_MedicationFields):
    model_config = ConfigDict(str_strip_whitespace=True)

    _started_not_in_future = field_validator("started_on")(not_in_future)

    @field_validator("drug_class")
    @classmethod
    def _known_class(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip().lower()
        if value:
            _known_codes("drug_classes", {value}, info)
        return value


class _PreviousProcedureFields(BaseModel):
    procedure: str = Field(min_length=1, max_length=200)
    performed_on: date
    notes: str = Field(default="", max_length=4000)


class PreviousProcedureIn(_PreviousProcedureFields):
    model_config = ConfigDict(str_strip_whitespace=True)

    category: ProcedureCategory = Field(
        default="other", description="Screening category: recent laser, peel or surgery defer treatment."
    )

    _performed_not_in_future = field_validator("performed_on")(not_in_future)


class IntakeAnswers(BaseModel):
    """The intake questionnaire (version 1): what the patient or the desk answered, as submitted.

    Condition, skin-problem and drug-class codes come from the screening data, so every answer
    the questionnaire asks about is one a contraindication rule can read.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    pregnant: bool = Field(description="Pregnant now (or might be).")
    breastfeeding: bool
    planning_pregnancy: bool = False
    conditions: set[str] = Field(
        default_factory=set, max_length=50, json_schema_extra=_vocabulary_enum("conditions")
    )
    skin_problems: set[str] = Field(
        default_factory=set,
        max_length=50,
        description="Active problems in the area to be treated.",
        json_schema_extra=_vocabulary_enum("skin_problems"),
    )
    skin_problem_notes: str = Field(default="", max_length=2000)
    vaccination_on: date | None = Field(default=None, description="Date of the most recent vaccination.")
    antibiotics_until: date | None = Field(
        default=None, description="Last day of the current or most recent antibiotics course."
    )
    fitzpatrick: int | None = Field(default=None, ge=1, le=6, description="Fitzpatrick phototype I–VI.")
    #: New history the patient declares; appended to the record when the intake is submitted.
    allergies: list[AllergyIn] = Field(default_factory=list, max_length=50)
    medications: list[MedicationIn] = Field(default_factory=list, max_length=50)
    previous_procedures: list[PreviousProcedureIn] = Field(default_factory=list, max_length=100)
    notes: str = Field(default="", max_length=4000)

    _vaccination_not_in_future = field_validator("vaccination_on")(not_in_future)

    @field_validator("conditions")
    @classmethod
    def _known_conditions(cls, value: set[str], info: ValidationInfo) -> set[str]:
        return _known_codes("conditions", value, info)

    @field_validator("skin_problems")
    @classmethod
    def _known_skin_problems(cls, value: set[str], info: ValidationInfo) -> set[str]:
        return _known_codes("skin_problems", value, info)

    @field_serializer("conditions", "skin_problems")
    def _sorted(self, value: set[str]) -> list[str]:
        return sorted(value)


INTAKE_ANSWER_MODELS: dict[int, type[IntakeAnswers]] = {1: IntakeAnswers}


def stored_answers(version: int, data: dict[str, Any]) -> IntakeAnswers:
    """Answers as stored with their version; date and vocabulary checks are not re-run."""
    model = INTAKE_ANSWER_MODELS.get(version)
    if model is None:
        raise ValueError(f"intake answers version {version} is not known")
    return model.model_validate(data, context={"stored": True})


class PatientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    clinic_id: int | None = Field(default=None, description="Defaults to the caller's active clinic.")
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    sex: Sex = "unknown"
    email: EmailStr | Literal[""] = ""
    phone: str = Field(default="", max_length=40, pattern=r"^[0-9+() .\-]*$")
    allergies: list[AllergyIn] = Field(default_factory=list, max_length=50)
    medications: list[MedicationIn] = Field(default_factory=list, max_length=50)
    previous_procedures: list[PreviousProcedureIn] = Field(default_factory=list, max_length=100)

    @field_validator("date_of_birth")
    @classmethod
    def _plausible_birth_date(cls, value: date) -> date:
        today = date.today()
        if value > today:
            raise ValueError("date of birth is in the future")
        if value.year < today.year - 120:
            raise ValueError("date of birth is more than 120 years ago")
        return value


class PatientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    sex: Sex | None = None
    email: EmailStr | Literal[""] | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+() .\-]*$")


class AllergyRead(_AllergyFields):
    model_config = ConfigDict(from_attributes=True)
    id: int


class MedicationRead(_MedicationFields):
    model_config = ConfigDict(from_attributes=True)
    id: int


class PreviousProcedureRead(_PreviousProcedureFields):
    model_config = ConfigDict(from_attributes=True)
    id: int
    category: str


class PatientSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    clinic_id: int
    given_name: str
    family_name: str
    date_of_birth: date
    sex: str
    email: str
    phone: str


class PatientRead(PatientSummary):
    created_at: datetime
    updated_at: datetime
    allergies: list[AllergyRead]
    medications: list[MedicationRead]
    previous_procedures: list[PreviousProcedureRead]


class PatientPage(BaseModel):
    items: list[PatientSummary]
    total: int
    offset: int
    limit: int


class IntakeRead(BaseModel):
    id: int
    patient_id: int
    submitted_at: datetime
    submitted_by_user_id: int
    source: Literal["patient", "staff"]
    fitzpatrick: int | None
    answers_version: int
    answers: IntakeAnswers


class Choice(BaseModel):
    code: str
    label: str


class IntakeQuestionnaire(BaseModel):
    """What a form needs to ask the intake questions: the answer codes and their labels."""

    answers_version: int
    ruleset_version: str
    conditions: list[Choice]
    skin_problems: list[Choice]
    drug_classes: list[Choice]
    procedure_categories: list[str]
