"""The waiting estimate through /graphql on the real database (docs/product.md §3 "Waiting estimate"): dates for a
queue with recorded offers, too little history for one without, the basis in the caller's language, the status
query's statements whatever the choices, and the bare endpoint of the bench giving the same bytes."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.settings import DEV_DIR
from bench import bare
from domain.timezone import local_date
from tests import data
from tests.conftest import OFFERS_POLICY, Kezek, open_kezek

STATUS_QUERY = (Path(__file__).parent.parent / "bench" / "queries" / "my_children.graphql").read_text()
RECORDED = 24  # offers recorded at SHA-1 for the 2023 RU queue, two a month over the last year


@pytest.fixture
async def kezek(db_url: str) -> AsyncIterator[Kezek]:
    """National defaults (children of 2023 are old enough), every group full: no offer is made meanwhile."""
    async with open_kezek(db_url, policy_file=OFFERS_POLICY) as k:
        await k.sql("UPDATE groups SET capacity = 0")
        yield k


async def record_offers(kezek: Kezek) -> None:
    """Offers of the last year at SHA-1 to another child of the queue, declined since: the history a queue keeps."""
    await kezek.submit(data.OTHER.parents[0], data.OTHER.children[0], ["SHA-2"])
    app = (await kezek.sql("SELECT id, child_iin FROM applications WHERE child_iin = $1", data.OTHER.children[0]))[0]
    kg = int(await kezek.kg("SHA-1"))
    group = (await kezek.sql("SELECT id FROM groups WHERE kindergarten_id = $1 AND external_id = 'G-2023-RU'", kg))[0]
    now = dt.datetime.now(dt.UTC)
    for n in range(RECORDED):
        at = now - dt.timedelta(days=7 + 15 * n)
        await kezek.sql(
            """INSERT INTO offers (application_id, child_iin, kindergarten_id, group_id, status, tier_rank,
                created_at, respond_by, decided_at, starts_on)
            VALUES ($1, $2, $3, $4, 'DECLINED', 2, $5, $5, $5, CAST($5 AS timestamptz)::date)""",
            app["id"],
            app["child_iin"],
            kg,
            group["id"],
            at,
        )


async def status(kezek: Kezek, parent: str, language: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {kezek.citizen(parent)}"}
    if language:
        headers["Accept-Language"] = language
    response = await kezek.client.post("/graphql", json={"query": STATUS_QUERY}, headers=headers)
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    return response


async def estimates(kezek: Kezek, parent: str, language: str | None = None) -> list[dict[str, object]]:
    children = (await status(kezek, parent, language)).json()["data"]["myChildren"]
    return [c["estimate"] for child in children if child["application"] for c in child["application"]["choices"]]


async def test_a_queue_with_recorded_offers_has_dates_and_one_without_has_too_little_history(kezek: Kezek) -> None:
    await record_offers(kezek)
    family = data.TWINS
    await kezek.submit(family.parents[0], family.children[0], ["SHA-1", "SHA-4"])

    recorded, unknown = await estimates(kezek, family.parents[0], "en")
    today = local_date(dt.datetime.now(dt.UTC))
    assert recorded["insufficientHistory"] is False
    assert isinstance(recorded["earliest"], str) and isinstance(recorded["latest"], str)
    earliest, latest = dt.date.fromisoformat(recorded["earliest"]), dt.date.fromisoformat(recorded["latest"])
    assert today <= earliest <= latest < today + dt.timedelta(days=90), "24 offers a year, the child first"
    assert recorded["basis"] == (
        "An estimate, not a promise: from this queue's last 12 months (offers to children without a higher "
        f"priority: {RECORDED}; children ahead: 0)."
    )
    assert unknown == {
        "earliest": None,
        "latest": None,
        "insufficientHistory": True,
        "basis": "Too little history to estimate: offers in this queue in the last 12 months to children without a "
        "higher priority: 0; no seats planned for the next school year.",
    }


async def test_the_basis_is_in_the_callers_language(kezek: Kezek) -> None:
    await record_offers(kezek)
    family = data.TWINS
    await kezek.submit(family.parents[0], family.children[0], ["SHA-1"])
    (kk,) = await estimates(kezek, family.parents[0], "kk")
    (ru,) = await estimates(kezek, family.parents[0], "ru-RU")
    (en,) = await estimates(kezek, family.parents[0], "en")
    (default,) = await estimates(kezek, family.parents[0])
    assert str(kk["basis"]).startswith("Бұл уәде емес, болжам:")
    assert str(ru["basis"]).startswith("Это оценка, а не обещание:")
    assert str(en["basis"]).startswith("An estimate, not a promise:")
    assert default == ru, "Russian without an Accept-Language"
    assert {kk["latest"], ru["latest"], en["latest"]} == {ru["latest"]}, "the language changes only the words"


async def test_the_status_query_reads_every_estimate_in_the_same_statements(kezek: Kezek) -> None:
    await record_offers(kezek)
    one, three = data.PLAIN, data.TWINS
    await kezek.submit(one.parents[0], one.children[1], ["SHA-1"])
    for child in three.children:
        await kezek.submit(three.parents[0], child, ["SHA-1", "SHA-3", "SHA-4", "SHA-5"])
    counts = []
    for parent in (one.parents[0], three.parents[0]):
        await status(kezek, parent)  # warms the family snapshot
        with kezek.count_statements() as statements:
            await status(kezek, parent)
        counts.append(len(statements))
        assert sum("AS planned_seats" in s for s in statements) == 1, "one batch for every choice of the request"
        roles = bare.classify(statements)
        assert roles is not None, "the bare endpoint runs the same statements (bench.run passes them in)"
        assert roles["standings"] == bare.STANDINGS, "the bare endpoint runs the app's own statement"
    assert counts[0] == counts[1] == 7, counts  # six before the estimate: one statement more, whatever the choices


async def test_the_bare_endpoint_answers_the_same_bytes(kezek: Kezek, db_url: str) -> None:
    await record_offers(kezek)
    family = data.TWINS
    for child in family.children:
        await kezek.submit(family.parents[0], child, ["SHA-1", "SHA-4"])
    app = bare.create(db_url, DEV_DIR / "channels.json", "egov", policy_file=OFFERS_POLICY)
    headers = {"Authorization": f"Bearer {kezek.citizen(family.parents[0])}", "Accept-Language": "kk"}
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://b") as client:
        answer = await client.post("/graphql", json={"query": STATUS_QUERY}, headers=headers)
    expected = await kezek.client.post("/graphql", json={"query": STATUS_QUERY}, headers=headers)
    assert answer.content == expected.content
    assert b"insufficientHistory" in answer.content


async def test_the_basis_comes_as_a_code_too(kezek: Kezek) -> None:
    await record_offers(kezek)
    family = data.TWINS
    await kezek.submit(family.parents[0], family.children[0], ["SHA-1", "SHA-4"])
    query = "{ myChildren { application { choices { estimate { basisCode } } } } }"
    headers = {"Authorization": f"Bearer {kezek.citizen(family.parents[0])}", "Accept-Language": "kk"}
    response = await kezek.client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    codes = [
        c["estimate"]["basisCode"]
        for child in response.json()["data"]["myChildren"]
        if child["application"]
        for c in child["application"]["choices"]
    ]
    assert codes == ["QUEUE_PACE", "INSUFFICIENT_HISTORY"], "the same facts as the sentences, whatever the language"
