"""The worker's day (docs/product.md §10 "Seats over time"): departures are carried out once their last day has
passed; on the first pass of a day, capacities scheduled for it apply and the groups whose seats the day
changed (enrolments starting or ending, seats free from it, groups opening) are counted again and queued."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.feed import FeedEvent, VacancyEventKind
from domain.model import SYSTEM
from domain.ports import Clock
from domain.repositories import UnitOfWork
from domain.timezone import local_date
from domain.usecases.allocator import Allocator
from domain.usecases.departures import Departures
from domain.usecases.effects import Effects

SCHEDULES = 500  # scheduled capacities applied per transaction


@dataclass(frozen=True, slots=True)
class SchoolDays:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    allocator: Allocator
    departures: Departures

    async def pass_(self) -> dict[str, int]:
        done = {"departures": await self.departures.carry_out_due(), "capacities_applied": 0, "groups_counted": 0}
        today = local_date(self.clock.now())
        while True:
            async with self.uow() as uow:
                fx = Effects(uow, SYSTEM, self.clock.now())
                last = await uow.places.school_day()  # locked: one worker counts the day
                if last >= today:
                    return done
                due = await uow.places.schedules_due(today, SCHEDULES)
                for g in due:
                    await uow.places.apply_schedule(g.id)
                    when = g.scheduled_from.isoformat() if g.scheduled_from else None
                    fx.record(
                        "group",
                        g.id,
                        "CAPACITY_CHANGED",
                        {"capacity": g.capacity},
                        {"capacity": g.scheduled_capacity},
                        f"scheduled from {when}",
                    )
                    await fx.vacancy(VacancyEventKind.CAPACITY_CHANGED, g.kindergarten_id, g.id)
                    fx.allocate([g.id])
                done["capacities_applied"] += len(due)
                if len(due) == SCHEDULES:
                    await uow.commit()  # more to apply before the day is counted
                    await self.allocator.run(fx.allocations)
                    continue
                counted = await uow.places.count_day(last, today)
                for group_id, kindergarten_id, free in counted:
                    fx.publish(
                        FeedEvent(
                            VacancyEventKind.SEAT_FREED if free > 0 else VacancyEventKind.CAPACITY_CHANGED,
                            kindergarten_id=kindergarten_id,
                            group_id=group_id,
                            free_seats=free,
                        )
                    )
                fx.allocate([g for g, _, free in counted if free > 0])
                done["groups_counted"] = len(counted)
                await uow.places.set_school_day(today)
                await uow.commit()
            await self.allocator.run(fx.allocations)
            return done
