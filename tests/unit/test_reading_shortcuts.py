"""The quick paths of the text readers give what the plain definitions they replace give."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from taskchain import items, words
from taskchain.lexicon import ZH_FUNCTION_CHARS

EXAMPLES = settings(max_examples=300, deadline=None)
# Characters that matter to the readers: CJK (splitters, generic wording, compatibility forms),
# Latin letters of both cases, the letters a case-blind pattern reads as i and s, digits, marks.
ALPHABET = (
    "的了是一二十百万成本客流阶段需要综合考虑咖啡店会员订阅制豈﫿㐀鿿"
    "aAbcdefFiIlnorsStTy0123456789ıİſ -'’.,;:!?\n"
)
TEXT = st.text(alphabet=ALPHABET, max_size=80)


def _pieces_by_splitting(lowered: str) -> list[str]:
    """Chinese pieces as first defined: splitters made spaces, then every adjacent CJK pair."""
    splitters = ZH_FUNCTION_CHARS | frozenset("一二三四五六七八九十两百千万")
    split = lowered.translate(str.maketrans(dict.fromkeys(splitters, " ")))
    return re.findall(r"(?=([\u3400-\u9fff\uf900-\ufaff]{2}))", split)


@EXAMPLES
@given(TEXT)
def test_chinese_pieces_skip_splitters_as_splitting_first_does(text: str) -> None:
    assert words._PIECE().findall(text) == _pieces_by_splitting(text)


@EXAMPLES
@given(TEXT, st.sampled_from(["impact", "cost", "s", "20", "f-s", "it's"]))
def test_a_latin_term_starts_a_word_as_the_pattern_says(text: str, term: str) -> None:
    lowered = text.lower()
    expected = re.search(rf"(?<![a-z0-9]){re.escape(term)}", lowered) is not None
    assert words._starts_word(lowered, term) is expected


@EXAMPLES
@given(
    st.lists(
        st.one_of(TEXT, st.sampled_from(["First", "SECOND", "fırst", "FİRST", "ſecond", "lastly"])),
        max_size=5,
    )
)
def test_no_english_ordinal_is_missed_by_the_quick_test(parts: list[str]) -> None:
    text = ". ".join(parts)
    if items._EN_ORDINALS().search(text):
        assert items._may_hold_en_ordinal(text)


@EXAMPLES
@given(TEXT)
def test_units_of_a_line_are_its_cjk_characters_and_latin_words(text: str) -> None:
    line = text.replace("\n", " ")
    expected = sum(map(len, re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", line))) + len(
        re.findall(r"[A-Za-z][A-Za-z0-9]*(?:['’-][A-Za-z0-9]+)*|\d+(?:[.,]\d+)*", line)
    )
    assert words.units(line) == expected


def test_ordinals_written_with_look_alike_letters_still_count() -> None:
    assert items.ordinal_starts("Fırst, we cut costs; ſecond, we hire.") == [0, 21]
