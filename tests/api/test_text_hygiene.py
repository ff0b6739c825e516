"""Text people read on certificates: one spelling per visible string, nothing that reorders,
hides or imitates letters (api.text)."""

from __future__ import annotations

import pytest

from api.text import TextError, clean, visible


@pytest.mark.parametrize("value", [
    "（2026）桂07民初123号",  # full-width brackets of a case number stay as written
    "广西北部湾港口集团 Beibu Gulf Port Group",
    "广西ABC公司",  # Han beside Latin is not a look-alike
    "Ivan Петров",  # two scripts, one per word
    "Ζεύς Shipping",
    "钦州港 · Qinzhou\u00a0Port",  # no-break space is an ordinary space
])
def test_ordinary_names_pass_unchanged(value: str) -> None:
    assert clean(value) == value


def test_text_is_stored_in_nfc() -> None:
    assert clean("Me\u0301xico") == "M\u00e9xico"


@pytest.mark.parametrize(("value", "reason"), [
    ("Shengsi \u202eetarucorP", "format_character"),  # right-to-left override
    ("Shengsi \u2067x\u2069", "format_character"),  # right-to-left isolate
    ("a\u200bb", "format_character"),  # zero-width space
    ("a\u200db", "format_character"),  # zero-width joiner
    ("\ufeffname", "format_character"),  # byte-order mark
    ("tab\there", "control_character"),
    ("line\u2028break", "invisible_character"),
    ("private\ue000use", "invisible_character"),
    ("B\u0430nk", "mixed_script"),  # Cyrillic a in a Latin word
    ("\u03a1aypal", "mixed_script"),  # Greek capital rho
    ("\uff22\u0430nk", "mixed_script"),  # full-width Latin B with Cyrillic a
])
def test_misreadable_text_is_refused_with_a_reason(value: str, reason: str) -> None:
    with pytest.raises(TextError) as err:
        clean(value)
    assert err.value.reason == reason


def test_text_from_the_chain_is_shown_not_obeyed() -> None:
    assert visible("Shengsi \u202eabc") == "Shengsi ⟦U+202E⟧abc"
    assert visible("钦州") == "钦州"
