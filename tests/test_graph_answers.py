"""What the GraphQL layer answers where the use cases leave it the choice: the child in leaveKindergarten's
payload."""

from __future__ import annotations

from collections.abc import AsyncIterator

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
