"""The contract text a parent signs (docs/product.md §4): child, kindergarten, group and dates, in the parent's
language; its hash is what the e-signature covers."""

from __future__ import annotations

import datetime as dt
import hashlib

from domain.model import Group, Kindergarten, Language, Person
from domain.timezone import ALMATY

# The health documents a contract needs; those the health registry does not hold are listed, never invented.
REQUIRED_DOCUMENTS = ("VACCINATION_CARD", "MEDICAL_RECORD")

_TEMPLATES = {
    Language.RU: (
        "ДОГОВОР о посещении детского сада\n"
        "Ребёнок: {child}, дата рождения {born}.\n"
        "Детский сад: {kindergarten}, {address}.\n"
        "Группа: {group}, {years}, язык обучения: {language}.\n"
        "Начало посещения: {start}.\n"
        "Договор выдан {issued} и должен быть подписан до {sign_by}.\n"
        "Направление № {offer}, заявление {number}."
    ),
    Language.KK: (
        "Балабақшаға бару туралы ШАРТ\n"
        "Бала: {child}, туған күні {born}.\n"
        "Балабақша: {kindergarten}, {address}.\n"
        "Топ: {group}, {years}, оқыту тілі: {language}.\n"
        "Баруды бастау күні: {start}.\n"
        "Шарт {issued} берілді, {sign_by} дейін қол қойылуы тиіс.\n"
        "Жолдама № {offer}, өтініш {number}."
    ),
    Language.EN: (
        "KINDERGARTEN ATTENDANCE CONTRACT\n"
        "Child: {child}, born {born}.\n"
        "Kindergarten: {kindergarten}, {address}.\n"
        "Group: {group}, {years}, language of instruction: {language}.\n"
        "Attendance starts: {start}.\n"
        "Issued {issued}; to be signed by {sign_by}.\n"
        "Offer no. {offer}, application {number}."
    ),
}
_LANGUAGE_NAMES = {
    Language.RU: {Language.KK: "казахский", Language.RU: "русский", Language.EN: "английский"},
    Language.KK: {Language.KK: "қазақ", Language.RU: "орыс", Language.EN: "ағылшын"},
    Language.EN: {Language.KK: "Kazakh", Language.RU: "Russian", Language.EN: "English"},
}


def _date(value: dt.date) -> str:
    return value.strftime("%d.%m.%Y")


def _moment(value: dt.datetime) -> str:
    return value.astimezone(ALMATY).strftime("%d.%m.%Y %H:%M")


def contract_text(
    language: Language,
    child: Person,
    kindergarten: Kindergarten,
    group: Group,
    start: dt.date,
    issued: dt.datetime,
    sign_by: dt.datetime,
    offer_id: int,
    application_number: str,
) -> str:
    years = (
        str(group.birth_year_from)
        if group.birth_year_from == group.birth_year_to
        else f"{group.birth_year_from}–{group.birth_year_to}"
    )
    return _TEMPLATES[language].format(
        child=child.full_name,
        born=_date(child.birth_date),
        kindergarten=kindergarten.name_kk if language == Language.KK else kindergarten.name_ru,
        address=kindergarten.address,
        group=group.external_id,
        years=years,
        language=_LANGUAGE_NAMES[language][group.language],
        start=_date(start),
        issued=_moment(issued),
        sign_by=_moment(sign_by),
        offer=offer_id,
        number=application_number,
    )


def document_hash(text: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 text (docs/product.md §4)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
