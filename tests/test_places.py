"""Places (docs/product.md §2, docs/api.md §2-3): regions, the kindergarten directory, seat figures, the place
mutations with their audit records, and `kezek import places` through the command line."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from persistence.readers import encode_cursor
from tests import data
from tests.conftest import Kezek

KGS = """query($f: KindergartenFilter, $first: Int, $after: String) {
  kindergartens(filter: $f, first: $first, after: $after) {
    edges { cursor node { externalId } } pageInfo { hasNextPage endCursor } } }"""
GROUP_FIELDS = """id externalId birthYearFrom birthYearTo language groupType capacity enrolled held freeSeats
  queueLength kindergarten { externalId }"""
KG = f"""query($id: ID!) {{ kindergarten(id: $id) {{ id externalId nameKk nameRu address district {{ code nameRu }}
  regionCode ownership stateOrder groups {{ {GROUP_FIELDS} }} }} }}"""
CREATE_KG = """mutation($input: CreateKindergartenInput!) { createKindergarten(input: $input) {
  kindergarten { id externalId nameKk nameRu address district { code } regionCode ownership stateOrder groups { id } }
  errors { code message field } } }"""
CREATE_GROUP = f"""mutation($input: CreateGroupInput!) {{ createGroup(input: $input) {{
  group {{ {GROUP_FIELDS} }} errors {{ code message field }} }} }}"""
SET_CAPACITY = """mutation($input: SetGroupCapacityInput!) { setGroupCapacity(input: $input) {
  group { id capacity enrolled held freeSeats } errors { code message field } } }"""
WITHDRAW = """mutation($id: ID!) { withdrawApplication(input: {applicationId: $id}) { errors { code } } }"""

ALL = ["SHA-1", "SHA-2", "SHA-3", "SHA-4", "SHA-5", "SHA-KK", "SHA-SP", "KAR-1", "PET-1", "PET-2"]
ROOT = Path(__file__).resolve().parent.parent


# --- helpers ------------------------------------------------------------------------------------


async def _kgs(kezek: Kezek, first: int | None = 100, after: str | None = None, **f: Any) -> list[str]:
    result = await kezek.gql(KGS, {"f": f, "first": first, "after": after})
    return [e["node"]["externalId"] for e in result["kindergartens"]["edges"]]


async def _groups(kezek: Kezek, kindergarten: str) -> dict[str, Any]:
    kg = (await kezek.gql(KG, {"id": await kezek.kg(kindergarten)}))["kindergarten"]
    return {g["externalId"]: g for g in kg["groups"]}


async def _group_id(kezek: Kezek, kindergarten: str, external_id: str) -> str:
    return str((await _groups(kezek, kindergarten))[external_id]["id"])


async def _hold(kezek: Kezek, application_id: str, group_id: str) -> None:
    """A live offer of a seat in the group to the application, written as set-up data."""
    await kezek.sql(
        """INSERT INTO offers (application_id, child_iin, kindergarten_id, group_id, status, tier_rank, created_at,
            respond_by, starts_on)
        SELECT a.id, a.child_iin, g.kindergarten_id, g.id, 'PENDING', a.tier_rank, now(), now() + interval '2 days',
            CURRENT_DATE
        FROM applications a, groups g WHERE a.id = $1 AND g.id = $2""",
        int(application_id),
        int(group_id),
    )


async def _enroll(kezek: Kezek, child: str, group_id: str) -> None:
    await kezek.sql(
        "INSERT INTO enrollments (child_iin, group_id, kindergarten_id, since)"
        " SELECT $1, id, kindergarten_id, DATE '2025-09-01' FROM groups WHERE id = $2",
        child,
        int(group_id),
    )


async def _audit(kezek: Kezek, action: str) -> list[dict[str, Any]]:
    rows = await kezek.sql(
        "SELECT entity_type, entity_id, actor_role, actor_subject, channel, before, after, reason FROM audit_log"
        " WHERE action = $1 ORDER BY id",
        action,
    )
    out = []
    for r in rows:
        record = dict(r)
        for key in ("before", "after"):
            record[key] = json.loads(record[key]) if record[key] is not None else None
        out.append(record)
    return out


def _errors(payload: Any) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


# --- regions and the directory -------------------------------------------------------------------


async def test_regions_with_districts(kezek: Kezek) -> None:
    regions = (await kezek.gql("{ regions { code nameKk nameRu districts { code nameKk nameRu } } }"))["regions"]
    assert regions == [
        {
            "code": data.KARAGANDA_REGION,
            "nameKk": "Қарағанды облысы",
            "nameRu": "Карагандинская область",
            "districts": [
                {"code": data.KARAGANDA_CITY, "nameKk": "Қарағанды қаласы", "nameRu": "город Караганда"},
                {"code": data.SHAKHTINSK, "nameKk": "Шахтинск қаласы", "nameRu": "город Шахтинск"},
            ],
        },
        {
            "code": data.SKO_REGION,
            "nameKk": "Солтүстік Қазақстан облысы",
            "nameRu": "Северо-Казахстанская область",
            "districts": [{"code": data.PETROPAVLOVSK, "nameKk": "Петропавл қаласы", "nameRu": "город Петропавловск"}],
        },
    ]


async def test_kindergarten_filters(kezek: Kezek) -> None:
    assert await _kgs(kezek) == ALL
    assert await _kgs(kezek, regionCode=data.SKO_REGION) == ["PET-1", "PET-2"]
    assert await _kgs(kezek, regionCode=data.KARAGANDA_REGION) == ALL[:8]
    assert await _kgs(kezek, districtCode=data.KARAGANDA_CITY) == ["KAR-1"]
    assert await _kgs(kezek, regionCode=data.SKO_REGION, districtCode=data.SHAKHTINSK) == []
    assert await _kgs(kezek, language="KK") == [k for k in ALL if k != "SHA-SP"]
    assert await _kgs(kezek, language="RU") == [k for k in ALL if k != "SHA-KK"]
    assert await _kgs(kezek, language="EN") == []
    assert await _kgs(kezek, birthYear=2020) == ["SHA-1", "SHA-2"]
    assert await _kgs(kezek, birthYear=2019) == []
    assert await _kgs(kezek, groupType="SPECIAL") == ["SHA-SP"]
    assert await _kgs(kezek, groupType="SPECIAL", birthYear=2023) == ["SHA-SP"]
    assert await _kgs(kezek, groupType="SPECIAL", birthYear=2024) == []
    assert await _kgs(kezek, groupType="SANATORIUM") == []
    # Language, year and type must hold in one group: SHA-KK has no RU group for 2022.
    assert "SHA-KK" not in await _kgs(kezek, language="RU", birthYear=2022)
    assert "SHA-KK" in await _kgs(kezek, language="KK", birthYear=2022)


async def test_kindergarten_search(kezek: Kezek) -> None:
    assert await _kgs(kezek, search="Балапан") == ["SHA-1"]
    assert await _kgs(kezek, search="балапан") == ["SHA-1"]
    assert await _kgs(kezek, search="Солнышко") == ["PET-1"]
    assert await _kgs(kezek, search="sha-k") == ["SHA-KK"]
    assert await _kgs(kezek, search="PET") == ["PET-1", "PET-2"]
    assert await _kgs(kezek, search="Балапан", regionCode=data.SKO_REGION) == []
    # LIKE wildcards are taken literally.
    assert await _kgs(kezek, search="%") == []
    assert await _kgs(kezek, search="_") == []
    assert await _kgs(kezek, search="   ") == ALL


async def test_has_free_seats(kezek: Kezek) -> None:
    assert await _kgs(kezek, hasFreeSeats=True) == ALL
    assert await _kgs(kezek, hasFreeSeats=False) == []
    special = await _group_id(kezek, "SHA-SP", "SP-2022-2023")
    await kezek.sql("UPDATE groups SET capacity = 2 WHERE id = $1", int(special))
    await _enroll(kezek, data.PLAIN.children[0], special)
    await _enroll(kezek, data.PLAIN.children[1], special)
    assert await _kgs(kezek, groupType="SPECIAL", hasFreeSeats=True) == []
    assert await _kgs(kezek, groupType="SPECIAL", hasFreeSeats=False) == ["SHA-SP"]
    assert await _kgs(kezek, groupType="SPECIAL") == ["SHA-SP"]
    assert "SHA-SP" not in await _kgs(kezek, hasFreeSeats=True)
    # The other filters apply to the same group: SHA-1's 2022 RU group stays free.
    full = await _group_id(kezek, "SHA-1", "G-2022-RU")
    await kezek.sql("UPDATE groups SET capacity = 0 WHERE id = $1", int(full))
    assert "SHA-1" not in await _kgs(kezek, language="RU", birthYear=2022, hasFreeSeats=True)
    assert "SHA-1" in await _kgs(kezek, language="KK", birthYear=2022, hasFreeSeats=True)
    assert "SHA-1" in await _kgs(kezek, language="RU", birthYear=2022, hasFreeSeats=False)


async def test_pagination(kezek: Kezek) -> None:
    seen: list[str] = []
    after = None
    pages = []
    while True:
        result = (await kezek.gql(KGS, {"f": None, "first": 3, "after": after}))["kindergartens"]
        page = [e["node"]["externalId"] for e in result["edges"]]
        pages.append((len(page), result["pageInfo"]["hasNextPage"]))
        seen += page
        assert result["pageInfo"]["endCursor"] == result["edges"][-1]["cursor"]
        if not result["pageInfo"]["hasNextPage"]:
            break
        after = result["pageInfo"]["endCursor"]
    assert seen == ALL
    assert pages == [(3, True), (3, True), (3, True), (1, False)]
    # Filters and pages combine.
    first = (await kezek.gql(KGS, {"f": {"regionCode": data.SKO_REGION}, "first": 1}))["kindergartens"]
    assert [e["node"]["externalId"] for e in first["edges"]] == ["PET-1"]
    rest = await _kgs(kezek, 5, first["pageInfo"]["endCursor"], regionCode=data.SKO_REGION)
    assert rest == ["PET-2"]
    # Past the end: an empty page.
    last = (await kezek.gql(KGS, {"f": None, "first": 100, "after": after}))["kindergartens"]
    assert last["pageInfo"] == {"hasNextPage": False, "endCursor": last["edges"][-1]["cursor"]}
    assert await _kgs(kezek, first=0) == []
    assert len(await _kgs(kezek, first=20)) == 10


async def test_page_size_and_cursor_limits(kezek: Kezek) -> None:
    assert len(await _kgs(kezek, first=100)) == 10
    for bad_first in (101, 1000, -1):
        body = await kezek.post(KGS, {"first": bad_first})
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_INPUT"], body
    for bad_cursor in ("!!!", "bm90IGpzb24", encode_cursor(10**20), encode_cursor("x"), encode_cursor([1, 2])):
        body = await kezek.post(KGS, {"first": 5, "after": bad_cursor})
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_INPUT"], (bad_cursor, body)


# --- one kindergarten and its seat figures ------------------------------------------------------------


async def test_kindergarten_by_id(kezek: Kezek) -> None:
    kg_id = await kezek.kg("SHA-4")
    kg = (await kezek.gql(KG, {"id": kg_id}))["kindergarten"]
    assert {k: v for k, v in kg.items() if k != "groups"} == {
        "id": kg_id,
        "externalId": "SHA-4",
        "nameKk": "Нұрай балабақшасы",
        "nameRu": "Детский сад Нұрай",
        "address": "ул. Тестовая, 5",
        "district": {"code": data.SHAKHTINSK, "nameRu": "город Шахтинск"},
        "regionCode": data.KARAGANDA_REGION,
        "ownership": "PRIVATE",
        "stateOrder": False,
    }
    assert len(kg["groups"]) == 12  # 2021-2026 in KK and RU
    assert {(g["birthYearFrom"], g["language"]) for g in kg["groups"]} == {
        (y, lang) for y in range(2021, 2027) for lang in ("KK", "RU")
    }
    assert all(g["kindergarten"] == {"externalId": "SHA-4"} for g in kg["groups"])
    sha1 = (await kezek.gql(KG, {"id": await kezek.kg("SHA-1")}))["kindergarten"]
    assert (sha1["ownership"], sha1["stateOrder"], len(sha1["groups"])) == ("STATE", True, 14)


async def test_unknown_kindergarten_is_not_found(kezek: Kezek) -> None:
    for missing in ("999999", "abc", "0", "-4", "99999999999999999999"):
        body = await kezek.post(KG, {"id": missing})
        assert body["data"] == {"kindergarten": None}
        assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
        assert body["errors"][0]["message"] == "Не найдено: детский сад."  # the same text either way


async def test_group_seat_figures_and_queue_lengths(kezek: Kezek) -> None:
    # Queued: a 2022 RU child at SHA-1 and SHA-2, a 2023 KK child at SHA-1, two SPECIAL children (2022
    # and 2023) at the mixed-age SHA-SP group; a withdrawn 2023 RU application counts nowhere.
    await kezek.submit(data.LARGE.parents[0], data.LARGE.children[0], ["SHA-1", "SHA-2"])
    twin = await kezek.submit(data.TWINS.parents[0], data.TWINS.children[0], ["SHA-1"], language="KK")
    plain = await kezek.submit(data.PLAIN.parents[0], data.PLAIN.children[0], ["SHA-SP"], groupType="SPECIAL")
    await kezek.submit(data.PLAIN.parents[0], data.PLAIN.children[1], ["SHA-SP"], groupType="SPECIAL")
    gone = await kezek.submit(data.OTHER.parents[0], data.OTHER.children[0], ["SHA-1"])
    withdrawn = await kezek.gql(WITHDRAW, {"id": gone["application"]["id"]}, kezek.citizen(data.OTHER.parents[0]))
    assert withdrawn["withdrawApplication"]["errors"] == []

    sha1 = await _groups(kezek, "SHA-1")
    await _enroll(kezek, data.DISABLED.children[0], sha1["G-2022-RU"]["id"])
    for held in (twin, plain):
        await _hold(kezek, held["application"]["id"], sha1["G-2022-RU"]["id"])

    sha1 = await _groups(kezek, "SHA-1")
    figures = {k: (g["capacity"], g["enrolled"], g["held"], g["freeSeats"], g["queueLength"]) for k, g in sha1.items()}
    assert figures["G-2022-RU"] == (20, 1, 2, 17, 1)
    assert figures["G-2022-KK"] == (20, 0, 0, 20, 0)
    assert figures["G-2023-KK"] == (20, 0, 0, 20, 1)
    assert figures["G-2023-RU"] == (20, 0, 0, 20, 0)
    assert sum(f[4] for f in figures.values()) == 2
    assert (await _groups(kezek, "SHA-2"))["G-2022-RU"]["queueLength"] == 1
    assert (await _groups(kezek, "SHA-3"))["G-2022-RU"]["queueLength"] == 0
    special = (await _groups(kezek, "SHA-SP"))["SP-2022-2023"]
    assert {k: special[k] for k in ("birthYearFrom", "birthYearTo", "groupType", "capacity", "queueLength")} == {
        "birthYearFrom": 2022,
        "birthYearTo": 2023,
        "groupType": "SPECIAL",
        "capacity": 8,
        "queueLength": 2,
    }


# --- createKindergarten ---------------------------------------------------------------------------------


def _new_kg(**overrides: Any) -> dict[str, Any]:
    return {
        "externalId": "SHA-NEW",
        "districtCode": data.SHAKHTINSK,
        "nameKk": "Жаңа балабақша",
        "nameRu": "Новый детский сад",
        "address": "ул. Новая, 1",
        "ownership": "PRIVATE",
        "stateOrder": True,
        **overrides,
    }


async def test_create_kindergarten(kezek: Kezek) -> None:
    made = (await kezek.gql(CREATE_KG, {"input": _new_kg()}, kezek.operator()))["createKindergarten"]
    assert made["errors"] == []
    kg = made["kindergarten"]
    assert {k: v for k, v in kg.items() if k != "id"} == {
        "externalId": "SHA-NEW",
        "nameKk": "Жаңа балабақша",
        "nameRu": "Новый детский сад",
        "address": "ул. Новая, 1",
        "district": {"code": data.SHAKHTINSK},
        "regionCode": data.KARAGANDA_REGION,
        "ownership": "PRIVATE",
        "stateOrder": True,
        "groups": [],
    }
    # The public reads it at once.
    assert (await kezek.gql(KG, {"id": kg["id"]}))["kindergarten"]["externalId"] == "SHA-NEW"
    assert await _kgs(kezek, search="SHA-NEW") == ["SHA-NEW"]
    assert await _kgs(kezek, districtCode=data.SHAKHTINSK, birthYear=2023) == ALL[:7]  # no groups yet

    (record,) = await _audit(kezek, "KINDERGARTEN_CREATED")
    assert record == {
        "entity_type": "kindergarten",
        "entity_id": kg["id"],
        "actor_role": "akimat_operator",
        "actor_subject": "operator-1",
        "channel": "akimat-karaganda",
        "before": None,
        "after": {"externalId": "SHA-NEW", "districtCode": data.SHAKHTINSK, "nameRu": "Новый детский сад"},
        "reason": None,
    }

    # A district operator creates in its own district only.
    own = await kezek.gql(
        CREATE_KG, {"input": _new_kg(externalId="SHA-NEW-2")}, kezek.operator(district=data.SHAKHTINSK)
    )
    assert own["createKindergarten"]["errors"] == []


async def test_create_kindergarten_refusals(kezek: Kezek) -> None:
    operator = kezek.operator()
    cases = [
        (_new_kg(districtCode=data.PETROPAVLOVSK), [("NOT_FOUND", "districtCode")]),
        (_new_kg(districtCode="999999999"), [("NOT_FOUND", "districtCode")]),
        (_new_kg(externalId="SHA-1"), [("INVALID_INPUT", "externalId")]),
        (_new_kg(externalId="  SHA-1 "), [("INVALID_INPUT", "externalId")]),
        (_new_kg(nameKk=""), [("INVALID_INPUT", "nameKk")]),
        (_new_kg(nameRu="   "), [("INVALID_INPUT", "nameRu")]),
        (_new_kg(externalId=""), [("INVALID_INPUT", "externalId")]),
    ]
    for variables, expected in cases:
        payload = (await kezek.gql(CREATE_KG, {"input": variables}, operator))["createKindergarten"]
        assert payload["kindergarten"] is None
        assert _errors(payload) == expected, variables
    district = kezek.operator(district=data.KARAGANDA_CITY)
    payload = (await kezek.gql(CREATE_KG, {"input": _new_kg()}, district))["createKindergarten"]
    assert _errors(payload) == [("NOT_FOUND", "districtCode")]
    assert len(await kezek.sql("SELECT id FROM kindergartens")) == len(ALL)
    assert await _audit(kezek, "KINDERGARTEN_CREATED") == []


# --- createGroup -----------------------------------------------------------------------------------


def _new_group(kg: str, **overrides: Any) -> dict[str, Any]:
    return {
        "kindergartenId": kg,
        "externalId": "G-EN-2024",
        "birthYearFrom": 2024,
        "birthYearTo": 2025,
        "language": "EN",
        "groupType": "SANATORIUM",
        "capacity": 12,
        **overrides,
    }


async def test_create_group(kezek: Kezek) -> None:
    kg = await kezek.kg("SHA-3")
    made = (await kezek.gql(CREATE_GROUP, {"input": _new_group(kg)}, kezek.operator()))["createGroup"]
    assert made["errors"] == []
    group = made["group"]
    assert {k: v for k, v in group.items() if k != "id"} == {
        "externalId": "G-EN-2024",
        "birthYearFrom": 2024,
        "birthYearTo": 2025,
        "language": "EN",
        "groupType": "SANATORIUM",
        "capacity": 12,
        "enrolled": 0,
        "held": 0,
        "freeSeats": 12,
        "queueLength": 0,
        "kindergarten": {"externalId": "SHA-3"},
    }
    assert (await _groups(kezek, "SHA-3"))["G-EN-2024"]["id"] == group["id"]
    assert await _kgs(kezek, language="EN") == ["SHA-3"]
    assert await _kgs(kezek, groupType="SANATORIUM", birthYear=2025) == ["SHA-3"]

    (record,) = await _audit(kezek, "GROUP_CREATED")
    assert record["entity_type"] == "group" and record["entity_id"] == group["id"]
    assert (record["actor_role"], record["channel"], record["before"]) == ("akimat_operator", "akimat-karaganda", None)
    assert record["after"] == {"kindergartenId": int(kg), "externalId": "G-EN-2024", "capacity": 12}

    # The same group externalId in another kindergarten is fine; defaults: GENERAL, capacity 0.
    other = _new_group(await kezek.kg("SHA-4"))
    del other["groupType"], other["capacity"]
    made = (await kezek.gql(CREATE_GROUP, {"input": other}, kezek.operator()))["createGroup"]
    assert made["errors"] == []
    assert (made["group"]["groupType"], made["group"]["capacity"], made["group"]["freeSeats"]) == ("GENERAL", 0, 0)


async def test_create_group_refusals(kezek: Kezek) -> None:
    kg = await kezek.kg("SHA-3")
    before = len(await kezek.sql("SELECT id FROM groups"))
    cases = [
        (_new_group(kg, birthYearFrom=2025, birthYearTo=2024), "birthYearFrom"),
        (_new_group(kg, birthYearFrom=1999, birthYearTo=2024), "birthYearFrom"),
        (_new_group(kg, birthYearFrom=2024, birthYearTo=3000), "birthYearFrom"),
        (_new_group(kg, capacity=-1), "capacity"),
        (_new_group(kg, capacity=1001), "capacity"),
        (_new_group(kg, externalId="G-2022-RU"), "externalId"),
        (_new_group(kg, externalId=" G-2022-RU "), "externalId"),
        (_new_group(kg, externalId="   "), "externalId"),
    ]
    for variables, field in cases:
        payload = (await kezek.gql(CREATE_GROUP, {"input": variables}, kezek.operator()))["createGroup"]
        assert payload["group"] is None
        assert _errors(payload) == [("INVALID_INPUT", field)], variables
    missing = (await kezek.gql(CREATE_GROUP, {"input": _new_group("999999")}, kezek.operator()))["createGroup"]
    assert _errors(missing) == [("NOT_FOUND", "kindergartenId")]
    assert len(await kezek.sql("SELECT id FROM groups")) == before
    assert await _audit(kezek, "GROUP_CREATED") == []


# --- setGroupCapacity --------------------------------------------------------------------------------------


async def _set(kezek: Kezek, group: str, capacity: int, token: str, reason: str | None = None) -> Any:
    variables = {"input": {"groupId": group, "capacity": capacity, "reason": reason}}
    return (await kezek.gql(SET_CAPACITY, variables, token))["setGroupCapacity"]


async def test_set_capacity_by_own_staff_and_area_operator_is_audited(kezek: Kezek) -> None:
    group = await _group_id(kezek, "SHA-1", "G-2022-RU")
    by_staff = await _set(kezek, group, 25, kezek.staff("SHA-1"), "a new room")
    assert by_staff == {
        "group": {"id": group, "capacity": 25, "enrolled": 0, "held": 0, "freeSeats": 25},
        "errors": [],
    }
    by_operator = await _set(kezek, group, 18, kezek.operator())
    assert by_operator["group"]["capacity"] == 18
    by_district = await _set(kezek, group, 19, kezek.operator(district=data.SHAKHTINSK), "recount")
    assert by_district["group"]["freeSeats"] == 19
    assert (await _groups(kezek, "SHA-1"))["G-2022-RU"]["capacity"] == 19

    records = await _audit(kezek, "CAPACITY_CHANGED")
    assert [(r["entity_type"], r["entity_id"], r["actor_role"], r["actor_subject"], r["channel"]) for r in records] == [
        ("group", group, "kindergarten_staff", "staff-1", "akimat-karaganda"),
        ("group", group, "akimat_operator", "operator-1", "akimat-karaganda"),
        ("group", group, "akimat_operator", "operator-1", "akimat-karaganda"),
    ]
    assert [(r["before"], r["after"], r["reason"]) for r in records] == [
        ({"capacity": 20}, {"capacity": 25}, "a new room"),
        ({"capacity": 25}, {"capacity": 18}, None),
        ({"capacity": 18}, {"capacity": 19}, "recount"),
    ]


async def test_set_capacity_bad_values(kezek: Kezek) -> None:
    group = await _group_id(kezek, "SHA-1", "G-2022-RU")
    for bad in (-1, 1001):
        payload = await _set(kezek, group, bad, kezek.staff("SHA-1"))
        assert payload["group"] is None
        assert _errors(payload) == [("INVALID_INPUT", "capacity")]
    missing = await _set(kezek, "999999", 5, kezek.operator())
    assert _errors(missing) == [("NOT_FOUND", "groupId")]
    assert (await _groups(kezek, "SHA-1"))["G-2022-RU"]["capacity"] == 20
    assert await _audit(kezek, "CAPACITY_CHANGED") == []


async def test_capacity_never_below_occupied(kezek: Kezek) -> None:
    group = await _group_id(kezek, "SHA-3", "G-2022-RU")
    await _enroll(kezek, data.PLAIN.children[0], group)
    await _enroll(kezek, data.LARGE.children[0], group)
    assert (await _groups(kezek, "SHA-3"))["G-2022-RU"]["enrolled"] == 2

    for token in (kezek.staff("SHA-3"), kezek.operator()):
        for capacity in (1, 0):
            refused = await _set(kezek, group, capacity, token)
            assert refused["group"] is None
            assert _errors(refused) == [("CAPACITY_BELOW_OCCUPIED", "capacity")]
    assert (await _groups(kezek, "SHA-3"))["G-2022-RU"]["capacity"] == 20
    assert await _audit(kezek, "CAPACITY_CHANGED") == []

    exact = await _set(kezek, group, 2, kezek.staff("SHA-3"))
    assert exact["group"] == {"id": group, "capacity": 2, "enrolled": 2, "held": 0, "freeSeats": 0}
    assert "SHA-3" not in await _kgs(kezek, language="RU", birthYear=2022, hasFreeSeats=True)

    # Held seats count as occupied too.
    await kezek.sql("UPDATE groups SET capacity = 4 WHERE id = $1", int(group))
    other = await kezek.submit(data.OTHER.parents[0], data.OTHER.children[0], ["SHA-1"])
    await _hold(kezek, other["application"]["id"], group)
    refused = await _set(kezek, group, 2, kezek.operator())
    assert _errors(refused) == [("CAPACITY_BELOW_OCCUPIED", "capacity")]
    assert (await _set(kezek, group, 3, kezek.operator()))["group"]["freeSeats"] == 0

    # The database itself refuses it, whoever writes.
    with pytest.raises(asyncpg.exceptions.CheckViolationError):
        await kezek.sql("UPDATE groups SET capacity = 1 WHERE id = $1", int(group))
    with pytest.raises(asyncpg.exceptions.CheckViolationError):
        await kezek.sql("UPDATE groups SET capacity = -1, enrolled = 0, held = 0 WHERE id = $1", int(group))
    assert (await _groups(kezek, "SHA-3"))["G-2022-RU"]["capacity"] == 3


# --- kezek import places -----------------------------------------------------------------------------


def _kezek_binary() -> Path:
    for candidate in (Path(sys.executable).parent / "kezek", ROOT / ".venv" / "bin" / "kezek"):
        if candidate.exists():
            return candidate
    raise AssertionError("the kezek command is not installed in the virtual environment")


async def kezek_command(db_url: str, *args: str, **settings: str) -> tuple[int, str, str]:
    """The `kezek` command on a test's database (also tests/test_fairness.py): exit code, stdout, stderr."""
    env = {**os.environ, "KEZEK_DATABASE_URL": db_url, "KEZEK_PROFILE": "development", **settings}
    process = await asyncio.create_subprocess_exec(
        str(_kezek_binary()),
        *args,
        env=env,
        cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _cli_import(db_url: str, path: Path) -> tuple[int, str, str]:
    return await kezek_command(db_url, "import", "places", str(path))


def _places_file(tmp_path: Path, name: str, capacity: int = 15) -> Path:
    places = {
        "regions": copy.deepcopy(data.PLACES["regions"]),
        "kindergartens": [
            copy.deepcopy(next(k for k in data.PLACES["kindergartens"] if k["externalId"] == "SHA-5")),
            {
                "externalId": "SHA-CLI",
                "districtCode": data.SHAKHTINSK,
                "nameKk": "Импорт балабақшасы",
                "nameRu": "Детский сад Импорт",
                "address": "ул. Импортная, 3",
                "ownership": "STATE",
                "stateOrder": True,
                "groups": [
                    {
                        "externalId": "CLI-2023-RU",
                        "birthYearFrom": 2023,
                        "birthYearTo": 2023,
                        "language": "RU",
                        "groupType": "GENERAL",
                        "capacity": capacity,
                    },
                    {
                        "externalId": "CLI-2022-2024-KK",
                        "birthYearFrom": 2022,
                        "birthYearTo": 2024,
                        "language": "KK",
                        "capacity": 10,
                    },
                ],
            },
        ],
    }
    path = tmp_path / name
    path.write_text(json.dumps(places, ensure_ascii=False), encoding="utf-8")
    return path


async def _counts(kezek: Kezek) -> tuple[int, int, int, int]:
    (row,) = await kezek.sql(
        "SELECT (SELECT count(*) FROM regions) AS r, (SELECT count(*) FROM districts) AS d,"
        " (SELECT count(*) FROM kindergartens) AS k, (SELECT count(*) FROM groups) AS g"
    )
    return int(row["r"]), int(row["d"]), int(row["k"]), int(row["g"])


async def test_cli_import_places_is_idempotent(kezek: Kezek, db_url: str, tmp_path: Path) -> None:
    r, d, k, g = await _counts(kezek)
    path = _places_file(tmp_path, "places.json")

    code, out, err = await _cli_import(db_url, path)
    assert code == 0, err
    assert json.loads(out) == {"places": {"regions": 2, "districts": 3, "kindergartens": 2, "groups": 14}}
    after_first = await _counts(kezek)
    assert after_first == (r, d, k + 1, g + 2)

    code, out, err = await _cli_import(db_url, path)
    assert code == 0, err
    assert await _counts(kezek) == after_first

    groups = await _groups(kezek, "SHA-CLI")
    assert (groups["CLI-2023-RU"]["capacity"], groups["CLI-2022-2024-KK"]["birthYearTo"]) == (15, 2024)
    assert await _kgs(kezek, search="Импорт") == ["SHA-CLI"]

    # A changed capacity is updated in place, keeping the group's id.
    changed = _places_file(tmp_path, "changed.json", capacity=30)
    code, _, err = await _cli_import(db_url, changed)
    assert code == 0, err
    assert await _counts(kezek) == after_first
    again = await _groups(kezek, "SHA-CLI")
    assert again["CLI-2023-RU"]["capacity"] == 30
    assert again["CLI-2023-RU"]["id"] == groups["CLI-2023-RU"]["id"]


async def test_cli_import_refuses_a_malformed_file(kezek: Kezek, db_url: str, tmp_path: Path) -> None:
    before = await _counts(kezek)
    valid = json.loads(_places_file(tmp_path, "valid.json").read_text(encoding="utf-8"))

    years = copy.deepcopy(valid)
    years["kindergartens"][0]["groups"][0].update(birthYearFrom=2025, birthYearTo=2023)
    no_name = copy.deepcopy(valid)
    del no_name["kindergartens"][1]["nameRu"]
    bad_language = copy.deepcopy(valid)
    bad_language["kindergartens"][1]["groups"][1]["language"] = "DE"
    cases = [
        (years, "kindergartens.0.groups.0"),
        (no_name, "kindergartens.1.nameRu"),
        (bad_language, "kindergartens.1.groups.1.language"),
    ]
    for n, (content, field) in enumerate(cases):
        path = tmp_path / f"bad-{n}.json"
        path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
        code, out, err = await _cli_import(db_url, path)
        assert code != 0, out
        assert str(path) in err, err
        assert field in err, err
        assert "Traceback" not in err, err
    broken = tmp_path / "broken.json"
    broken.write_text('{"regions": [', encoding="utf-8")
    code, _, err = await _cli_import(db_url, broken)
    assert code != 0 and str(broken) in err and "Traceback" not in err, err
    # Nothing of the malformed files was written, not even their valid parts.
    assert await _counts(kezek) == before
    assert await kezek.sql("SELECT id FROM kindergartens WHERE external_id = 'SHA-CLI'") == []
