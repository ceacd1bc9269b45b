"""Consent decisions as pure functions: is a consent valid, does a signature hold up, who may witness.

A consent is valid when the patient's latest signature for that kind is on the version of the text
current at the patient's clinic and has not been withdrawn. Publishing a new version therefore
supersedes every earlier signature: patients re-sign what they are actually agreeing to (the
2025 consensus guideline has sections on consent and its documentation, Q17–19:
https://www.mdpi.com/2077-0383/14/13/4689/xml; only its outline was readable).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from mesoclinic.auth.rules import Permission

ConsentKind = Literal["treatment", "photo", "marketing"]
KINDS: tuple[ConsentKind, ...] = ("treatment", "photo", "marketing")

ConsentState = Literal["valid", "none", "withdrawn", "superseded", "no_text"]

CONSENT_MISSING = "consent-missing"
TEXT_SUPERSEDED = "consent-text-superseded"

# --- validity ----------------------------------------------------------------------------------


class SignatureLike(Protocol):
    """What the rules read from a signature (a ``ConsentRecord`` row satisfies it)."""

    @property
    def id(self) -> int: ...
    @property
    def consent_text_id(self) -> int: ...
    @property
    def signed_at(self) -> datetime: ...
    @property
    def withdrawn_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Signed:
    """Plain signature data, for callers (and tests) without a database row."""

    id: int
    consent_text_id: int
    signed_at: datetime
    withdrawn_at: datetime | None = None


@dataclass(frozen=True)
class ConsentDecision:
    state: ConsentState
    #: The signature the decision rests on (the valid one, or the latest one that no longer counts).
    record_id: int | None
    reason: str

    @property
    def valid(self) -> bool:
        return self.state == "valid"


def consent_decision(
    signatures: Iterable[SignatureLike], current_text_id: int | None, at: datetime, kind: str = "treatment"
) -> ConsentDecision:
    """Whether the patient has valid ``kind`` consent at ``at``.

    ``signatures`` are the patient's signatures of that kind; ``current_text_id`` the version in
    force at ``at`` (None when the clinic has published none). Only what happened by ``at`` counts.
    The latest signature decides: a new signature after a withdrawal consents again."""
    if current_text_id is None:
        return ConsentDecision("no_text", None, f"The clinic has published no {kind} consent text.")
    signed = [s for s in signatures if s.signed_at <= at]
    on_current = [s for s in signed if s.consent_text_id == current_text_id]
    if on_current:
        latest = max(on_current, key=lambda s: (s.signed_at, s.id))
        if latest.withdrawn_at is not None and latest.withdrawn_at <= at:
            return ConsentDecision(
                "withdrawn",
                latest.id,
                f"The patient withdrew {kind} consent on {latest.withdrawn_at:%Y-%m-%d}.",
            )
        return ConsentDecision("valid", latest.id, f"The patient signed the current {kind} consent.")
    if signed:
        latest = max(signed, key=lambda s: (s.signed_at, s.id))
        return ConsentDecision(
            "superseded",
            latest.id,
            f"The patient signed an earlier version of the {kind} consent; the current one is unsigned.",
        )
    return ConsentDecision("none", None, f"The patient has not signed the {kind} consent.")


def witness_permission(kind: str) -> Permission:
    """What a staff member needs to witness a signature at the clinic's tablet.

    Treatment consent rests on the risk discussion, a clinical act: a practitioner (or an
    administrator) witnesses it. Photo and marketing consent may be witnessed by the front desk."""
    return Permission.CLINICAL_WRITE if kind == "treatment" else Permission.PATIENT_WRITE


# --- typed name ---------------------------------------------------------------------------------

_NAME_SEPARATORS = re.compile(r"[\s\-‐‑‒–—'’`´.,]+")


def normalise_name(name: str) -> str:
    """Case, accents, hyphens, apostrophes and spacing do not matter: 'josé-maría  o'neil' and
    'Jose Maria ONeil' compare equal only where their letters do."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(t for t in _NAME_SEPARATORS.split(letters.casefold()) if t)


