"""The one allocator (PRODUCT §4 "When allocation runs", §5, §6): every free seat goes to exactly one child,
the first candidate in queue order (domain/allocation.py), never to a race.

Seats are filled one at a time: after each offer, the seats its chain released (a superseded offer's group)
are filled first, then the next seat of the group it came from. A sibling group is seated together or not
at all, and a single free seat is never held back for one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from domain import allocation, siblings
from domain.allocation import Candidate
from domain.model import SYSTEM, Group, Kindergarten, PriorityTier
from domain.policy import Policy, PolicyBook
from domain.ports import Clock
from domain.queue_order import QueueOrder
from domain.repositories import UnitOfWork
from domain.timezone import local_date
from domain.usecases.effects import Effects
from domain.usecases.seats import Seats

PAGE = 50  # candidates read at a time, in queue order, until one is eligible
TIERS = (PriorityTier.EXTRAORDINARY, PriorityTier.PRIMARY, PriorityTier.GENERAL)


@dataclass(frozen=True, slots=True)
class Allocator:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    policies: PolicyBook
    seats: Seats

    async def sweep(self) -> int:
        """The worker's pass: every group with a free seat is tried again, which catches start dates and
        birthdays (a child becoming a candidate with no change to the data)."""
        async with self.uow() as uow:
            fx = Effects(uow, SYSTEM, self.clock.now())
            made = await self.fill(fx, await uow.candidates.groups_with_free_seats())
            await uow.commit()
        return made

    async def fill(self, fx: Effects, group_ids: Iterable[int]) -> int:
        """Fills the free seats of these groups; returns the number of offers made. Runs in the change's
        unit of work, so a freed seat is offered in the same transaction as the change that freed it."""
        uow = fx.uow
        system = Effects(uow, SYSTEM, fx.now)  # offers are made by Kezek, whoever's change freed the seat
        await uow.flush()
        stack = sorted(set(group_ids), reverse=True)
        offers = 0
        while stack:
            group_id = stack.pop()
            group = await uow.places.group(group_id, for_update=True)
            if group is None or group.free_seats <= 0:
                continue
            kindergarten = await uow.places.kindergarten(group.kindergarten_id)
            assert kindergarten is not None
            policy = self.policies.for_region(kindergarten.region_code)
            pick = await self._pick(uow, group, policy, fx)
            if pick is None:
                continue
            freed = await self._seat(system, pick, group, kindergarten, policy)
            offers += 1
            stack.append(group_id)
            stack.extend(freed)
        return offers

    async def _pick(self, uow: UnitOfWork, group: Group, policy: Policy, fx: Effects) -> Candidate | None:
        """The first eligible candidate of each tier, then the ratio's choice among them."""
        made = await uow.candidates.offers_made(group.id) if policy.primary_ratio else (0, 0)
        firsts = [c for tier in TIERS if (c := await self._first_eligible(uow, group, tier, policy, fx)) is not None]
        return allocation.choose(
            firsts, local_date(fx.now), policy.min_admission_age_months, policy.primary_ratio, *made
        )

    async def _first_eligible(
        self, uow: UnitOfWork, group: Group, tier: PriorityTier, policy: Policy, fx: Effects
    ) -> Candidate | None:
        today = local_date(fx.now)
        after: QueueOrder | None = None
        while True:
            page = await uow.candidates.candidates(group, tier, after, PAGE)
            for c in page:
                if not allocation.eligible(c, today, policy.min_admission_age_months):
                    continue
                # A sibling group is seated together or not at all; a lone seat goes on to the next child.
                if c.sibling_group_id is not None and await self._sibling_plan(uow, c.sibling_group_id, group) is None:
                    continue
                return c
            if len(page) < PAGE:
                return None
            after = page[-1].order

    async def _sibling_plan(self, uow: UnitOfWork, sibling_group_id: int, group: Group) -> dict[int, int] | None:
        members = []
        for app_id in await uow.applications.sibling_group_members(sibling_group_id):
            app = await uow.applications.get(app_id)
            if app is None:
                return None
            members.append(app)
        return siblings.seat_plan(members, await uow.places.groups_of([group.kindergarten_id]))

    async def _seat(
        self, fx: Effects, pick: Candidate, group: Group, kindergarten: Kindergarten, policy: Policy
    ) -> list[int]:
        """Offers the seat (a sibling group: one seat per member); returns the groups superseding freed."""
        plan = (
            {pick.application_id: group.id}
            if pick.sibling_group_id is None
            else await self._sibling_plan(fx.uow, pick.sibling_group_id, group)
        )
        assert plan is not None
        freed: list[int] = []
        for app_id, group_id in plan.items():
            app = await fx.uow.applications.get(app_id, for_update=True)
            assert app is not None
            freed += await self.seats.offer(fx, app, group_id, kindergarten, policy, pick.sibling_group_id)
        return freed
