"""The access matrix (docs/api.md §1, §3 "who"; docs/quality.md §4): for every object type and operation, another
citizen, another area's operator and another kindergarten's staff are refused, and a refused object is
answered exactly as a missing one."""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.container import build_container
from api.settings import DEV_DIR, Profile, Settings
from domain import iin
from persistence.readers import encode_cursor
from tests import data
from tests.conftest import Kezek, MovableClock

PLAIN, OTHER, NORTH, CITY = data.PLAIN, data.OTHER, data.NORTH, data.CITY
MISSING_IIN = iin.make(dt.date(2023, 5, 5), True, 9001)
MISSING_ID = "987654321"

CHILD = """query($iin: String!) { child(iin: $iin) {
  iin fullName application { id } enrollment { kindergarten { externalId } group { externalId } } } }"""
APPLICATION = "query($id: ID!) { application(id: $id) { id number status child { iin } } }"
BY_NUMBER = "query($n: String!) { applicationByNumber(number: $n) { id number } }"
CLAIMS = """{ priorityClaimsToVerify { edges { node { id category status application { id } } } } }"""
AREA = """query($r: String!, $d: String) { areaStats(regionCode: $r, districtCode: $d) { waiting capacity } }"""
VERIFY = """mutation($id: ID!) { verifyPriorityClaim(input: {claimId: $id, approve: true, note: "checked"}) {
  claim { id status } errors { code message field } } }"""
REVOKE = """mutation($id: ID!) { revokePriorityClaim(input: {claimId: $id, note: "found false"}) {
  claim { id status } errors { code message field } } }"""
WITHDRAW = """mutation($id: ID!) { withdrawApplication(input: {applicationId: $id, reason: "asked by phone"}) {
  application { id status } errors { code message field } } }"""
CHANGE = """mutation($id: ID!, $kgs: [ID!]!) { changeChoices(input: {applicationId: $id, kindergartenIds: $kgs}) {
  application { id choices { kindergarten { externalId } } } errors { code message field } } }"""
SET_CAPACITY = """mutation($id: ID!, $c: Int!) { setGroupCapacity(input: {groupId: $id, capacity: $c}) {
  group { id capacity } errors { code message field } } }"""
CREATE_GROUP = """mutation($kg: ID!, $e: String!) { createGroup(input: {kindergartenId: $kg, externalId: $e,
  birthYearFrom: 2024, birthYearTo: 2025, language: EN, capacity: 10}) {
  group { id externalId } errors { code message field } } }"""
CREATE_KG = """mutation($e: String!, $d: String!) { createKindergarten(input: {externalId: $e, districtCode: $d,
  nameKk: "Жаңа", nameRu: "Новый"}) { kindergarten { id externalId } errors { code message field } } }"""


# --- helpers ------------------------------------------------------------------------------------


def _codes(body: Any) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


async def _hidden_like_missing(
    kezek: Kezek, query: str, real: dict[str, Any], missing: dict[str, Any], token: str
) -> None:
    """A query for a real object the caller may not see answers exactly as for a missing one."""
    hidden = await kezek.post(query, real, token)
    absent = await kezek.post(query, missing, token)
    assert hidden == absent, (hidden, absent)
    assert _codes(hidden) == ["NOT_FOUND"]
    assert all(v is None for v in hidden["data"].values())


async def _payload_like_missing(
    kezek: Kezek, query: str, real: dict[str, Any], missing: dict[str, Any], token: str
) -> None:
    """A mutation on a real object the caller may not touch fails exactly as on a missing one."""
    hidden = await kezek.post(query, real, token)
    absent = await kezek.post(query, missing, token)
    assert hidden == absent, (hidden, absent)
    assert "errors" not in hidden, hidden
    (payload,) = hidden["data"].values()
    assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]
    assert all(v is None for k, v in payload.items() if k != "errors")


async def _refused_as(kezek: Kezek, code: str, query: str, variables: dict[str, Any], token: str | None) -> None:
    body = await kezek.post(query, variables, token)
    assert _codes(body) == [code], body


