"""Allocation a batch of groups at a time (docs/architecture.md "The write path", "Batches") and the mutation that
gives it many groups at once, `setGroupCapacities` (docs/api.md): a batch offers exactly the seats that one
seat per transaction would, leaves what it cannot decide alone to that path, and loses nothing."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest

from api.auth import mint
from api.config_files import Channel
from api.worker import run_once
from domain.model import Role
from domain.timezone import local_date
from domain.usecases import allocator
from persistence.db import raw_connect
from persistence.invariants import check_invariants
from tests import data, regions
from tests.conftest import OFFERS_POLICY, Kezek, cloned_database, open_kezek

SET_CAPACITIES = """mutation($input: SetGroupCapacitiesInput!) { setGroupCapacities(input: $input) {
  groups { id capacity held freeSeats } errors { code message field } } }"""
GROUPS = """query($id: ID!) { kindergarten(id: $id) { groups { id externalId capacity held } } }"""


def _operator(channel: Channel, region: str) -> str:
    return mint(channel, Role.AKIMAT_OPERATOR, f"operator-{region}", region=region)


async def _group_of(k: Kezek, kindergarten: str, external_id: str = "G-2023-RU") -> str:
    groups = (await k.gql(GROUPS, {"id": await k.kg(kindergarten)}))["kindergarten"]["groups"]
    return str(next(g["id"] for g in groups if g["externalId"] == external_id))


async def _set_many(k: Kezek, token: str, changes: list[tuple[str, int]], **extra: Any) -> Any:
    variables = {"input": {"changes": [{"groupId": g, "capacity": c} for g, c in changes], **extra}}
    return (await k.gql(SET_CAPACITIES, variables, token))["setGroupCapacities"]


async def _wave(db_url: str, tmp_path: Path, capacities: dict[str, int]) -> list[tuple[Any, ...]]:
    """Eight regions whose children's choices cross into the next region, every group's capacity set at once by
    its region's operator: every live offer as (child, kindergarten), then every application's status."""
    extra = regions.build(8)
    await regions.import_into(db_url, extra)
    channels, channel = regions.channels_file(tmp_path)
    async with open_kezek(db_url, policy_file=OFFERS_POLICY, channels_file=channels, rate_channel_burst=1e6) as k:
        for child in extra.children:
            assert (await k.submit(child.parent, child.iin, list(child.choices)))["errors"] == []
        for code in extra.codes:
            mine = [ext for ext in extra.kindergartens if ext.startswith(f"R{code[:2]}-")]
            changes = [(await _group_of(k, ext), capacities[ext]) for ext in mine]
            payload = await _set_many(k, _operator(channel, code), changes)
            assert payload["errors"] == [], payload
            assert [g["capacity"] for g in payload["groups"]] == [c for _, c in changes]
        await run_once(k.container)  # whatever the dispatchers would finish
        assert await check_invariants(k.container.engine, local_date(k.clock.now())) == []
        assert (await k.sql("SELECT count(*) AS n FROM allocation_queue"))[0]["n"] == 0
        live = await k.sql(
            """SELECT o.child_iin, k.external_id FROM offers o JOIN kindergartens k ON k.id = o.kindergarten_id
            WHERE o.status IN ('PENDING', 'CONFIRMED') ORDER BY 1"""
        )
        states = await k.sql(
            "SELECT child_iin, status FROM applications WHERE child_iin = ANY($1) ORDER BY 1",
            [c.iin for c in extra.children],
        )
    return [tuple(r) for r in live] + [tuple(r) for r in states]


async def test_a_batch_offers_the_seats_one_seat_at_a_time_would(
    db_url: str, pg_url: str, template_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same children, choices across regions and capacities of 1 to 3, allocated by batches and then, in a
    second database, one seat per transaction: the same children hold the same seats (a child first in two
    groups of one batch, and the supersedes that follow, included)."""
    rng = random.Random(11)
    capacities = {ext: rng.choice((1, 2, 3)) for ext in regions.build(8).kindergartens}
    made_by_batches = []
    seat_batch = allocator.Allocator._seat_batch

    async def counted(self: allocator.Allocator, group_ids: list[int]) -> Any:
        done = await seat_batch(self, group_ids)
        made_by_batches.append(done.made)
        return done

    monkeypatch.setattr(allocator.Allocator, "_seat_batch", counted)
    (tmp_path / "a").mkdir()
    batched = await _wave(db_url, tmp_path / "a", capacities)
    assert sum(made_by_batches) >= 8  # the batches did most of the work, not the fallback
    (tmp_path / "b").mkdir()
    monkeypatch.setattr(allocator, "BATCH", 1)  # one seat per transaction only
    made_by_batches.clear()
    async with cloned_database(pg_url) as other:
        one_by_one = await _wave(other, tmp_path / "b", capacities)
    assert made_by_batches == []
    assert batched == one_by_one
    assert sum(1 for row in batched if row[1] == "OFFERED") >= 16


