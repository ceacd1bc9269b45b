"""What a consent form (portal or tablet) submitted, as the consent service's input."""

from __future__ import annotations

from mesoclinic.consent.schemas import ConsentSign
from mesoclinic.errors import InvalidInput


def consent_signature(consent_text_id: int, typed_name: str, drawn: str, *, by_typing: bool) -> ConsentSign:
    """The drawn path, or with ``by_typing`` the typed name adopted as the signature (the service
    draws it and records the method)."""
    if not typed_name.strip():
        raise InvalidInput("Type your full name.", code="required", field="typed_name")
    return ConsentSign(
        consent_text_id=consent_text_id,
        typed_name=typed_name.strip(),
        signature_method="typed" if by_typing else "drawn",
        signature_svg_path="" if by_typing else drawn,
    )
