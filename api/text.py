"""Free text that people read on certificates and registry pages: what it may contain.

Names, beneficiaries and case references end up on a certificate that a court files and the
public reads. Text that looks like one thing and is another is a forgery tool there: a bidi
override (U+202E) reverses what follows ("Shengsi" shown, "isgnehS" stored), zero-width
characters make two different strings print identically, and a Cyrillic "а" inside a Latin word
makes "Bаnk" look like "Bank". So text is checked at the edge, before it reaches the chain:

- normalised to NFC (canonical composition), so one visible string has one stored spelling —
  not NFKC, which would rewrite the full-width brackets of a Chinese case number
  `（2026）桂07民初123号`;
- refused if it holds a control (Cc), format (Cf: bidi controls, zero-width joiners, BOM),
  private-use (Co), surrogate (Cs) or unassigned (Cn) character, or a line/paragraph separator;
- refused if one word mixes letters of scripts that look alike (Latin, Greek, Cyrillic,
  Armenian, Cherokee, Coptic): Han next to Latin (`广西ABC公司`) is fine, `Bаnk` is not.

Text read back from the chain may still hold such characters (a member can send a transaction
without the API), so rendering shows them (`visible`) instead of obeying them, and pages isolate
every value (`<bdi>`) so it cannot reorder the text around it.
"""

from __future__ import annotations

import unicodedata

# Scripts whose letters are mistaken for each other in one word.
CONFUSABLE_SCRIPTS = frozenset({"LATIN", "GREEK", "CYRILLIC", "ARMENIAN", "CHEROKEE", "COPTIC"})
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


class TextError(ValueError):
    """Text a person would misread; `reason` is a stable word for the error details."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _script(ch: str) -> str | None:
    """The script of a letter, from its Unicode name ("CYRILLIC SMALL LETTER A" → CYRILLIC);
    full-width Latin ("FULLWIDTH LATIN ...") counts as Latin."""
    if not unicodedata.category(ch).startswith("L"):
        return None
    name = unicodedata.name(ch, "")
    words = name.split()
    if words[:1] == ["FULLWIDTH"]:
        words = words[1:]
    return words[0] if words and words[0] in CONFUSABLE_SCRIPTS else None


def _words(value: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    for ch in value:
        if unicodedata.category(ch).startswith(("L", "M")):
            current.append(ch)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


def clean(value: str) -> str:
    """`value` in NFC, or TextError naming what a reader would misread."""
    text = unicodedata.normalize("NFC", value)
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in _REFUSED_CATEGORIES:
            kind = "control" if cat == "Cc" else "format" if cat == "Cf" else "invisible"
            raise TextError(
                f"{kind}_character",
                f"character U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')}) is not allowed",
            )
    for word in _words(text):
        scripts = {s for s in map(_script, word) if s is not None}
        if len(scripts) > 1:
            raise TextError(
                "mixed_script",
                f"the word {word!r} mixes look-alike scripts ({', '.join(sorted(scripts))})",
            )
    return text


def visible(value: str) -> str:
    """For display of text that did not pass `clean` (read from the chain): every refused
    character is shown as ⟦U+XXXX⟧ instead of acting on the text around it."""
    return "".join(
        f"⟦U+{ord(ch):04X}⟧" if unicodedata.category(ch) in _REFUSED_CATEGORIES else ch
        for ch in value
    )
