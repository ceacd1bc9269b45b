"""A typed name drawn as a signature: the keyboard alternative to the signature pad.

The consent service stores a signature as SVG path data in the pad's 600 x 200 frame (absolute
``M`` and ``L`` commands are enough). A patient who cannot draw (keyboard or screen-reader users,
a tremor) signs by typing their full name; this module draws that name in a small single-stroke
letter set of our own (slanted capitals, small capitals after the first letter of each word), so
the stored signature is a real drawing the validator in ``consent.rules`` accepts.

The consent service draws it (``signature_method: typed``) so that API clients and both consent
forms sign alike, and records the method with the signature.
"""

from __future__ import annotations

import unicodedata

Stroke = tuple[tuple[float, float], ...]

#: The pad's frame (``signature-pad`` canvases are 600 x 200).
FRAME_WIDTH = 600.0
FRAME_HEIGHT = 200.0
MARGIN = 24.0
#: Largest size of one glyph unit (a capital is 6 units high, 4 wide).
MAX_UNIT = 16.0
CAP_HEIGHT = 6.0
GLYPH_WIDTH = 4.0
SPACING = 1.6
WORD_SPACE = 2.4
SMALL_CAPS = 0.72
SLANT = 0.2

_O: tuple[Stroke, ...] = (((1, 0), (3, 0), (4, 1), (4, 5), (3, 6), (1, 6), (0, 5), (0, 1), (1, 0)),)
_P: tuple[Stroke, ...] = (((0, 6), (0, 0), (3, 0), (4, 1), (4, 2.5), (3, 3.5), (0, 3.5)),)

#: Capital letters on a 4 x 6 grid (y down, baseline at 6), each a few pen strokes.
GLYPHS: dict[str, tuple[Stroke, ...]] = {
    "A": (((0, 6), (2, 0), (4, 6)), ((0.7, 4), (3.3, 4))),
    "B": (
        ((0, 6), (0, 0), (2.8, 0), (3.6, 0.8), (3.6, 2.2), (2.8, 3), (0, 3)),
        ((2.8, 3), (3.9, 3.8), (3.9, 5.2), (3, 6), (0, 6)),
    ),
    "C": (((4, 1), (3, 0), (1, 0), (0, 1), (0, 5), (1, 6), (3, 6), (4, 5)),),
    "D": (((0, 0), (0, 6), (2.5, 6), (4, 4.5), (4, 1.5), (2.5, 0), (0, 0)),),
    "E": (((4, 0), (0, 0), (0, 6), (4, 6)), ((0, 3), (3, 3))),
    "F": (((4, 0), (0, 0), (0, 6)), ((0, 3), (3, 3))),
    "G": (((4, 1), (3, 0), (1, 0), (0, 1), (0, 5), (1, 6), (3, 6), (4, 5), (4, 3.5), (2.2, 3.5)),),
    "H": (((0, 0), (0, 6)), ((4, 0), (4, 6)), ((0, 3), (4, 3))),
    "I": (((1, 0), (3, 0)), ((2, 0), (2, 6)), ((1, 6), (3, 6))),
    "J": (((1, 0), (4, 0)), ((3, 0), (3, 5), (2, 6), (1, 6), (0, 5))),
    "K": (((0, 0), (0, 6)), ((4, 0), (0, 3.6)), ((1.3, 2.5), (4, 6))),
    "L": (((0, 0), (0, 6), (4, 6)),),
    "M": (((0, 6), (0, 0), (2, 4), (4, 0), (4, 6)),),
    "N": (((0, 6), (0, 0), (4, 6), (4, 0)),),
    "O": _O,
    "P": _P,
    "Q": (*_O, ((2.5, 4.5), (4, 6.2))),
    "R": (*_P, ((2, 3.5), (4, 6))),
    "S": (((4, 1), (3, 0), (1, 0), (0, 1), (0, 2), (1, 3), (3, 3), (4, 4), (4, 5), (3, 6), (1, 6), (0, 5)),),
    "T": (((0, 0), (4, 0)), ((2, 0), (2, 6))),
    "U": (((0, 0), (0, 5), (1, 6), (3, 6), (4, 5), (4, 0)),),
    "V": (((0, 0), (2, 6), (4, 0)),),
    "W": (((0, 0), (1, 6), (2, 2), (3, 6), (4, 0)),),
    "X": (((0, 0), (4, 6)), ((4, 0), (0, 6))),
    "Y": (((0, 0), (2, 3), (4, 0)), ((2, 3), (2, 6))),
    "Z": (((0, 0), (4, 0), (0, 6), (4, 6)),),
    "-": (((0.5, 3.5), (3.5, 3.5)),),
    "'": (((2, 0), (1.6, 1.6)),),
    ".": (((1.8, 5.6), (2.2, 6)),),
}
#: Letters outside the set (another script, a digit) are drawn as a small wave.
UNKNOWN: tuple[Stroke, ...] = (((0, 4), (1, 2.5), (2, 4.5), (3, 2.5), (4, 4)),)
#: Characters that are letters in disguise (not decomposed by NFKD).
FOLDED = {"Ø": "O", "Ł": "L", "Đ": "D", "Ħ": "H", "Æ": "AE", "Œ": "OE", "ß": "SS", "’": "'", "‘": "'"}


def _letters(name: str) -> list[tuple[str, bool]]:
    """The name as (glyph key, is small) pairs: accents dropped, small capitals after a word's first
    letter unless typed as a capital."""
    out: list[tuple[str, bool]] = []
    word_start = True
    for char in " ".join(name.split()):
        if char == " ":
            out.append((" ", False))
            word_start = True
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        for folded in FOLDED.get(base.upper(), FOLDED.get(base, base.upper())) or "?":
            small = not word_start and not char.isupper()
            out.append((folded, small))
        word_start = char in "-'’"
    return out


def _advance(key: str, small: bool) -> float:
    if key == " ":
        return WORD_SPACE
    return (GLYPH_WIDTH + SPACING) * (SMALL_CAPS if small else 1.0)


def _number(value: float) -> str:
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def typed_signature(name: str) -> str:
    """SVG path data (``M``/``L`` commands) drawing ``name`` across the signature pad's frame;
    empty when the name has nothing to draw."""
    letters = _letters(name)
    if not any(key != " " for key, _ in letters):
        return ""
    width_units = sum(_advance(key, small) for key, small in letters) - SPACING + CAP_HEIGHT * SLANT
    unit = min(MAX_UNIT, (FRAME_WIDTH - 2 * MARGIN) / width_units)
    baseline = (FRAME_HEIGHT + CAP_HEIGHT * unit) / 2  # centred vertically
    parts: list[str] = []
    cursor = 0.0
    for key, small in letters:
        if key != " ":
            size = SMALL_CAPS if small else 1.0
            for stroke in GLYPHS.get(key, UNKNOWN):
                points = []
                for x, y in stroke:
                    # Glyph grid → pad frame: scaled, sitting on the baseline, slanted forwards.
                    height = (CAP_HEIGHT - y) * size
                    px = MARGIN + (cursor + x * size + height * SLANT) * unit
                    py = baseline - height * unit
                    points.append(f"{_number(px)} {_number(py)}")
                parts.append("M " + " L ".join(points))
        cursor += _advance(key, small)
    return " ".join(parts)
