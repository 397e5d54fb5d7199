"""Error messages in the caller's language (docs/api.md §3 "Errors"): every code an answer can carry has a text in
Kazakh, Russian and English with its parameters filled, chosen by Accept-Language (ru by default), for payload
errors, top-level errors and the refusals made before the schema runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from domain.error_messages import FIELDS, OBJECTS, TEXTS, WORDS, render
from domain.messages import template_fields
from domain.model import ErrorCode, Language
from graph.errors import accepted_language
from tests import data
from tests.conftest import SUBMIT, Kezek, open_kezek

ROOT = Path(__file__).parent.parent
KG = 'query { kindergarten(id: "999999") { id } }'
SET_CAPACITY = """mutation($input: SetGroupCapacityInput!) { setGroupCapacity(input: $input) {
  group { id } errors { code message field } } }"""


async def ask(
    kezek: Kezek, query: str, variables: Any = None, token: str | None = None, language: str | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if language is not None:
        headers["Accept-Language"] = language
    response = await kezek.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    return response.json()


# --- the table ------------------------------------------------------------------------------------------


def _emitted_codes() -> set[str]:
    """Every code the API layer writes literally: api_error("X", …), _error("X", …), {"code": "X"}."""
    found: set[str] = set()
    pattern = re.compile(r"""(?:api_error|_error|refusal)\(\s*"([A-Z_]+)"|"code":\s*"([A-Z_]+)\"""")
    for folder in ("api", "graph"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in pattern.finditer(path.read_text(encoding="utf-8")):
                found.add(match.group(1) or match.group(2))
    return found


def test_every_code_has_a_text_in_every_language() -> None:
    emitted = _emitted_codes()
    assert {"UNAUTHENTICATED", "RATE_LIMITED", "NOT_FOUND", "QUERY_TOO_COSTLY"} <= emitted  # the scan sees them
    missing = ({c.value for c in ErrorCode} | emitted) - TEXTS.keys()
    assert missing == set(), f"codes without texts in domain/error_messages.py: {sorted(missing)}"
    for code, variants in TEXTS.items():
        assert variants, code
        assert template_fields(variants[-1].ru) == frozenset(), f"{code}: the last variant must need no parameter"
        for variant in variants:
            kk, ru, en = variant.kk, variant.ru, variant.en
            assert all(t.strip() for t in (kk, ru, en)), code
            assert kk != ru and ru != en and kk != en, f"{code}: a text copied into another language"
            assert template_fields(kk) == template_fields(ru) == template_fields(en), code
            assert not re.search("[а-яё]", en, re.IGNORECASE), f"{code}: Cyrillic in the English text"
            assert re.search("[а-яё]", ru, re.IGNORECASE) and re.search("[а-яёәғқңөұүһі]", kk, re.IGNORECASE), code


def test_every_variant_renders_with_its_parameters_filled() -> None:
    for code, variants in TEXTS.items():
        for variant in variants:
            fields = template_fields(variant.ru)
            params = {name: next(iter(WORDS[name])) if name in WORDS else f"<{name}>" for name in sorted(fields)}
            for language in Language:
                text = render(code, language, params)
                assert text is not None and "{" not in text and "}" not in text, (code, language, text)
                assert text == variant.of(language).format(**_words(params, language)), (code, language)


def _words(params: dict[str, str], language: Language) -> dict[str, str]:
    return {k: WORDS[k][v].of(language) if k in WORDS else v for k, v in params.items()}


def test_words_and_fallbacks() -> None:
    assert all(t.kk and t.ru and t.en for t in (*FIELDS.values(), *OBJECTS.values()))
    assert render("NOT_FOUND", Language.KK, {"what": "kindergarten"}) == "Табылмады: балабақша."
    # An object or field the table does not name is never echoed: the plain variant serves.
    assert render("NOT_FOUND", Language.RU, {"what": "kindergarten 17"}) == "Запрошенные данные не найдены."
    assert render("INVALID_INPUT", Language.EN, {"field": "noSuchField"}) == "Please check the data you entered."
    assert render("DUPLICATE_APPLICATION", Language.RU, {}) == "У ребёнка уже есть действующее заявление."
    assert render("NO_SUCH_CODE", Language.RU, {}) is None
    # Values are data, not templates.
    assert render("DUPLICATE_APPLICATION", Language.EN, {"number": "{field}"}) == (
        "The child already has an active application, number {field}."
    )


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, Language.RU),
        ("", Language.RU),
        ("kk", Language.KK),
        ("EN", Language.EN),
        ("kk-KZ", Language.KK),
        ("en-US,en;q=0.9", Language.EN),
        ("de-DE, fr;q=0.8", Language.RU),  # nothing supported
        ("*", Language.RU),
        ("en;q=0.5, kk;q=0.8", Language.KK),  # the weight decides, not the order
        ("ru;q=0.2, en;q=0.7, kk;q=0.5", Language.EN),
        ("kk;q=0, en", Language.EN),  # q=0: not acceptable
        ("ru;q=0.9, en;q=0.9", Language.RU),  # equal weights: the first
        ("en;q=abc, kk;q=0.3", Language.KK),  # a malformed weight drops its range
        ("en;q=1.5", Language.RU),
        ("de, en;q=0.001", Language.EN),
        ("  kk ; q=0.7 ,ru;q=0.6", Language.KK),
        ("x" * 300, Language.RU),
    ],
)
def test_accept_language(header: str | None, language: Language) -> None:
    assert accepted_language(header) == language