async def _visible(kezek: Kezek, query: str, variables: dict[str, Any], token: str) -> Any:
    (value,) = (await kezek.gql(query, variables, token)).values()
    assert value is not None
    return value


async def _group_id(kezek: Kezek, kindergarten: str, external_id: str) -> str:
    rows = await kezek.sql(
        "SELECT g.id FROM groups g JOIN kindergartens k ON k.id = g.kindergarten_id"
        " WHERE k.external_id = $1 AND g.external_id = $2",
        kindergarten,
        external_id,
    )
    return str(rows[0]["id"])


async def _enroll(kezek: Kezek, child: str, kindergarten: str, group: str) -> None:
    group_id = int(await _group_id(kezek, kindergarten, group))
    await kezek.sql(
        "INSERT INTO enrollments (child_iin, group_id, kindergarten_id, since)"
        " SELECT $1, g.id, g.kindergarten_id, DATE '2025-09-01' FROM groups g WHERE g.id = $2",
        child,
        group_id,
    )


def _karaganda_city() -> str:
    return Kezek.operator(district=data.KARAGANDA_CITY)


def _shakhtinsk() -> str:
    return Kezek.operator(district=data.SHAKHTINSK)


def _north() -> str:
    return Kezek.operator(data.SKO_REGION)


# --- Child --------------------------------------------------------------------------------------


async def test_child_is_seen_by_both_parents_its_area_operators_and_the_ministry(kezek: Kezek) -> None:
    app = (await kezek.submit(PLAIN.parents[0], PLAIN.children[0], ["SHA-1", "SHA-2"]))["application"]
    variables = {"iin": PLAIN.children[0]}
    for token in (
        kezek.citizen(PLAIN.parents[0]),
        kezek.citizen(PLAIN.parents[1], channel="kaspi"),
        kezek.operator(),
        _shakhtinsk(),
        kezek.ministry(),
    ):
        child = await _visible(kezek, CHILD, variables, token)
        assert child["iin"] == PLAIN.children[0]
        assert child["application"] == {"id": app["id"]}
        assert child["enrollment"] is None


async def test_child_is_hidden_like_a_missing_one(kezek: Kezek) -> None:
    await kezek.submit(PLAIN.parents[0], PLAIN.children[0], ["SHA-1", "SHA-2"])
    real, missing = {"iin": PLAIN.children[0]}, {"iin": MISSING_IIN}
    for token in (
        kezek.citizen(OTHER.parents[0]),
        kezek.citizen(NORTH.parents[0], channel="halyk"),
        _north(),
        _karaganda_city(),
        kezek.staff("SHA-1"),  # chosen there, but neither offered nor enrolled there
        kezek.staff("SHA-2"),
        kezek.staff("PET-1", channel="akimat-sko"),
    ):
        await _hidden_like_missing(kezek, CHILD, real, missing, token)
    await _refused_as(kezek, "UNAUTHENTICATED", CHILD, real, None)


async def test_staff_see_children_enrolled_at_their_kindergarten_only(kezek: Kezek) -> None:
    await kezek.submit(PLAIN.parents[0], PLAIN.children[0], ["SHA-2"])  # puts the child in the snapshot
    await _enroll(kezek, PLAIN.children[0], "SHA-1", "G-2022-RU")
    real, missing = {"iin": PLAIN.children[0]}, {"iin": MISSING_IIN}

    child = await _visible(kezek, CHILD, real, kezek.staff("SHA-1"))
    assert child["enrollment"] == {"kindergarten": {"externalId": "SHA-1"}, "group": {"externalId": "G-2022-RU"}}
    assert child["application"] is None  # staff never read applications

    for token in (kezek.staff("SHA-2"), kezek.staff("KAR-1"), kezek.staff("PET-1", channel="akimat-sko")):
        await _hidden_like_missing(kezek, CHILD, real, missing, token)
    # The parent sees the enrolment too.
    own = await _visible(kezek, CHILD, real, kezek.citizen(PLAIN.parents[1]))
    assert own["enrollment"]["kindergarten"] == {"externalId": "SHA-1"}


