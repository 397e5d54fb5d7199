"""Property: positions from the index-backed count equal a brute-force sort of the same data, under random
submissions, choice changes, withdrawals and tier changes (verify / revoke)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import data
from tests.conftest import Kezek, cloned_database, open_kezek

KINDERGARTENS = ["SHA-1", "SHA-2", "SHA-3"]
TIER_RANK = {"EXTRAORDINARY": 0, "PRIMARY": 1, "GENERAL": 2}
POOL = data.POOL

APPLICATION = """query($id: ID!) { application(id: $id) {
  id status tier queueDate claims { id status category }
  choices { rank kindergarten { id } position } } }"""
CHANGE = """mutation($input: ChangeChoicesInput!) { changeChoices(input: $input) { errors { code } } }"""
WITHDRAW = """mutation($input: WithdrawApplicationInput!) { withdrawApplication(input: $input) { errors { code } } }"""
VERIFY = """mutation($input: VerifyPriorityClaimInput!) { verifyPriorityClaim(input: $input) { errors { code } } }"""
REVOKE = """mutation($input: RevokePriorityClaimInput!) { revokePriorityClaim(input: $input) { errors { code } } }"""
QUEUE = """query($kg: ID!, $after: String) { publicQueue(kindergartenId: $kg, birthYear: 2023, language: RU,
  first: 5, after: $after) { edges { node { position applicationNumber } } pageInfo { hasNextPage endCursor } } }"""

choice_sets = st.lists(st.sampled_from(KINDERGARTENS), min_size=1, max_size=3, unique=True)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.integers(0, len(POOL) - 1), choice_sets),
        st.tuples(st.just("change"), st.integers(0, len(POOL) - 1), choice_sets),
        st.tuples(st.just("withdraw"), st.integers(0, len(POOL) - 1), st.just([])),
        st.tuples(st.just("verify"), st.integers(0, len(POOL) - 1), st.just([])),
        st.tuples(st.just("revoke"), st.integers(0, len(POOL) - 1), st.just([])),
    ),
    min_size=4,
    max_size=14,
)


async def _run(kezek: Kezek, ops: list[tuple[str, int, list[str]]]) -> None:
    apps: dict[int, str] = {}
    operator = kezek.operator()
    for op, i, kgs in ops:
        family = POOL[i]
        parent = kezek.citizen(family.parents[0])
        if op == "submit":
            result = await kezek.submit(family.parents[0], family.children[0], kgs)
            if not result["errors"]:
                apps[i] = result["application"]["id"]
            continue
        if i not in apps:
            continue
        if op == "change":
            ids = await kezek.kgs(*kgs)
            await kezek.gql(CHANGE, {"input": {"applicationId": apps[i], "kindergartenIds": ids}}, parent)
        elif op == "withdraw":
            await kezek.gql(WITHDRAW, {"input": {"applicationId": apps[i]}}, parent)
            del apps[i]
        else:
            app = (await kezek.gql(APPLICATION, {"id": apps[i]}, operator))["application"]
            wanted = "PENDING_MANUAL" if op == "verify" else "VERIFIED"
            for claim in app["claims"]:
                if claim["status"] == wanted:
                    mutation = VERIFY if op == "verify" else REVOKE
                    extra = {"approve": True} if op == "verify" else {"note": "found false"}
                    await kezek.gql(mutation, {"input": {"claimId": claim["id"], **extra}}, operator)
    await _check(kezek, list(apps.values()))


async def _check(kezek: Kezek, app_ids: list[str]) -> None:
    ministry = kezek.ministry()
    apps: list[dict[str, Any]] = [(await kezek.gql(APPLICATION, {"id": a}, ministry))["application"] for a in app_ids]
    for kg in await kezek.kgs(*KINDERGARTENS):
        standing = [
            (TIER_RANK[a["tier"]], dt.datetime.fromisoformat(a["queueDate"]), int(a["id"]), a)
            for a in apps
            if a["status"] == "QUEUED" and any(c["kindergarten"]["id"] == kg for c in a["choices"])
        ]
        standing.sort(key=lambda t: t[:3])
        expected = {t[3]["id"]: n for n, t in enumerate(standing, start=1)}
        actual = {a["id"]: c["position"] for a in apps for c in a["choices"] if c["kindergarten"]["id"] == kg}
        assert actual == expected, (kg, actual, expected)
        # The public queue lists the same order, page by page.
        numbers: list[int] = []
        after = None
        while True:
            page = (await kezek.gql(QUEUE, {"kg": kg, "after": after}))["publicQueue"]
            numbers += [e["node"]["position"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert numbers == list(range(1, len(expected) + 1))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
async def test_positions_match_brute_force(
    pg_url: str, template_url: str, ops: list[tuple[str, int, list[str]]]
) -> None:
    async with cloned_database(pg_url) as url, open_kezek(url) as kezek:
        await _run(kezek, ops)