def typed_name_matches(typed: str, given_name: str, family_name: str) -> bool:
    """The typed name is the patient's name, given-family or family-given order."""
    typed_norm = normalise_name(typed)
    if not typed_norm:
        return False
    given, family = normalise_name(given_name), normalise_name(family_name)
    return typed_norm in {f"{given} {family}".strip(), f"{family} {given}".strip()}


# --- drawn signature ------------------------------------------------------------------------------

MAX_SIGNATURE_CHARS = 20_000
MIN_SIGNATURE_SEGMENTS = 3
#: The signature pad's coordinate box, with a margin for curve control points beyond the edge.
MIN_COORDINATE = -100.0
MAX_COORDINATE = 5_000.0
#: A drawn mark must span at least this many units (a dot or a tap is not a signature).
MIN_EXTENT = 10.0
#: Numbers of coordinates each command takes per segment; absolute commands only, so the
#: coordinate box can be checked without tracking a current point.
ARITY = {"M": 2, "L": 2, "Q": 4, "C": 6, "Z": 0}

_TOKEN = re.compile(r"\s*(?:([MLQCZ])|(-?(?:\d+\.?\d*|\.\d+)))\s*,?")


@dataclass(frozen=True)
class SignatureCheck:
    #: The signature re-written from its parsed numbers: what is stored, never the raw input.
    canonical: str = ""
    problem: str | None = None
    segments: int = 0


def check_signature(path: str) -> SignatureCheck:
    """Validate SVG path data from the signature pad and re-serialise it.

    Accepted: absolute ``M``, ``L``, ``Q``, ``C`` and ``Z`` commands with plain decimal numbers,
    separated by spaces or commas; at most ``MAX_SIGNATURE_CHARS`` characters; starting with ``M``;
    at least ``MIN_SIGNATURE_SEGMENTS`` drawn segments; every coordinate inside the pad's box.
    Anything else (markup, other commands, exponents) is refused, so no arbitrary text is stored."""
    if len(path) > MAX_SIGNATURE_CHARS:
        return SignatureCheck(problem=f"The signature is longer than {MAX_SIGNATURE_CHARS} characters.")
    tokens: list[str | float] = []
    position = 0
    stripped = path.strip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            return SignatureCheck(problem="The signature may contain only M, L, Q, C, Z and numbers.")
        command, number = match.groups()
        tokens.append(command if command else float(number))
        position = match.end()
    if not tokens or tokens[0] != "M":
        return SignatureCheck(problem="The signature must start with a move (M) command.")

    parts: list[str] = []
    segments = 0
    xs: list[float] = []
    ys: list[float] = []
    index = 0
    while index < len(tokens):
        command = tokens[index]
        index += 1
        if not isinstance(command, str):  # unreachable: each command consumes the numbers after it
            return SignatureCheck(problem="Numbers must follow a command.")
        numbers: list[float] = []
        while index < len(tokens) and isinstance(tokens[index], float):
            numbers.append(float(tokens[index]))
            index += 1
        arity = ARITY[command]
        if arity == 0:
            if numbers:
                return SignatureCheck(problem="Z takes no numbers.")
            parts.append("Z")
            continue
        if not numbers or len(numbers) % arity:
            return SignatureCheck(problem=f"{command} needs its numbers in groups of {arity}.")
        for value in numbers:
            if not math.isfinite(value) or not MIN_COORDINATE <= value <= MAX_COORDINATE:
                return SignatureCheck(
                    problem="Signature coordinates must lie between "
                    f"{MIN_COORDINATE:g} and {MAX_COORDINATE:g}."
                )
        xs.extend(numbers[0::2])
        ys.extend(numbers[1::2])
        groups = len(numbers) // arity
        # Extra pairs after M are implicit line-tos: they draw.
        segments += groups - 1 if command == "M" else groups
        parts.append(command + " " + " ".join(_number(v) for v in numbers))
    if segments < MIN_SIGNATURE_SEGMENTS:
        return SignatureCheck(
            problem=f"The signature needs at least {MIN_SIGNATURE_SEGMENTS} drawn segments."
        )
    if max(max(xs) - min(xs), max(ys) - min(ys)) < MIN_EXTENT:
        return SignatureCheck(problem="The signature is too small to be a signature.")
    return SignatureCheck(canonical=" ".join(parts), segments=segments)


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