async def test_operator_of_a_chosen_kindergartens_district_sees_the_child_and_application(kezek: Kezek) -> None:
    """A Karaganda-city child is seen by Shakhtinsk's operator only while it has chosen a Shakhtinsk kindergarten."""
    parent, child = CITY.parents[0], CITY.children[0]
    app = (await kezek.submit(parent, child, ["KAR-1"]))["application"]
    real, missing = {"iin": child}, {"iin": MISSING_IIN}
    by_id, by_missing_id = {"id": app["id"]}, {"id": MISSING_ID}

    assert (await _visible(kezek, CHILD, real, _karaganda_city()))["iin"] == child
    await _hidden_like_missing(kezek, CHILD, real, missing, _shakhtinsk())
    await _hidden_like_missing(kezek, APPLICATION, by_id, by_missing_id, _shakhtinsk())

    kgs = await kezek.kgs("KAR-1", "SHA-1")
    changed = await kezek.gql(CHANGE, {"id": app["id"], "kgs": kgs}, kezek.citizen(parent))
    assert changed["changeChoices"]["errors"] == []
    assert (await _visible(kezek, CHILD, real, _shakhtinsk()))["application"] == {"id": app["id"]}
    assert (await _visible(kezek, APPLICATION, by_id, _shakhtinsk()))["number"] == app["number"]
    # Still nothing for the other region, nor for staff of the chosen kindergarten.
    await _hidden_like_missing(kezek, APPLICATION, by_id, by_missing_id, _north())
    await _hidden_like_missing(kezek, CHILD, real, missing, kezek.staff("SHA-1"))

    back = await kezek.gql(CHANGE, {"id": app["id"], "kgs": kgs[:1]}, kezek.citizen(parent))
    assert back["changeChoices"]["errors"] == []
    await _hidden_like_missing(kezek, APPLICATION, by_id, by_missing_id, _shakhtinsk())


async def test_shakhtinsk_child_choosing_karaganda_city_is_seen_by_that_district(kezek: Kezek) -> None:
    app = (await kezek.submit(PLAIN.parents[0], PLAIN.children[1], ["SHA-1", "KAR-1"]))["application"]
    assert (await _visible(kezek, APPLICATION, {"id": app["id"]}, _karaganda_city()))["id"] == app["id"]
    other = (await kezek.submit(OTHER.parents[0], OTHER.children[0], ["SHA-1"]))["application"]
    await _hidden_like_missing(kezek, APPLICATION, {"id": other["id"]}, {"id": MISSING_ID}, _karaganda_city())
    await _hidden_like_missing(kezek, CHILD, {"iin": OTHER.children[0]}, {"iin": MISSING_IIN}, _karaganda_city())


# --- Application ----------------------------------------------------------------------------------


async def test_application_is_seen_by_owners_area_operators_and_the_ministry(kezek: Kezek) -> None:
    app = (await kezek.submit(PLAIN.parents[0], PLAIN.children[0], ["SHA-1"]))["application"]
    for token in (
        kezek.citizen(PLAIN.parents[0]),
        kezek.citizen(PLAIN.parents[1], channel="halyk"),
        kezek.operator(),
        _shakhtinsk(),
        kezek.ministry(),
    ):
        seen = await _visible(kezek, APPLICATION, {"id": app["id"]}, token)
        assert (seen["id"], seen["number"], seen["child"]) == (app["id"], app["number"], {"iin": PLAIN.children[0]})
        by_number = await _visible(kezek, BY_NUMBER, {"n": app["number"].lower()}, token)
        assert by_number["id"] == app["id"]


async def test_application_is_hidden_like_a_missing_one(kezek: Kezek) -> None:
    app = (await kezek.submit(PLAIN.parents[0], PLAIN.children[0], ["SHA-1"]))["application"]
    missing_number = app["number"][:-7] + "9999999"
    for token in (
        kezek.citizen(OTHER.parents[0]),
        kezek.citizen(CITY.parents[0], channel="kaspi"),
        _north(),
        _karaganda_city(),
    ):
        await _hidden_like_missing(kezek, APPLICATION, {"id": app["id"]}, {"id": MISSING_ID}, token)
        await _hidden_like_missing(kezek, BY_NUMBER, {"n": app["number"]}, {"n": missing_number}, token)
    for token in (kezek.staff("SHA-1"), kezek.staff("SHA-2")):
        await _refused_as(kezek, "FORBIDDEN", APPLICATION, {"id": app["id"]}, token)
        await _refused_as(kezek, "FORBIDDEN", BY_NUMBER, {"n": app["number"]}, token)
    await _refused_as(kezek, "UNAUTHENTICATED", APPLICATION, {"id": app["id"]}, None)
    await _refused_as(kezek, "UNAUTHENTICATED", BY_NUMBER, {"n": app["number"]}, None)


