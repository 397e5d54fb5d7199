"""Write admission (graph/admission.py, decision 112): a process runs at most `write_concurrency` mutations at
once; the next waits its turn and then runs, reads are never held back, and /metrics shows who runs and who
waits."""

from __future__ import annotations

import asyncio

import pytest

from graph.admission import Admission
from persistence.db import raw_connect
from tests import data
from tests.conftest import Kezek, open_kezek
from tests.test_metrics import scrape, value
from tests.test_shared_subscriptions import until

CHANGE = """mutation($id: ID!, $kgs: [ID!]!) {
  changeChoices(input: {applicationId: $id, kindergartenIds: $kgs}) { application { id } errors { code } }
}"""
KINDERGARTEN = "query($id: ID!) { kindergarten(id: $id) { id nameRu } }"


async def test_a_mutation_waits_for_its_turn_while_reads_go_on(db_url: str) -> None:
    family = data.PLAIN
    async with open_kezek(db_url, write_concurrency=1) as k:
        admission = k.container.services.admission
        first = (await k.submit(family.parents[0], family.children[0], ["SHA-1"]))["application"]
        holder = await raw_connect(db_url)  # holds the application, so the change stays inside its turn
        try:
            await holder.execute("BEGIN")
            await holder.execute("SELECT 1 FROM applications WHERE id = $1 FOR UPDATE", int(first["id"]))
            change = asyncio.create_task(
                k.post(
                    CHANGE, {"id": first["id"], "kgs": await k.kgs("SHA-2", "SHA-1")}, Kezek.citizen(family.parents[0])
                )
            )
            await until(lambda: admission.running == 1, "the change runs")
            submit = asyncio.create_task(k.submit(family.parents[0], family.children[1], ["SHA-1"]))
            await until(lambda: admission.waiting == 1, "the submission waits for its turn")
            during = await scrape(k.client)
            read = await k.gql(KINDERGARTEN, {"id": await k.kg("SHA-1")})
            assert read["kindergarten"]["nameRu"]
            assert not change.done() and not submit.done()
        finally:
            await holder.execute("ROLLBACK")
            await holder.close()
        changed = await change
        submitted = await submit
        after = await scrape(k.client)
    assert [value(during, f"kezek_mutations_{n}") for n in ("running", "waiting", "limit")] == [1, 1, 1]
    assert "errors" not in changed and changed["data"]["changeChoices"]["errors"] == []
    assert submitted["errors"] == [] and submitted["application"]["status"] == "QUEUED"
    assert [value(after, f"kezek_mutations_{n}") for n in ("running", "waiting")] == [0, 0]


async def test_turns_are_first_come_first_served_and_bounded() -> None:
    admission = Admission(2)
    order: list[int] = []
    peak = 0
    release = asyncio.Event()

    async def mutation(i: int) -> None:
        nonlocal peak
        async with admission.turn():
            order.append(i)
            peak = max(peak, admission.running)
            await release.wait()

    tasks = []
    for i in range(6):
        tasks.append(asyncio.create_task(mutation(i)))
        await asyncio.sleep(0)  # each one arrives before the next
    await until(lambda: admission.running == 2 and admission.waiting == 4, "two run, four wait")
    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4, 5] and peak == 2
    assert (admission.running, admission.waiting) == (0, 0)


async def test_a_mutation_cancelled_while_waiting_leaves_no_turn_taken() -> None:
    admission = Admission(1)
    release = asyncio.Event()

    async def hold() -> None:
        async with admission.turn():
            await release.wait()

    holder = asyncio.create_task(hold())
    await until(lambda: admission.running == 1, "the first runs")
    waiter = asyncio.create_task(hold())
    await until(lambda: admission.waiting == 1, "the second waits")
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert admission.waiting == 0
    release.set()
    await holder
    async with admission.turn():  # the one slot is free again
        assert admission.running == 1
    with pytest.raises(ValueError, match="at least one"):
        Admission(0)