async def test_set_group_capacities_changes_every_group_in_one_transaction_and_offers_their_seats(
    db_url: str,
) -> None:
    async with open_kezek(db_url, policy_file=OFFERS_POLICY) as k:
        first = await _group_of(k, "SHA-1")
        second = await _group_of(k, "SHA-2")
        for gid in (first, second):
            await k.sql("UPDATE groups SET capacity = 0 WHERE id = $1", int(gid))
        waiting = [(data.OTHER.parents[0], data.OTHER.children[0]), (data.PLAIN.parents[0], data.PLAIN.children[1])]
        apps = [(await k.submit(parent, child, ["SHA-2", "SHA-1"]))["application"]["id"] for parent, child in waiting]
        payload = await _set_many(k, Kezek.operator(), [(second, 1), (first, 2)], reason="1 September")
        assert payload["errors"] == []
        # In the list's order, with the seats the change freed held by the children waiting for them.
        assert payload["groups"] == [
            {"id": second, "capacity": 1, "held": 1, "freeSeats": 0},
            {"id": first, "capacity": 2, "held": 1, "freeSeats": 1},
        ]
        audit = await k.sql(
            "SELECT entity_id, before, after, reason FROM audit_log WHERE action = 'CAPACITY_CHANGED' ORDER BY id"
        )
        assert [(r["entity_id"], json.loads(r["before"]), json.loads(r["after"]), r["reason"]) for r in audit] == [
            (second, {"capacity": 0}, {"capacity": 1}, "1 September"),
            (first, {"capacity": 0}, {"capacity": 2}, "1 September"),
        ]
        # The first child is first at both: the batch offers it SHA-1's seat and leaves SHA-2 to one seat at a time,
        # whose better offer supersedes it; that seat goes on to the second child.
        offers = await k.sql("SELECT application_id, group_id, status FROM offers ORDER BY id")
        assert [(r["application_id"], r["group_id"], r["status"]) for r in offers] == [
            (int(apps[0]), int(first), "SUPERSEDED"),
            (int(apps[0]), int(second), "PENDING"),
            (int(apps[1]), int(first), "PENDING"),
        ]
        sms = await k.sql("SELECT count(*) AS n FROM outbox WHERE kind = 'OFFER_MADE'")
        assert sms[0]["n"] == 3
        events = await k.sql("SELECT kind FROM events WHERE kind = 'CAPACITY_CHANGED'")
        assert len(events) == 2