# --- over HTTP -----------------------------------------------------------------------------------------


async def test_top_level_errors_in_the_callers_language(kezek: Kezek) -> None:
    expected = {
        "kk": "Табылмады: балабақша.",
        "ru": "Не найдено: детский сад.",
        "en": "Not found: kindergarten.",
        "de, en;q=0.5": "Not found: kindergarten.",
        "fr": "Не найдено: детский сад.",
    }
    for header, text in expected.items():
        body = await ask(kezek, KG, language=header)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert body["errors"][0]["message"] == text, header
    assert (await ask(kezek, KG))["errors"][0]["message"] == "Не найдено: детский сад."  # no header: ru
    no_token = await ask(kezek, "{ myChildren { iin } }", language="kk")
    assert no_token["errors"][0]["message"] == "Авторизация қажет. Жүйеге қайта кіріңіз."


async def test_payload_errors_in_the_callers_language_with_their_parameters(kezek: Kezek) -> None:
    parent, child = data.PLAIN.parents[0], data.PLAIN.children[0]
    token = kezek.citizen(parent)
    variables = {"input": {"childIin": child, "kindergartenIds": await kezek.kgs("SHA-1"), "language": "RU"}}
    number = (await ask(kezek, SUBMIT, variables, token))["data"]["submitApplication"]["application"]["number"]
    texts = {}
    for language in ("kk", "ru", "en"):
        error = (await ask(kezek, SUBMIT, variables, token, language))["data"]["submitApplication"]["errors"][0]
        assert (error["code"], error["field"]) == ("DUPLICATE_APPLICATION", "childIin")
        texts[language] = error["message"]
    assert texts == {
        "kk": f"Баланың № {number} белсенді өтініші бар.",
        "ru": f"У ребёнка уже есть действующее заявление № {number}.",
        "en": f"The child already has an active application, number {number}.",
    }
    # The field's name is translated; the occupied seats are counted in the text.
    group = (await kezek.sql(GROUP_ID, "SHA-1", "G-2022-RU"))[0]["id"]
    too_big = {"input": {"groupId": str(group), "capacity": 5000}}
    staff = kezek.staff("SHA-1")
    payload = (await ask(kezek, SET_CAPACITY, too_big, staff, "en"))["data"]["setGroupCapacity"]
    assert payload["errors"] == [
        {"code": "INVALID_INPUT", "message": "Please check the field “capacity”.", "field": "capacity"}
    ]
    payload = (await ask(kezek, SET_CAPACITY, too_big, staff, "ru"))["data"]["setGroupCapacity"]
    assert payload["errors"][0]["message"] == "Проверьте поле «вместимость»."
    await kezek.sql("UPDATE groups SET capacity = 5 WHERE id = $1", group)
    for n in range(3):  # children enrolled before Kezek, as set-up data
        await kezek.sql(
            """INSERT INTO enrollments (child_iin, group_id, kindergarten_id, since)
            SELECT $1, id, kindergarten_id, DATE '2025-09-01' FROM groups WHERE id = $2""",
            f"enrolled-before-kezek-{n}",
            group,
        )
    below = {"input": {"groupId": str(group), "capacity": 2}}
    payload = (await ask(kezek, SET_CAPACITY, below, staff, "kk"))["data"]["setGroupCapacity"]
    assert payload["errors"][0]["code"] == "CAPACITY_BELOW_OCCUPIED"
    assert payload["errors"][0]["message"] == "Сыйымдылық бос емес орындар санынан (3) аз болмауы керек."


GROUP_ID = """SELECT g.id FROM groups g JOIN kindergartens k ON k.id = g.kindergarten_id
    WHERE k.external_id = $1 AND g.external_id = $2"""


async def test_a_remembered_error_is_told_in_the_retrys_language(kezek: Kezek) -> None:
    """An idempotent retry gets the first call's errors, in its own language and with their parameters."""
    parent, child = data.PLAIN.parents[0], data.PLAIN.children[0]
    token = kezek.citizen(parent)
    ids = await kezek.kgs("SHA-1")
    number = (await kezek.submit(parent, child, ["SHA-1"]))["application"]["number"]
    keyed = {"input": {"childIin": child, "kindergartenIds": ids, "language": "RU", "idempotencyKey": "retry-1"}}
    first = (await ask(kezek, SUBMIT, keyed, token, "ru"))["data"]["submitApplication"]["errors"]
    retry = (await ask(kezek, SUBMIT, keyed, token, "en"))["data"]["submitApplication"]["errors"]
    assert first[0]["message"] == f"У ребёнка уже есть действующее заявление № {number}."
    assert retry == [
        {
            "code": "DUPLICATE_APPLICATION",
            "message": f"The child already has an active application, number {number}.",
            "field": "childIin",
        }
    ]


async def test_refusals_before_the_schema_in_the_callers_language(db_url: str) -> None:
    async with open_kezek(db_url, rate_public_burst=1, rate_public_per_second=0.01) as kezek:
        bad = await ask(kezek, "{ viewer { role } }", token="not-a-jwt", language="en")
        assert bad["errors"][0]["message"] == "Authorization is required. Please sign in again."
        assert bad["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        await ask(kezek, "{ regions { code } }")  # the one request of the burst
        limited = await ask(kezek, "{ regions { code } }", language="kk")
        error = limited["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert (
            error["message"] == f"Сұраныстар тым көп. {error['extensions']['retryAfter']} секундтан кейін қайталаңыз."
        )
