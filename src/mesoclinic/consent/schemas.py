from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mesoclinic.consent.rules import MAX_SIGNATURE_CHARS, ConsentKind, ConsentState

SignatureMethod = Literal["drawn", "typed"]

# --- reference data: the default texts ----------------------------------------------------------


class DefaultFact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1)
    source: str = Field(min_length=1)
    evidence: Literal["cited", "clinic", "derived", "clinic-consensus", "verify", "policy"]


class DefaultSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    heading: str = Field(min_length=1)
    facts: tuple[DefaultFact, ...] = Field(min_length=1)


class DefaultText(BaseModel):
    """One default consent text; ``body`` is what the patient reads, ``sections`` keep the sources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ConsentKind
    title: str = Field(min_length=1, max_length=200)
    intro: str = Field(min_length=1)
    sections: tuple[DefaultSection, ...] = Field(min_length=1)
    closing: str = Field(min_length=1)

    @property
    def body(self) -> str:
        parts = [" ".join(self.intro.split())]
        for section in self.sections:
            bullets = (f"- {' '.join(fact.text.split())}" for fact in section.facts)
            parts.append("\n".join([section.heading, *bullets]))
        parts.append(" ".join(self.closing.split()))
        return "\n\n".join(parts)


class DefaultTexts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    texts: tuple[DefaultText, ...]


# --- API ---------------------------------------------------------------------------------------


class ConsentTextCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: ConsentKind
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=20, max_length=50_000, description="Plain text the patient reads.")


class ConsentTextRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    clinic_id: int
    kind: str
    version: int
    title: str
    body: str
    published_at: datetime
    created_by_user_id: int
    current: bool = Field(default=False, description="Whether this is the version in force for its kind.")


class ConsentSign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent_text_id: int
    typed_name: str = Field(min_length=1, max_length=200, description="The patient's full name, typed.")
    signature_method: SignatureMethod = Field(
        default="drawn",
        description="``drawn`` on a signature pad (give ``signature_svg_path``), or ``typed``: the "
        "typed name is adopted as the signature and drawn by the server (for keyboard and "
        "screen-reader users; give no path).",
    )
    signature_svg_path: str = Field(
        default="",
        max_length=MAX_SIGNATURE_CHARS,
        description="The drawn signature as SVG path data: absolute M, L, Q, C, Z commands only.",
    )


class ConsentWithdraw(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=2000)


class ConsentRecordRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    consent_text_id: int
    kind: str
    typed_name: str
    signature_method: SignatureMethod
    signature_svg_path: str
    signed_at: datetime
    witnessed_by_user_id: int | None
    withdrawn_at: datetime | None
    withdrawal_reason: str


class ConsentRecordStatus(ConsentRecordRead):
    version: int
    state: Literal["valid", "withdrawn", "superseded", "replaced"] = Field(
        description="`valid`: the signature in force; `withdrawn`; `superseded`: signed on an older "
        "version; `replaced`: a later signature of the same kind took over."
    )


class ConsentOverview(BaseModel):
    """A patient's consents: every signature (newest first) and, per kind, whether consent holds."""

    patient_id: int
    status: dict[str, ConsentState]
    records: list[ConsentRecordStatus]