async def test_a_malformed_or_huge_id_is_just_not_found(kezek: Kezek) -> None:
    token = kezek.citizen(PLAIN.parents[0])
    for bad in ("abc", "-1", "0", "99999999999999999999"):
        await _refused_as(kezek, "NOT_FOUND", APPLICATION, {"id": bad}, token)
    big = "99999999999999999999"
    as_citizen: list[tuple[str, dict[str, Any]]] = [
        (WITHDRAW, {"id": big}),
        (CHANGE, {"id": big, "kgs": [await kezek.kg("SHA-1")]}),
    ]
    as_operator: list[tuple[str, dict[str, Any]]] = [
        (WITHDRAW, {"id": big}),
        (VERIFY, {"id": big}),
        (REVOKE, {"id": big}),
        (SET_CAPACITY, {"id": big, "c": 5}),
        (CREATE_GROUP, {"kg": big, "e": "X-1"}),
    ]
    for cases, caller in ((as_citizen, token), (as_operator, kezek.operator())):
        for query, variables in cases:
            body = await kezek.post(query, variables, caller)
            assert "errors" not in body, body
            (payload,) = body["data"].values()
            assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]
    app = (await kezek.submit(PLAIN.parents[0], PLAIN.children[0], ["SHA-1"]))["application"]
    body = await kezek.post(CHANGE, {"id": app["id"], "kgs": [big]}, token)
    assert body["data"]["changeChoices"]["errors"][0]["code"] == "NOT_FOUND", body


# --- PriorityClaim ---------------------------------------------------------------------------------


async def _military_claim(kezek: Kezek) -> tuple[str, str]:
    """The MILITARY family's pending claim, on an application choosing Shakhtinsk and Karaganda city."""
    result = await kezek.submit(data.MILITARY.parents[0], data.MILITARY.children[0], ["SHA-1", "KAR-1"])
    app = result["application"]
    (claim,) = app["claims"]
    assert claim["status"] == "PENDING_MANUAL"
    return claim["id"], app["id"]


async def _claim_status(kezek: Kezek, claim_id: str) -> str:
    rows = await kezek.sql("SELECT status FROM priority_claims WHERE id = $1", int(claim_id))
    return str(rows[0]["status"])


async def test_claims_to_verify_list_only_the_childs_area(kezek: Kezek) -> None:
    claim_id, app_id = await _military_claim(kezek)
    for token in (kezek.operator(), _shakhtinsk()):
        edges = (await kezek.gql(CLAIMS, token=token))["priorityClaimsToVerify"]["edges"]
        assert [e["node"] for e in edges] == [
            {"id": claim_id, "category": "MILITARY", "status": "PENDING_MANUAL", "application": {"id": app_id}}
        ]
    # Karaganda city sees the application (KAR-1 is chosen) but the claim is for the child's area.
    for token in (_north(), _karaganda_city()):
        assert (await kezek.gql(CLAIMS, token=token))["priorityClaimsToVerify"]["edges"] == []
    for token in (kezek.citizen(data.MILITARY.parents[0]), kezek.staff("SHA-1"), kezek.ministry()):
        await _refused_as(kezek, "FORBIDDEN", CLAIMS, {}, token)
    await _refused_as(kezek, "UNAUTHENTICATED", CLAIMS, {}, None)


