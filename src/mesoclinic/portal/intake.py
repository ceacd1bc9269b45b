"""The portal's intake questionnaire form: flat HTML fields to and from ``IntakeAnswers``.

The questions, their answer codes and labels come from ``patients.service.questionnaire()`` (the
screening rule set's vocabulary); this module only knows how the form lays them out: yes/no radio
groups, tick boxes, a few rows each for allergies, medicines and previous treatments (blank rows
are left out), and the patient-friendly wording of a refusal next to its field.
"""

from __future__ import annotations

from typing import Any

#: Rows offered per list on the form (a patient with more can add them at the clinic).
ROWS = {"allergies": 3, "medications": 3, "previous_procedures": 2}
#: The fields of one row, in the order the form shows them.
ROW_FIELDS = {
    "allergies": ("substance", "reaction"),
    "medications": ("name", "drug_class", "started_on", "stopped_on"),
    "previous_procedures": ("procedure", "category", "performed_on"),
}
#: Yes/no questions; the first two must be answered.
YES_NO = {
    "pregnant": "Are you pregnant, or could you be?",
    "breastfeeding": "Are you breastfeeding?",
    "planning_pregnancy": "Are you planning a pregnancy?",
}
REQUIRED_YES_NO = ("pregnant", "breastfeeding")
#: Row fields with a preset choice on the form (a row with only these is a blank row).
PRESET = frozenset({"category"})
MULTI = ("conditions", "skin_problems")
TEXTS = ("skin_problem_notes", "notes")
DATES = ("vaccination_on", "antibiotics_until")
PROCEDURE_LABELS = {
    "laser": "Laser",
    "peel": "Chemical peel",
    "facial_surgery": "Facial surgery",
    "filler": "Filler",
    "toxin": "Botulinum toxin (for example Botox)",
    "mesotherapy": "Mesotherapy",
    "microneedling": "Microneedling",
    "other": "Something else",
}


def fields() -> set[str]:
    """Every field the form shows an error next to (anything else is shown above the form)."""
    names = {*YES_NO, *MULTI, *TEXTS, *DATES, "fitzpatrick"}
    for kind, count in ROWS.items():
        names.update(f"{kind}.{row}.{name}" for row in range(count) for name in ROW_FIELDS[kind])
    return names


def blank() -> dict[str, Any]:
    """An empty form."""
    return {name: [] for name in MULTI}


def typed(form: dict[str, list[Any]]) -> dict[str, Any]:
    """What the patient submitted, as values to re-render the form with (lists for tick boxes)."""
    values: dict[str, Any] = {
        key: str(items[0]).strip() if items else ""
        for key, items in form.items()
        if key not in MULTI and key != "csrf_token"
    }
    for name in MULTI:
        values[name] = [str(item) for item in form.get(name, [])]
    return values


def answers_body(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """The ``IntakeAnswers`` payload, and per list which form row each item came from (blank rows
    are skipped, so item ``i`` may be row ``j``: errors are moved back to the row the patient sees)."""
    body: dict[str, Any] = {name: list(values.get(name, [])) for name in MULTI}
    for name in YES_NO:
        answer = values.get(name, "")
        if answer in ("yes", "no"):
            body[name] = answer == "yes"
    for name in TEXTS:
        body[name] = values.get(name, "")
    for name in DATES:
        if values.get(name):
            body[name] = values[name]
    if values.get("fitzpatrick"):
        body["fitzpatrick"] = values["fitzpatrick"]
    rows: dict[str, list[int]] = {}
    for kind, count in ROWS.items():
        items, used = [], []
        for row in range(count):
            item = {f: values.get(f"{kind}.{row}.{f}", "") for f in ROW_FIELDS[kind]}
            # A row counts as filled in by what was typed, not by a select's preset choice.
            if any(v for f, v in item.items() if f not in PRESET):
                items.append(
                    {f: v for f, v in item.items() if v != "" or f in ("substance", "name", "procedure")}
                )
                used.append(row)
        body[kind] = items
        rows[kind] = used
    return body, rows


def friendly(errors: dict[str, str], rows: dict[str, list[int]]) -> dict[str, str]:
    """Errors keyed by the form's own field names, in words a patient reads."""
    shown: dict[str, str] = {}
    for key, message in errors.items():
        parts = key.split(".")
        if len(parts) >= 2 and parts[0] in rows and parts[1].isdigit():
            used = rows[parts[0]]
            index = int(parts[1])
            parts[1] = str(used[index]) if index < len(used) else parts[1]
            key = ".".join(parts[:3])
        shown.setdefault(key, _wording(key, message))
    return shown


def _wording(key: str, message: str) -> str:
    if key in REQUIRED_YES_NO and message == "Field required":
        return "Please answer yes or no."
    if message in ("Field required", "String should have at least 1 character"):
        return "Please fill this in."
    if message.startswith("Input should be a valid date"):
        return "Give a date (day, month and year)."
    if message == "cannot be in the future":
        return "This date cannot be in the future."
    return message[:1].upper() + message[1:]
