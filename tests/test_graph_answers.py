"""What the GraphQL layer answers where the use cases leave it the choice: the child in leaveKindergarten's
payload, and child(iin:) for an IIN that cannot be one."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain import iin
from tests import data
from tests.conftest import Kezek
from tests.test_offers import OTHER_CHILD, OTHER_PARENT, enrol, mutate, offers_app, queue, set_capacity, staff_token

LEAVE = """mutation($input: LeaveKindergartenInput!) { leaveKindergarten(input: $input) {
  child { iin fullName birthDate application { status } enrollment { since } siblings { iin } }
  errors { code message field } } }"""
CHILD = "query($iin: String!) { child(iin: $iin) { iin fullName } }"


@pytest.fixture
async def kezek(db_url: str) -> AsyncIterator[Kezek]:
    async with offers_app(db_url) as k:
        yield k


async def _enrolled(kezek: Kezek) -> None:
    enrolled = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    await enrol(kezek, OTHER_PARENT, enrolled["id"])


@pytest.mark.parametrize("leaver", ["parent", "staff", "operator"])
async def test_whoever_ended_the_enrolment_gets_the_child_back(kezek: Kezek, leaver: str) -> None:
    await _enrolled(kezek)
    token = {
        "parent": Kezek.citizen(OTHER_PARENT),
        "staff": staff_token("SHA-1"),
        "operator": Kezek.operator(data.KARAGANDA_REGION, data.SHAKHTINSK),
    }[leaver]
    input_ = {"childIin": OTHER_CHILD, "reason": "moved to Almaty", "idempotencyKey": f"leave-{leaver}"}
    left = await mutate(kezek, LEAVE, input_, token)
    assert left["errors"] == []
    child = left["child"]
    assert (child["iin"], child["birthDate"]) == (OTHER_CHILD, iin.birth_date(OTHER_CHILD).isoformat())  # type: ignore[union-attr]
    assert child["fullName"]
    assert child["enrollment"] is None  # it has just ended
    # The application and the siblings as each caller ever sees them: staff never see applications.
    assert child["application"] == (None if leaver == "staff" else {"status": "CLOSED"})
    assert child["siblings"] == []
    # A retry with the same key answers the same payload.
    assert await mutate(kezek, LEAVE, input_, token) == left


async def test_after_leaving_the_staff_no_longer_see_the_child(kezek: Kezek) -> None:
    await _enrolled(kezek)
    staff = staff_token("SHA-1")
    assert (await kezek.gql(CHILD, {"iin": OTHER_CHILD}, staff))["child"]["iin"] == OTHER_CHILD
    left = await mutate(kezek, LEAVE, {"childIin": f" {OTHER_CHILD} ", "reason": "moved"}, staff)
    assert left["child"]["iin"] == OTHER_CHILD
    body = await kezek.post(CHILD, {"iin": OTHER_CHILD}, staff)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"] and body["data"]["child"] is None


async def test_a_failed_leave_shows_no_child(kezek: Kezek) -> None:
    await _enrolled(kezek)
    refused = await mutate(kezek, LEAVE, {"childIin": OTHER_CHILD, "reason": "moved"}, staff_token("SHA-2"))
    assert (refused["child"], [e["code"] for e in refused["errors"]]) == (None, ["NOT_FOUND"])


def _codes(body: Any) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


async def test_child_answers_invalid_iin_for_what_cannot_be_an_iin(kezek: Kezek) -> None:
    valid = OTHER_CHILD
    await queue(kezek, OTHER_PARENT, valid, ["SHA-1"])  # the child is known, and its parent sees it
    bad_check_digit = valid[:11] + str((int(valid[11]) + 1) % 10)
    assert not iin.is_valid(bad_check_digit)
    tokens = [Kezek.citizen(OTHER_PARENT), staff_token("SHA-1"), Kezek.operator(), Kezek.ministry()]
    for token in tokens:
        for malformed in ("12345", "", "abcdefghijkl", "２３０１０１５０００１７", bad_check_digit, "231301500017"):
            body = await kezek.post(CHILD, {"iin": malformed}, token)
            assert _codes(body) == ["INVALID_IIN"], (malformed, body)
            assert body["data"] == {"child": None}
            assert body["errors"][0]["message"] == "ИИН указан неверно. Проверьте все 12 цифр."
    # A well-formed IIN nobody has, or a child the caller may not see, is still just not found.
    missing = iin.make(dt.date(2023, 5, 5), True, 9001)
    assert _codes(await kezek.post(CHILD, {"iin": missing}, Kezek.citizen(OTHER_PARENT))) == ["NOT_FOUND"]
    assert _codes(await kezek.post(CHILD, {"iin": valid}, staff_token("SHA-2"))) == ["NOT_FOUND"]
    # Who may not ask at all is told so first, whatever the IIN.
    assert _codes(await kezek.post(CHILD, {"iin": "12345"}, None)) == ["UNAUTHENTICATED"]
    # Surrounding blanks are not part of the IIN, as in the mutations.
    assert (await kezek.gql(CHILD, {"iin": f" {valid}\n"}, Kezek.citizen(OTHER_PARENT)))["child"]["iin"] == valid