async def test_claims_to_verify_pages(kezek: Kezek) -> None:
    pending = [f for n, f in enumerate(data.POOL) if n % 3 == 0]
    for family in pending:
        await kezek.submit(family.parents[0], family.children[0], ["SHA-1"])
    query = """query($first: Int, $after: String) { priorityClaimsToVerify(first: $first, after: $after) {
      edges { node { id } cursor } pageInfo { hasNextPage endCursor } } }"""
    token = kezek.operator()
    first = (await kezek.gql(query, {"first": 3}, token))["priorityClaimsToVerify"]
    assert (len(first["edges"]), first["pageInfo"]["hasNextPage"]) == (3, True)
    rest = (await kezek.gql(query, {"first": 3, "after": first["pageInfo"]["endCursor"]}, token))[
        "priorityClaimsToVerify"
    ]
    assert (len(rest["edges"]), rest["pageInfo"]["hasNextPage"]) == (1, False)
    ids = [e["node"]["id"] for e in first["edges"] + rest["edges"]]
    assert len(set(ids)) == len(pending)
    for variables in ({"first": 101}, {"first": 2, "after": "%%%"}, {"first": 2, "after": encode_cursor(10**20)}):
        await _refused_as(kezek, "INVALID_INPUT", query, variables, token)


async def test_verify_claim_refused_outside_the_childs_area(kezek: Kezek) -> None:
    claim_id, _ = await _military_claim(kezek)
    for token in (_north(), _karaganda_city()):
        await _payload_like_missing(kezek, VERIFY, {"id": claim_id}, {"id": MISSING_ID}, token)
    for token in (
        kezek.citizen(data.MILITARY.parents[0]),
        kezek.citizen(OTHER.parents[0]),
        kezek.staff("SHA-1"),
        kezek.ministry(),
    ):
        await _refused_as(kezek, "FORBIDDEN", VERIFY, {"id": claim_id}, token)
    await _refused_as(kezek, "UNAUTHENTICATED", VERIFY, {"id": claim_id}, None)
    assert await _claim_status(kezek, claim_id) == "PENDING_MANUAL"

    verified = await kezek.gql(VERIFY, {"id": claim_id}, _shakhtinsk())
    assert verified["verifyPriorityClaim"] == {"claim": {"id": claim_id, "status": "VERIFIED"}, "errors": []}
    assert await _claim_status(kezek, claim_id) == "VERIFIED"


async def test_revoke_claim_refused_outside_the_childs_area(kezek: Kezek) -> None:
    result = await kezek.submit(data.LARGE.parents[0], data.LARGE.children[0], ["SHA-1"])
    (claim,) = result["application"]["claims"]
    assert claim["status"] == "VERIFIED"
    claim_id = claim["id"]
    for token in (_north(), _karaganda_city()):
        await _payload_like_missing(kezek, REVOKE, {"id": claim_id}, {"id": MISSING_ID}, token)
    for token in (kezek.citizen(data.LARGE.parents[1]), kezek.staff("SHA-1"), kezek.ministry()):
        await _refused_as(kezek, "FORBIDDEN", REVOKE, {"id": claim_id}, token)
    await _refused_as(kezek, "UNAUTHENTICATED", REVOKE, {"id": claim_id}, None)
    assert await _claim_status(kezek, claim_id) == "VERIFIED"

    revoked = await kezek.gql(REVOKE, {"id": claim_id}, kezek.operator())
    assert revoked["revokePriorityClaim"] == {"claim": {"id": claim_id, "status": "REVOKED"}, "errors": []}


# --- AreaStats -----------------------------------------------------------------------------------------