async def test_set_group_capacities_refuses_the_whole_list_for_one_bad_entry(db_url: str) -> None:
    async with open_kezek(db_url, policy_file=OFFERS_POLICY) as k:
        ours = await _group_of(k, "SHA-1")
        other = await _group_of(k, "SHA-2")
        taken = await _group_of(k, "SHA-3")
        await k.sql("UPDATE groups SET capacity = 1 WHERE id = $1", int(taken))
        family = data.OTHER
        await k.submit(family.parents[0], family.children[0], ["SHA-3"])
        await k.worker_pass()
        assert (await k.sql("SELECT held FROM groups WHERE id = $1", int(taken)))[0]["held"] == 1

        async def refused(token: str, changes: list[tuple[str, int]]) -> list[tuple[str, str | None]]:
            payload = await _set_many(k, token, changes)
            assert payload["groups"] == []
            return [(e["code"], e["field"]) for e in payload["errors"]]

        staff = Kezek.staff("SHA-1")
        assert await refused(staff, []) == [("INVALID_INPUT", "changes")]
        assert await refused(staff, [(ours, 5)] * 101) == [("INVALID_INPUT", "changes")]
        assert await refused(staff, [(ours, 5), (ours, 6)]) == [("INVALID_INPUT", "changes.1.groupId")]
        assert await refused(staff, [(ours, 5), (other, 1001)]) == [("INVALID_INPUT", "changes.1.capacity")]
        assert await refused(staff, [(ours, 5), ("nope", 3)]) == [("NOT_FOUND", "changes.1.groupId")]
        # Staff manage their own kindergarten only: another's group is not found, as a missing one.
        assert await refused(staff, [(ours, 5), (other, 3)]) == [("NOT_FOUND", "changes.1.groupId")]
        operator = Kezek.operator()
        assert await refused(operator, [(ours, 5), (taken, 0)]) == [("CAPACITY_BELOW_OCCUPIED", "changes.1.capacity")]
        body = await k.post(
            SET_CAPACITIES, {"input": {"changes": [{"groupId": ours, "capacity": 5}]}}, Kezek.ministry()
        )
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        rows = await k.sql("SELECT id, capacity FROM groups WHERE id = ANY($1) ORDER BY id", [int(ours), int(taken)])
        assert {r["id"]: r["capacity"] for r in rows} == {int(ours): 20, int(taken): 1}
        assert await k.sql("SELECT 1 FROM audit_log WHERE action = 'CAPACITY_CHANGED'") == []


async def test_a_batch_leaves_a_child_locked_elsewhere_queued_and_offers_the_rest(db_url: str) -> None:
    """A candidate another transaction holds is never waited for: the batch offers the other groups' seats and
    leaves that group queued, and the dispatchers offer its seat once the lock goes."""
    async with open_kezek(db_url, policy_file=OFFERS_POLICY) as k:
        groups = [await _group_of(k, kg) for kg in ("SHA-1", "SHA-2", "SHA-3")]
        for gid in groups:
            await k.sql("UPDATE groups SET capacity = 0 WHERE id = $1", int(gid))
        families = [data.OTHER, data.DISABLED, data.MILITARY]
        apps = [
            (await k.submit(f.parents[0], f.children[0], [kg]))["application"]["id"]
            for f, kg in zip(families, ("SHA-1", "SHA-2", "SHA-3"), strict=True)
        ]
        holder = await raw_connect(db_url)
        try:
            await holder.execute("BEGIN")
            await holder.execute("SELECT 1 FROM applications WHERE id = $1 FOR UPDATE", int(apps[1]))
            payload = await _set_many(k, Kezek.operator(), [(g, 1) for g in groups])
            assert payload["errors"] == []
            assert [g["held"] for g in payload["groups"]] == [1, 0, 1]
            queued = await k.sql("SELECT group_id FROM allocation_queue")
            assert [r["group_id"] for r in queued] == [int(groups[1])]
        finally:
            await holder.execute("ROLLBACK")
            await holder.close()
        k.clock.advance(dt.timedelta(seconds=1))  # past the committing request's grace
        await k.container.queue.drain_allocations()
        statuses = await k.sql("SELECT id, status FROM applications WHERE id = ANY($1)", [int(a) for a in apps])
        assert {r["status"] for r in statuses} == {"OFFERED"}
        assert await check_invariants(k.container.engine, local_date(k.clock.now())) == []
