"""Texts of parent messages (docs/product.md §7): language, length, content."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from domain.messages import (
    CATEGORY_NAMES,
    MAX_UCS2_CHARS,
    TEMPLATES,
    MessageKind,
    MessageParams,
    render,
    sms_segments,
    template_fields,
)
from domain.model import Language, PriorityCategory

NUMBER = "KZ-2026-0000123"
DEADLINE = dt.datetime(2026, 11, 30, 18, 59, 59, tzinfo=dt.UTC)
DEADLINE_TEXT = "30.11.2026 23:59"
LONG_NAME = ("Алматы қаласы білім басқармасының №125 «Айгөлек» бөбекжай-балабақшасы " * 4)[:200]
LONG_LATIN_NAME = ("Kindergarten number 125 Aigolek of the Almaty city education department " * 4)[:200]
BIG_POSITIONS = ((1, 123456), (2, 234567), (3, 345678), (4, 456789))
KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")

ALL = [(kind, language) for kind in MessageKind for language in Language]


def full_params(name: str = LONG_NAME, category: PriorityCategory = PriorityCategory.SPECIAL_NEEDS) -> MessageParams:
    return MessageParams(
        application_number=NUMBER,
        positions=BIG_POSITIONS,
        kindergarten_name=name,
        deadline=DEADLINE,
        category=category,
        starts_on=dt.date(2027, 9, 1),
        count=3,
    )


def test_templates_cover_every_kind_for_every_language() -> None:
    assert set(TEMPLATES) == set(Language)
    for language in Language:
        assert set(TEMPLATES[language]) == set(MessageKind), language
        assert set(CATEGORY_NAMES[language]) == set(PriorityCategory), language


def test_every_template_names_the_application_number() -> None:
    for language, table in TEMPLATES.items():
        for kind, template in table.items():
            assert "number" in template_fields(template), (language, kind)


def test_same_fields_in_every_language() -> None:
    for kind in MessageKind:
        fields = {template_fields(TEMPLATES[language][kind]) for language in Language}
        assert len(fields) == 1, kind


@pytest.mark.parametrize(("kind", "language"), ALL)
@pytest.mark.parametrize("name", [LONG_NAME, LONG_LATIN_NAME, "№5 Айгөлек"])
def test_every_kind_renders_within_two_segments(kind: MessageKind, language: Language, name: str) -> None:
    for category in PriorityCategory:
        text = render(kind, language, full_params(name, category))
        assert NUMBER in text
        assert sms_segments(text) <= 2, text
        if language is not Language.EN:
            assert len(text) <= MAX_UCS2_CHARS, text
        assert not re.search(r"\d{12}", text), text
        assert "{" not in text and "}" not in text, text


@pytest.mark.parametrize(("kind", "language"), ALL)
def test_deadline_and_number_never_cut(kind: MessageKind, language: Language) -> None:
    text = render(kind, language, full_params())
    assert text.startswith(NUMBER + ":")
    if "deadline" in template_fields(TEMPLATES[language][kind]):
        assert DEADLINE_TEXT in text
    if "kindergarten" in template_fields(TEMPLATES[language][kind]):
        assert "…" in text  # the 200-character name had to be cut
        assert LONG_NAME not in text


def test_short_name_kept_whole() -> None:
    params = MessageParams(NUMBER, kindergarten_name="№5 Айгөлек", deadline=DEADLINE)
    for language in Language:
        text = render(MessageKind.OFFER_MADE, language, params)
        assert "№5 Айгөлек" in text
        assert "…" not in text


def test_name_cut_as_little_as_possible() -> None:
    params = full_params()
    text = render(MessageKind.OFFER_MADE, Language.RU, params)
    assert len(text) in (MAX_UCS2_CHARS - 1, MAX_UCS2_CHARS)  # a trailing space may be dropped before "…"
    start = text.index("«") + 1
    kept = text[start : text.index("…")]
    assert LONG_NAME.startswith(kept)


def test_deadline_in_almaty_time() -> None:
    params = MessageParams(NUMBER, kindergarten_name="Айгөлек", deadline=DEADLINE)
    for kind in (MessageKind.OFFER_MADE, MessageKind.OFFER_REMINDER, MessageKind.CONTRACT_READY):
        for language in Language:
            assert DEADLINE_TEXT in render(kind, language, params)


def test_naive_deadline_refused() -> None:
    params = MessageParams(NUMBER, kindergarten_name="Айгөлек", deadline=dt.datetime(2026, 11, 30, 23, 59))
    with pytest.raises(ValueError, match="aware"):
        render(MessageKind.OFFER_MADE, Language.RU, params)


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        (MessageKind.POSITIONS_ASSIGNED, MessageParams(NUMBER)),
        (MessageKind.CLAIM_VERIFIED, MessageParams(NUMBER)),
        (MessageKind.OFFER_MADE, MessageParams(NUMBER, kindergarten_name="Айгөлек")),
        (MessageKind.OFFER_MADE, MessageParams(NUMBER, deadline=DEADLINE)),
        (MessageKind.ENROLLED, MessageParams(NUMBER, kindergarten_name="   ")),
        (MessageKind.APPLICATION_CLOSED, MessageParams("")),
    ],
)
def test_missing_parameter_refused(kind: MessageKind, params: MessageParams) -> None:
    with pytest.raises(ValueError, match="required"):
        render(kind, Language.RU, params)


def test_positions_format() -> None:
    params = MessageParams(NUMBER, positions=((2, 230), (1, 15), (3, 4), (4, None)))
    assert render(MessageKind.POSITIONS_ASSIGNED, Language.RU, params) == (
        "KZ-2026-0000123: заявление принято, номера в очереди: 1) 15, 2) 230, 3) 4, 4) —"
    )
    for language in Language:
        for kind in (MessageKind.POSITIONS_ASSIGNED, MessageKind.POSITIONS_CHANGED):
            assert "1) 15, 2) 230, 3) 4, 4) —" in render(kind, language, params)


def test_categories_localized() -> None:
    params = MessageParams(NUMBER, category=PriorityCategory.LARGE_FAMILY)
    assert "многодетная семья" in render(MessageKind.CLAIM_VERIFIED, Language.RU, params)
    assert "көп балалы отбасы" in render(MessageKind.CLAIM_VERIFIED, Language.KK, params)
    assert "large family" in render(MessageKind.CLAIM_VERIFIED, Language.EN, params)


def test_languages_are_real() -> None:
    for kind, template in TEMPLATES[Language.KK].items():
        assert KAZAKH_LETTERS & set(template), kind
    for kind, template in TEMPLATES[Language.RU].items():
        assert re.search("[а-яё]", template), kind
        assert not KAZAKH_LETTERS & set(template), kind
    for kind, template in TEMPLATES[Language.EN].items():
        assert template.isascii(), kind
    for category in PriorityCategory:
        assert CATEGORY_NAMES[Language.EN][category].isascii()
        assert re.search("[а-яё]", CATEGORY_NAMES[Language.RU][category])
        assert not re.search("[A-Za-z]", CATEGORY_NAMES[Language.KK][category])


def test_vocabulary_of_section_10() -> None:
    words = {
        Language.RU: {
            MessageKind.POSITIONS_ASSIGNED: ("очеред", "заявлени"),
            MessageKind.OFFER_MADE: ("направлени", "детский сад"),
            MessageKind.CONTRACT_READY: ("договор",),
            MessageKind.CLAIM_VERIFIED: ("льгот",),
        },
        Language.KK: {
            MessageKind.POSITIONS_ASSIGNED: ("кезек", "өтініш"),
            MessageKind.OFFER_MADE: ("жолдама", "балабақша"),
            MessageKind.CONTRACT_READY: ("шарт",),
            MessageKind.CLAIM_VERIFIED: ("жеңілдіг",),
        },
    }
    for language, kinds in words.items():
        for kind, needed in kinds.items():
            template = TEMPLATES[language][kind].lower()
            for word in needed:
                assert word in template, (language, kind, word)


def test_offers_ask_to_confirm_in_the_app() -> None:
    for kind in (MessageKind.OFFER_MADE, MessageKind.OFFER_REMINDER):
        assert "Подтверд" in TEMPLATES[Language.RU][kind] or "подтверд" in TEMPLATES[Language.RU][kind]
        assert "растаңыз" in TEMPLATES[Language.KK][kind]
        assert "onfirm" in TEMPLATES[Language.EN][kind]
        for language in Language:
            assert "Kezek/eGov" in TEMPLATES[language][kind]


def test_name_whitespace_collapsed() -> None:
    params = MessageParams(NUMBER, kindergarten_name="  №5\n  Айгөлек ")
    assert "«№5 Айгөлек»" in render(MessageKind.ENROLLED, Language.RU, params)


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("ж" * 70, 1),
        ("ж" * 71, 2),
        ("ж" * 134, 2),
        ("ж" * 135, 3),
        ("a" * 69 + "ә", 1),  # one Kazakh letter makes the whole text UCS-2
        ("a" * 70 + "ә", 2),
        ("a" * 159 + "…", 3),  # "…" is not GSM-7
        ("a" * 159 + "€", 3),  # extension-table characters count as UCS-2 here
        ("é" * 160, 1),  # in the GSM-7 basic set
        ("😀" * 35, 1),  # outside the BMP: two UTF-16 units each
        ("😀" * 36, 2),
    ],
)
def test_sms_segments(text: str, segments: int) -> None:
    assert sms_segments(text) == segments