async def test_area_stats_by_area(kezek: Kezek) -> None:
    await kezek.submit(PLAIN.parents[0], PLAIN.children[0], ["SHA-1"])
    await kezek.submit(CITY.parents[0], CITY.children[0], ["KAR-1"])
    await kezek.submit(NORTH.parents[0], NORTH.children[0], ["PET-1"])
    region = {"r": data.KARAGANDA_REGION, "d": None}
    shakhtinsk = {"r": data.KARAGANDA_REGION, "d": data.SHAKHTINSK}
    city = {"r": data.KARAGANDA_REGION, "d": data.KARAGANDA_CITY}

    whole = await _visible(kezek, AREA, region, kezek.operator())
    narrowed = await _visible(kezek, AREA, shakhtinsk, kezek.operator())
    assert (whole["waiting"], narrowed["waiting"]) == (2, 1)
    assert 0 < narrowed["capacity"] < whole["capacity"]
    # A district operator reads its own district, even when asking for the region.
    assert await _visible(kezek, AREA, region, _shakhtinsk()) == narrowed
    assert await _visible(kezek, AREA, shakhtinsk, _shakhtinsk()) == narrowed
    assert (await _visible(kezek, AREA, city, _karaganda_city()))["waiting"] == 1
    # The ministry reads everything.
    assert await _visible(kezek, AREA, region, kezek.ministry()) == whole
    assert (await _visible(kezek, AREA, {"r": data.SKO_REGION}, kezek.ministry()))["waiting"] == 1

    missing = {"r": "999999999", "d": None}
    await _hidden_like_missing(kezek, AREA, city, missing, _shakhtinsk())
    await _hidden_like_missing(kezek, AREA, region, missing, _north())
    await _hidden_like_missing(kezek, AREA, {"r": data.SKO_REGION, "d": None}, missing, kezek.operator())
    for token in (kezek.citizen(PLAIN.parents[0]), kezek.staff("SHA-1")):
        await _refused_as(kezek, "FORBIDDEN", AREA, region, token)
    await _refused_as(kezek, "UNAUTHENTICATED", AREA, region, None)


# --- Group and Kindergarten mutations ------------------------------------------------------------------


async def _capacity(kezek: Kezek, group_id: str) -> int:
    return int((await kezek.sql("SELECT capacity FROM groups WHERE id = $1", int(group_id)))[0]["capacity"])


async def test_set_group_capacity_matrix(kezek: Kezek) -> None:
    group = await _group_id(kezek, "SHA-1", "G-2022-RU")
    real, missing = {"id": group, "c": 25}, {"id": MISSING_ID, "c": 25}
    for token in (kezek.staff("SHA-2"), kezek.staff("KAR-1"), _north(), _karaganda_city()):
        await _payload_like_missing(kezek, SET_CAPACITY, real, missing, token)
    for token in (kezek.citizen(PLAIN.parents[0]), kezek.ministry()):
        await _refused_as(kezek, "FORBIDDEN", SET_CAPACITY, real, token)
    await _refused_as(kezek, "UNAUTHENTICATED", SET_CAPACITY, real, None)
    assert await _capacity(kezek, group) == 20

    for n, token in enumerate((kezek.staff("SHA-1"), kezek.operator(), _shakhtinsk()), start=21):
        done = await kezek.gql(SET_CAPACITY, {"id": group, "c": n}, token)
        assert done["setGroupCapacity"] == {"group": {"id": group, "capacity": n}, "errors": []}
        assert await _capacity(kezek, group) == n


async def test_create_group_matrix(kezek: Kezek) -> None:
    kg = await kezek.kg("SHA-1")
    for n, token in enumerate((_north(), _karaganda_city())):
        await _payload_like_missing(
            kezek, CREATE_GROUP, {"kg": kg, "e": f"NEW-{n}"}, {"kg": MISSING_ID, "e": f"NEW-{n}"}, token
        )
    for token in (kezek.staff("SHA-1"), kezek.citizen(PLAIN.parents[0]), kezek.ministry()):
        await _refused_as(kezek, "FORBIDDEN", CREATE_GROUP, {"kg": kg, "e": "NEW-X"}, token)
    await _refused_as(kezek, "UNAUTHENTICATED", CREATE_GROUP, {"kg": kg, "e": "NEW-X"}, None)
    assert await kezek.sql("SELECT id FROM groups WHERE external_id LIKE 'NEW-%'") == []

    for ext, token in (("NEW-A", kezek.operator()), ("NEW-B", _shakhtinsk())):
        made = (await kezek.gql(CREATE_GROUP, {"kg": kg, "e": ext}, token))["createGroup"]
        assert made["errors"] == [] and made["group"]["externalId"] == ext
    pet = await kezek.kg("PET-1")
    made = (await kezek.gql(CREATE_GROUP, {"kg": pet, "e": "NEW-C"}, _north()))["createGroup"]
    assert made["errors"] == []


