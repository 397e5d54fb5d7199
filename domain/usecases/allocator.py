"""The one allocator (docs/product.md §4 "When allocation runs", §5, §6): every free seat goes to exactly one child,
the first candidate in queue order (domain/allocation.py), never to a race; and no national lane.

A change that frees a seat offers it in its own transaction (`fill`), as long as that takes no lock held
elsewhere and starts no chain of supersedes; whatever is left, and the groups a new candidate fits, are
queued with the change (`Effects.allocate`) and allocated right after it commits (`run`), one seat per
transaction. Each such transaction
- takes the group off the queue and locks it, without waiting: a group locked elsewhere is being changed or
  allocated, and is retried in a moment;
- reads the group's candidates in queue order, and locks the chosen child's application without waiting:
  one allocation at a time per child, so a child whose choices span areas still gets one offer at a time;
- offers the seat, superseding the child's live offer elsewhere (that group is locked without waiting too,
  and queued again: its seat goes on at once), and queues the group again while it has seats left.
Transactions that make a child a candidate share-lock the groups it fits (`lock_for_candidates`), so an
allocation never chooses without seeing a candidate committed before it. An allocation never waits for a
lock, so allocations never deadlock with each other or with the changes they follow; a conflict is retried
here, then left queued for the dispatchers (`drain_due`), which every serving process and the worker run, so
nothing queued is lost when a process dies.

Seats are filled one at a time: after each offer, the seats its chain released (a superseded offer's group)
are filled first, then the next seat of the group it came from. A sibling group is seated together or not at
all, and a single free seat is never held back for one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from domain import age, allocation, school_year, siblings
from domain.allocation import Candidate
from domain.errors import Contention
from domain.model import SYSTEM, Application, ApplicationStatus, Group, Kindergarten, Offer, PriorityTier
from domain.policy import Policy, PolicyBook
from domain.ports import UNOBSERVED, Clock, Observer
from domain.queue_order import QueueOrder
from domain.repositories import CandidateAsk, UnitOfWork
from domain.timezone import local_date
from domain.usecases.effects import Effects
from domain.usecases.seats import Seats

PAGE = 20  # eligible candidates read at a time, in queue order, until one can be seated
TIERS = (PriorityTier.EXTRAORDINARY, PriorityTier.PRIMARY, PriorityTier.GENERAL)
RETRIES = 6  # a group locked elsewhere is tried again after 2, 4 … 64 ms before the dispatchers take over
DISPATCH_BACKOFF = dt.timedelta(milliseconds=200)


BATCH = 25  # queued groups allocated in one transaction: one read of their candidates, one write of their offers
BATCH_PAGE = 3  # candidates a batch reads per group and tier; a group that needs more goes one seat at a time


@dataclass(slots=True)
class _Batch:
    made: int = 0
    again: list[int] = dataclasses.field(default_factory=list)  # offered a seat, with another to offer
    alone: list[int] = dataclasses.field(default_factory=list)  # left queued for one seat at a time


class Stale(Contention):
    """The chosen child changed between reading the candidates and locking it: choose again."""


@dataclass(frozen=True, slots=True)
class Allocator:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    policies: PolicyBook
    seats: Seats
    observer: Observer = UNOBSERVED  # times each allocation (api/metrics.py)

    async def fill(
        self, fx: Effects, group_ids: Iterable[int], known: dict[int, tuple[Group, Kindergarten]] | None = None
    ) -> None:
        """Offers the free seats of groups the change's own transaction holds (it freed them), one at a time.
        A lock held elsewhere, or a supersede (its chain goes first), leaves the rest of the group queued for
        right after the commit: every lock is tried before anything is written, so giving way leaves the
        change's transaction as it was. `known`: groups the change read and holds, as they are now."""
        with self.observer.allocation("fill"):
            await self._fill(fx, group_ids, known)

    async def _fill(
        self, fx: Effects, group_ids: Iterable[int], known: dict[int, tuple[Group, Kindergarten]] | None
    ) -> None:
        uow = fx.uow
        system = Effects(uow, SYSTEM, fx.now)
        await uow.flush()
        for group_id in sorted(set(group_ids)):
            found = (known or {}).get(group_id) or await uow.places.group_and_kindergarten(group_id)
            if found is None:
                continue
            group, kindergarten = found
            while True:
                try:
                    seated = await self._offer_seat(system, group, kindergarten)
                except Contention:
                    fx.allocate([group_id])
                    break
                if seated is None:
                    break
                group, freed = seated
                if freed:
                    fx.allocate([group_id, *freed])
                    break

    def horizon(self, now: dt.datetime) -> dt.date:
        """The last day a seat may be free from to be offered now, in any region (docs/product.md §10)."""
        return self.policies.offered_ahead_until(local_date(now))

    async def run(self, group_ids: Iterable[int]) -> int:
        """Allocates the seats of these queued groups (and of the groups their offers freed); returns the
        offers made. A group another transaction holds is retried a few times, then left to the dispatchers."""
        group_ids = list(group_ids)
        if not group_ids:
            return 0
        with self.observer.allocation("run"):
            return (await self._run(group_ids))[0]

    async def drain_due(self) -> int:
        """The dispatchers' pass over groups left queued (a lock conflict, a process that died after its
        commit) until none is due; returns the offers made."""
        made = 0
        while True:
            async with self.uow() as uow:
                due = await uow.allocation.due(self.clock.now(), 200)
            if not due:
                return made
            with self.observer.allocation("dispatch"):
                offers, busy = await self._run(due)
            made += offers
            if busy:
                async with self.uow() as uow:
                    for group_id in busy:
                        await uow.allocation.postpone(group_id, self.clock.now() + DISPATCH_BACKOFF)
                    await uow.commit()

    async def sweep(self) -> int:
        """The worker's pass: every group with a free seat is tried again, which catches start dates and
        birthdays (a child becoming a candidate with no change to the data)."""
        async with self.uow() as uow:
            await uow.allocation.enqueue_free(self.clock.now(), self.horizon(self.clock.now()))
            await uow.commit()
        return await self.drain_due()

    async def _run(self, group_ids: Iterable[int]) -> tuple[int, list[int]]:
        """(offers made, groups still held elsewhere after the retries). Several queued groups are allocated a
        batch at a time (`_seat_batch`); what a batch leaves goes one seat per transaction (`_one_by_one`)."""
        todo = sorted(set(group_ids))
        made, busy = 0, []
        while todo:
            batch, todo = todo[:BATCH], todo[BATCH:]
            if len(batch) > 1:
                done = await self._seat_batch(batch)
                made += done.made
                todo = sorted(set(todo).union(done.again))
                batch = done.alone
            for group_id in batch:
                offers, held = await self._one_by_one(group_id)
                made += offers
                busy += held
        return made, busy

    async def _seat_batch(self, group_ids: list[int]) -> _Batch:
        """One seat of each of these queued groups, in one transaction and a handful of statements, wherever its
        first candidate holds nothing and waits alone. A group whose seat needs more — a candidate that holds a
        seat elsewhere (a supersede, and its chain), a sibling group, a candidate locked elsewhere or changed, a
        seat free from a later day, one candidate also first in another group of the batch — is queued again and
        left for one seat at a time, which decides it as it always has: the batch offers no seat that path would
        not offer."""
        out = _Batch()
        async with self.uow() as uow:
            claimed, out.alone = await uow.allocation.claim_many(group_ids)  # those locked elsewhere stay queued
            if not claimed:
                return out
            fx = Effects(uow, SYSTEM, self.clock.now())
            today = local_date(fx.now)
            ready: dict[int, tuple[Group, Kindergarten, Policy]] = {}
            later = []
            for group_id, (group, kindergarten) in sorted(claimed.items()):
                day = self._seat_day(group, kindergarten, today)
                if day == today:
                    ready[group_id] = (group, kindergarten, self.policies.for_region(kindergarten.region_code))
                elif day is not None:
                    later.append(group_id)
            picks = await self._batch_picks(uow, ready, today)
            apps = await uow.applications.lock_available(sorted(p.application_id for p in picks.values() if p))
            offers: list[tuple[Application, Group, Offer]] = []
            for group_id, (group, kindergarten, policy) in ready.items():
                if group_id not in picks:
                    continue  # no candidate: nothing to offer
                pick = picks[group_id]
                app = apps.get(pick.application_id) if pick else None
                if (
                    pick is None
                    or app is None
                    or app.status != ApplicationStatus.QUEUED
                    or not _still_candidate(app, kindergarten.id, pick)
                ):
                    later.append(group_id)
                    continue
                offers.append(
                    (app, group, self.seats.draft(app, group_id, kindergarten.id, policy, None, today, fx.now))
                )
            if offers:
                for (_, _, offer), offer_id in zip(
                    offers, await uow.offers.add_many([o for *_, o in offers]), strict=True
                ):
                    offer.id = offer_id
            emptied: list[int] = []
            for app, group, offer in offers:
                await self.seats.made(fx, app, offer, group.free_seats - 1, save=False)
                (out.again if group.free_seats > 1 else emptied).append(group.id)
            if emptied:
                # A group with no seat left today may have one free from a day within the advance window.
                after = await uow.places.groups(emptied)
                out.again += [g for g in emptied if self._seat_day(after[g], claimed[g][1], today) is not None]
            fx.allocate(sorted(out.again + later))  # committed with the offers: nothing is lost if this process dies
            await uow.commit()
        out.made = len(offers)
        out.alone += later
        return out

    async def _batch_picks(
        self, uow: UnitOfWork, ready: dict[int, tuple[Group, Kindergarten, Policy]], today: dt.date
    ) -> dict[int, Candidate | None]:
        """Each group's chosen candidate, from one read of every group's first candidates of each tier; None
        for a group to leave to one seat at a time; a group with no candidate is left out."""
        asks: list[CandidateAsk] = []
        for group, _, policy in ready.values():
            born_by = age.born_by(today, policy.min_admission_age_months)
            asks += [CandidateAsk(group, born_by, t) for t in (TIERS if policy.primary_ratio else (None,))]
        if not asks:
            return {}
        pages = iter(await uow.allocation.first_candidates(asks, today, BATCH_PAGE))
        ratio = [g for g, (_, _, policy) in ready.items() if policy.primary_ratio]
        made = await uow.allocation.offers_made_many(ratio) if ratio else {}
        picks: dict[int, Candidate | None] = {}
        chosen: set[int] = set()
        for group_id, (_, _, policy) in ready.items():
            firsts, alone = [], False
            for _ in TIERS if policy.primary_ratio else (None,):
                page = next(pages)
                first = next((c for c in page if allocation.eligible(c, today, policy.min_admission_age_months)), None)
                if first is None:
                    alone = alone or len(page) == BATCH_PAGE  # more to read than the batch reads
                elif first.sibling_group_id is not None or first.holding_rank is not None:
                    alone = True
                else:
                    firsts.append(first)
            if alone:
                picks[group_id] = None
                continue
            pick = allocation.choose(
                firsts, today, policy.min_admission_age_months, policy.primary_ratio, *made.get(group_id, (0, 0))
            )
            if pick is not None:
                picks[group_id] = None if pick.application_id in chosen else pick
                chosen.add(pick.application_id)
        return picks

    async def _one_by_one(self, group_id: int) -> tuple[int, list[int]]:
        """The group's seats one per transaction, each chain of supersedes first: (offers made, groups still
        held elsewhere after the retries)."""
        stack = [group_id]
        made, busy = 0, []
        while stack:
            group_id = stack.pop()
            try:
                freed = await self._patiently(group_id)
            except Contention:
                busy.append(group_id)
                continue
            if freed is None:
                continue
            made += 1
            stack.append(group_id)
            stack.extend(freed)
        return made, busy

    async def _patiently(self, group_id: int) -> list[int] | None:
        for attempt in range(RETRIES):
            try:
                return await self._seat(group_id)
            except Contention:
                if attempt == RETRIES - 1:
                    raise
                await asyncio.sleep(random.uniform(0.5, 1.0) * 0.002 * 2**attempt)  # noqa: S311 (jitter)
        return None

    async def _seat(self, group_id: int) -> list[int] | None:
        """One seat of a queued group, in one transaction: the groups the offer freed, or None when the group
        was not queued, is full, or has no candidate."""
        async with self.uow() as uow:
            claimed = await uow.allocation.claim(group_id)
            if claimed is None:
                return None
            group, kindergarten = claimed
            fx = Effects(uow, SYSTEM, self.clock.now())  # offers are made by Kezek, whoever's change freed the seat
            seated = await self._offer_seat(fx, group, kindergarten)
            freed = seated[1] if seated is not None else None
            if seated is not None:
                more = self._seat_day(seated[0], kindergarten, local_date(fx.now)) is not None
                fx.allocate(([group_id] if more else []) + seated[1])
            await uow.commit()
        return freed

    def _seat_day(self, group: Group, kindergarten: Kindergarten, today: dt.date) -> dt.date | None:
        """The day the group's next seat is free from, if it may be offered today: today, or a later day within
        the region's advance window (docs/product.md §10)."""
        if group.free_seats > 0:
            return today
        policy = self.policies.for_region(kindergarten.region_code)
        if group.free_from is None or not school_year.within_advance(group.free_from, today, policy.advance_offer_days):
            return None
        return max(group.free_from, today)

    async def _offer_seat(
        self, fx: Effects, group: Group, kindergarten: Kindergarten
    ) -> tuple[Group, list[int]] | None:
        """The group's next seat to its first candidate: the group as it is now and the groups superseding
        freed, or None without a seat to offer or a candidate for it. A seat of a school year not begun waits
        for that year's intake run in the region. Every lock is tried, none waited for, before anything is
        written; one held elsewhere raises Contention."""
        today = local_date(fx.now)
        day = self._seat_day(group, kindergarten, today)
        if day is None:
            return None
        year = school_year.waits_for_intake(day, today)
        if year is not None and not await fx.uow.allocation.intake_published(kindergarten.region_code, year):
            return None
        policy = self.policies.for_region(kindergarten.region_code)
        pick = await self._pick(fx.uow, group, policy, day, today)
        if pick is None:
            return None
        freed: list[int] = []
        for app, seat_group, live in await self._lock(fx.uow, pick, group, day, today):
            if seat_group == group.id and day == today:
                group = dataclasses.replace(group, held=group.held + 1, free_seats=group.free_seats - 1)
            freed += await self.seats.offer(
                fx, app, group, seat_group, kindergarten, policy, pick.sibling_group_id, live, day
            )
        if day != today or group.free_seats == 0:
            # When the next seat is free from is the database's to count (a seat free from a later day may or
            # may not have been one of today's).
            group = await fx.uow.places.group(group.id) or group
        return group, freed

    async def _pick(
        self, uow: UnitOfWork, group: Group, policy: Policy, day: dt.date, today: dt.date
    ) -> Candidate | None:
        """The first eligible candidate of each tier that can be seated, then the ratio's choice among them."""
        tiers: tuple[PriorityTier | None, ...] = TIERS if policy.primary_ratio else (None,)
        firsts = [c for tier in tiers if (c := await self._first(uow, group, policy, day, today, tier)) is not None]
        made = await uow.allocation.offers_made(group.id) if policy.primary_ratio else (0, 0)
        return allocation.choose(firsts, day, policy.min_admission_age_months, policy.primary_ratio, *made)

    async def _first(
        self,
        uow: UnitOfWork,
        group: Group,
        policy: Policy,
        day: dt.date,
        today: dt.date,
        tier: PriorityTier | None,
    ) -> Candidate | None:
        born_by = age.born_by(day, policy.min_admission_age_months)
        after: QueueOrder | None = None
        while True:
            page = await uow.allocation.candidates(group, day, born_by, PAGE, tier, after)
            for c in page:
                # A sibling group is seated together or not at all; a lone seat goes on to the next child.
                if allocation.eligible(c, day, policy.min_admission_age_months) and (
                    c.sibling_group_id is None or await self._sibling_plan(uow, c.sibling_group_id, group, day, today)
                ):
                    return c
            if len(page) < PAGE:
                return None
            after = page[-1].order

    async def _sibling_plan(
        self, uow: UnitOfWork, sibling_group_id: int, group: Group, day: dt.date, today: dt.date
    ) -> dict[int, int] | None:
        members = []
        for app_id in await uow.applications.sibling_group_members(sibling_group_id):
            app = await uow.applications.get(app_id)
            if app is None:
                return None
            members.append(app)
        groups = await uow.places.groups_of([group.kindergarten_id])
        seats = None if day == today else await uow.places.seats_from([g.id for g in groups], day)
        return siblings.seat_plan(members, groups, seats)

    async def _lock(
        self, uow: UnitOfWork, pick: Candidate, group: Group, day: dt.date, today: dt.date
    ) -> list[tuple[Application, int, Offer | None]]:
        """The chosen child's application (a sibling group: each member's) with the group of its seat and the
        live offer it holds elsewhere, all locked without waiting (the live offer's group too, as superseding
        frees its seat). A child that changed since the candidates were read makes it choose again."""
        plan = (
            {pick.application_id: group.id}
            if pick.sibling_group_id is None
            else await self._sibling_plan(uow, pick.sibling_group_id, group, day, today)
        )
        if plan is None:
            raise Stale("the sibling group changed")
        out = []
        for app_id, seat_group in plan.items():
            app = await uow.applications.get(app_id, for_update=True, skip_locked=True)
            if app is None:
                raise Contention(f"application {app_id} is being changed")
            if not _still_candidate(app, group.kindergarten_id, pick):
                raise Stale(f"application {app_id} changed")
            # Only an application OFFERED, ENROLLING or ENROLLED (an upgrade offer) can hold a live offer.
            live = await uow.offers.live_for(app.id) if app.status != ApplicationStatus.QUEUED else None
            if live is not None and not (
                await uow.offers.try_lock(live.id) and await uow.allocation.try_lock_group(live.group_id)
            ):
                raise Contention(f"the live offer {live.id} or its group is being changed")
            out.append((app, seat_group, live))
        return out


def _still_candidate(app: Application, kindergarten_id: int, pick: Candidate) -> bool:
    """The locked application is still the candidate that was read: active, in the queue, standing at this
    kindergarten with the same tier, and holding nothing ranked above it."""
    rank = app.rank_of(kindergarten_id)
    held = [c.rank for c in app.choices if c.held_here]
    return (
        app.active
        and app.in_queue
        and rank is not None
        and kindergarten_id not in app.held()
        and (app.sibling_group_id is not None or app.tier == pick.tier)
        and (not held or min(held) > rank)
    )