async def test_create_kindergarten_matrix(kezek: Kezek) -> None:
    for token in (_north(), _karaganda_city()):
        await _payload_like_missing(
            kezek, CREATE_KG, {"e": "SHA-NEW", "d": data.SHAKHTINSK}, {"e": "SHA-NEW", "d": "999999999"}, token
        )
    await _payload_like_missing(
        kezek,
        CREATE_KG,
        {"e": "PET-NEW", "d": data.PETROPAVLOVSK},
        {"e": "PET-NEW", "d": "999999999"},
        kezek.operator(),
    )
    for token in (
        kezek.staff("SHA-1"),
        kezek.citizen(PLAIN.parents[0]),
        kezek.ministry(),
    ):
        await _refused_as(kezek, "FORBIDDEN", CREATE_KG, {"e": "SHA-NEW", "d": data.SHAKHTINSK}, token)
    await _refused_as(kezek, "UNAUTHENTICATED", CREATE_KG, {"e": "SHA-NEW", "d": data.SHAKHTINSK}, None)
    assert await kezek.sql("SELECT id FROM kindergartens WHERE external_id LIKE '%-NEW'") == []

    for ext, token in (("SHA-NEW", _shakhtinsk()), ("SHA-NEW2", kezek.operator())):
        made = (await kezek.gql(CREATE_KG, {"e": ext, "d": data.SHAKHTINSK}, token))["createKindergarten"]
        assert made["errors"] == [] and made["kindergarten"]["externalId"] == ext


# --- withdrawApplication and changeChoices ------------------------------------------------------------


async def _status(kezek: Kezek, app_id: str) -> str:
    return str((await kezek.sql("SELECT status FROM applications WHERE id = $1", int(app_id)))[0]["status"])


async def test_withdraw_matrix(kezek: Kezek) -> None:
    app = (await kezek.submit(PLAIN.parents[0], PLAIN.children[0], ["SHA-1"]))["application"]
    real, missing = {"id": app["id"]}, {"id": MISSING_ID}
    for token in (kezek.citizen(OTHER.parents[0]), _north(), _karaganda_city()):
        await _payload_like_missing(kezek, WITHDRAW, real, missing, token)
    for token in (kezek.staff("SHA-1"), kezek.ministry()):
        await _refused_as(kezek, "FORBIDDEN", WITHDRAW, real, token)
    await _refused_as(kezek, "UNAUTHENTICATED", WITHDRAW, real, None)
    assert await _status(kezek, app["id"]) == "QUEUED"

    # The second parent withdraws.
    done = await kezek.gql(WITHDRAW, real, kezek.citizen(PLAIN.parents[1]))
    assert done["withdrawApplication"] == {"application": {"id": app["id"], "status": "WITHDRAWN"}, "errors": []}

    # An operator of the child's area withdraws another one.
    other = (await kezek.submit(OTHER.parents[0], OTHER.children[0], ["SHA-2"]))["application"]
    done = await kezek.gql(WITHDRAW, {"id": other["id"]}, _shakhtinsk())
    assert done["withdrawApplication"]["application"] == {"id": other["id"], "status": "WITHDRAWN"}
    history = await kezek.sql(
        "SELECT actor_role, channel, reason FROM audit_log WHERE application_id = $1 AND action = 'WITHDRAWN'",
        int(other["id"]),
    )
    assert [tuple(r) for r in history] == [("akimat_operator", "akimat-karaganda", "asked by phone")]


async def test_change_choices_matrix(kezek: Kezek) -> None:
    app = (await kezek.submit(PLAIN.parents[0], PLAIN.children[0], ["SHA-1"]))["application"]
    kgs = await kezek.kgs("SHA-2", "SHA-3")
    real, missing = {"id": app["id"], "kgs": kgs}, {"id": MISSING_ID, "kgs": kgs}
    for token in (kezek.citizen(OTHER.parents[0]), kezek.citizen(NORTH.parents[0], channel="kaspi")):
        await _payload_like_missing(kezek, CHANGE, real, missing, token)
    for token in (kezek.operator(), _shakhtinsk(), _north(), kezek.staff("SHA-1"), kezek.ministry()):
        await _refused_as(kezek, "FORBIDDEN", CHANGE, real, token)
    await _refused_as(kezek, "UNAUTHENTICATED", CHANGE, real, None)
    chosen = await kezek.sql(
        "SELECT k.external_id FROM choices c JOIN kindergartens k ON k.id = c.kindergarten_id"
        " WHERE c.application_id = $1",
        int(app["id"]),
    )
    assert [r["external_id"] for r in chosen] == ["SHA-1"]

    done = (await kezek.gql(CHANGE, real, kezek.citizen(PLAIN.parents[1])))["changeChoices"]
    assert done["errors"] == []
    assert [c["kindergarten"]["externalId"] for c in done["application"]["choices"]] == ["SHA-2", "SHA-3"]


# --- role-level refusals -------------------------------------------------------------------------------


async def test_role_level_refusals(kezek: Kezek) -> None:
    citizen = kezek.citizen(PLAIN.parents[0])
    await _refused_as(kezek, "FORBIDDEN", AREA, {"r": data.KARAGANDA_REGION}, citizen)
    await _refused_as(kezek, "FORBIDDEN", CLAIMS, {}, citizen)
    await _refused_as(kezek, "FORBIDDEN", CREATE_KG, {"e": "SHA-NEW", "d": data.SHAKHTINSK}, citizen)
    await _refused_as(kezek, "UNAUTHENTICATED", "{ myChildren { iin } }", {}, None)
    for token in (kezek.operator(), kezek.staff("SHA-1"), kezek.ministry()):
        await _refused_as(kezek, "FORBIDDEN", "{ myChildren { iin } }", {}, token)
    mine = await kezek.gql("{ myChildren { iin } }", token=citizen)
    assert sorted(c["iin"] for c in mine["myChildren"]) == sorted(PLAIN.children)


@contextlib.asynccontextmanager
async def _production(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        profile=Profile.PRODUCTION, channels_file=DEV_DIR / "channels.json", data_dir=Path(tempfile.gettempdir())
    )
    container = build_container(settings, db_url, clock=MovableClock())
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(container)), base_url="http://kezek.test"
        ) as client:
            yield client
    finally:
        await container.aclose()


async def test_sent_messages_is_forbidden_in_production(kezek: Kezek, db_url: str) -> None:
    query = "query($p: String!) { sentMessages(phone: $p) { id text } }"
    phone = PLAIN.phones[PLAIN.parents[0]]
    await kezek.submit(PLAIN.parents[0], PLAIN.children[0], ["SHA-1"])
    await kezek.worker_pass()
    recorded = (await kezek.gql(query, {"p": phone}))["sentMessages"]
    assert recorded, "the development profile records SMS"
    async with _production(db_url) as client:
        body = (await client.post("/graphql", json={"query": query, "variables": {"p": phone}})).json()
        assert _codes(body) == ["FORBIDDEN"]
        assert body["data"] is None


async def test_staff_do_not_see_siblings_of_an_enrolled_child(kezek: Kezek) -> None:
    query = "query($iin: String!) { child(iin: $iin) { iin siblings { iin fullName } } }"
    await kezek.submit(PLAIN.parents[0], PLAIN.children[0], ["SHA-2"])
    await kezek.submit(PLAIN.parents[0], PLAIN.children[1], ["SHA-2"])
    await _enroll(kezek, PLAIN.children[0], "SHA-1", "G-2022-RU")
    variables = {"iin": PLAIN.children[0]}
    # The parent and the area's operator see the brother or sister.
    for token in (kezek.citizen(PLAIN.parents[1]), _shakhtinsk(), kezek.ministry()):
        child = await _visible(kezek, query, variables, token)
        assert [s["iin"] for s in child["siblings"]] == [PLAIN.children[1]]
    # Staff see the enrolled child only, not a sibling who is neither offered nor enrolled there.
    child = await _visible(kezek, query, variables, kezek.staff("SHA-1"))
    assert child["siblings"] == []
    await _hidden_like_missing(kezek, CHILD, {"iin": PLAIN.children[1]}, {"iin": MISSING_IIN}, kezek.staff("SHA-1"))
