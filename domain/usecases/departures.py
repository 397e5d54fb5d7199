"""Children leaving their kindergarten (docs/product.md §4 "Leaving", §10 "Seats over time"): a parent, staff or
an operator ends an enrolment now; staff and operators plan one for a date (`planDeparture`) or clear it; and
the worker carries out the departures whose last day has passed. However it comes, a departure ends the
enrolment, frees the seat for the vacancy chain and closes the application still waiting (unless the child
moves on to an upgrade's enrolment, which starts the next day)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from domain import access, iin, inputs, places
from domain.errors import DomainError
from domain.feed import VacancyEventKind
from domain.model import SYSTEM, Actor, ApplicationStatus, Enrollment, ErrorCode, OfferStatus, Role
from domain.ports import Clock
from domain.repositories import UnitOfWork
from domain.timezone import local_date
from domain.usecases.allocator import Allocator
from domain.usecases.applications import Applications
from domain.usecases.effects import Effects
from domain.usecases.seats import Seats

BATCH = 50  # departures carried out per transaction by the worker


@dataclass(frozen=True, slots=True)
class Departures:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    allocator: Allocator
    seats: Seats
    applications: Applications

    async def leave_kindergarten(self, actor: Actor, child_iin: str, reason: str | None) -> str:
        """The enrolment ends now (the child leaves); the seat frees; the application, if any, closes."""
        access.forbid_unless(actor, Role.CITIZEN, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
        child_iin = iin.check(child_iin)
        if actor.role != Role.CITIZEN:
            inputs.required(reason, "reason", "staff and operators must give a reason")
        async with self.uow() as uow:
            fx = Effects(uow, actor, self.clock.now())
            enrollment = await self._managed(uow, actor, child_iin, owner_too=True)
            await self._depart(fx, enrollment, reason or "left")
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return child_iin

    async def plan_departure(
        self, actor: Actor, child_iin: str, leaves_on: dt.date | None, reason: str | None
    ) -> Enrollment:
        """Sets the enrolment's last day, or clears it (the child stays one more year). Clearing or moving it
        later is refused when the seat is already promised from then (CAPACITY_BELOW_OCCUPIED); an earlier
        day frees the seat from the day after, offered ahead within the advance window."""
        access.forbid_unless(actor, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
        child_iin = iin.check(child_iin)
        inputs.required(reason, "reason", "staff and operators must give a reason")
        now = self.clock.now()
        today = local_date(now)
        places.check_not_past(leaves_on, today, "leavesOn")
        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            enrollment = await self._managed(uow, actor, child_iin, owner_too=False)
            if leaves_on is not None and leaves_on < enrollment.since:
                raise DomainError(ErrorCode.INVALID_INPUT, "leavesOn is before the enrolment starts", "leavesOn")
            group = await uow.places.group(enrollment.group_id, for_update=True)
            assert group is not None
            stays_from = _day_after(enrollment.leaves_on)
            # Staying longer takes the seat on the days from the old departure to the new one.
            if (
                stays_from is not None
                and (leaves_on is None or leaves_on >= stays_from)
                and await uow.places.least_free(group.id, stays_from, _day_after(leaves_on)) < 1
            ):
                raise DomainError(
                    ErrorCode.CAPACITY_BELOW_OCCUPIED,
                    f"the seat is already promised from {stays_from.isoformat()}",
                    "leavesOn",
                )
            await uow.offers.set_departure(enrollment.id, leaves_on)
            after = {"groupId": enrollment.group_id, "leavesOn": leaves_on.isoformat() if leaves_on else None}
            before = {"groupId": enrollment.group_id, "leavesOn": _iso(enrollment.leaves_on)}
            fx.record(
                "enrollment", enrollment.id, "DEPARTURE_PLANNED", before, after, reason, enrollment.application_id
            )
            kindergarten = await uow.places.kindergarten(enrollment.kindergarten_id)
            assert kindergarten is not None
            await fx.vacancy(VacancyEventKind.CAPACITY_CHANGED, kindergarten.id, group.id)
            await self.allocator.fill(fx, [group.id])
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return Enrollment(
            enrollment.id,
            enrollment.child_iin,
            enrollment.group_id,
            enrollment.kindergarten_id,
            enrollment.application_id,
            enrollment.since,
            leaves_on,
        )

    async def carry_out_due(self) -> int:
        """The worker's pass: enrolments whose last day has passed end, as a departure."""
        done = 0
        while True:
            async with self.uow() as uow:
                fx = Effects(uow, SYSTEM, self.clock.now())
                children = await uow.offers.departures_due(local_date(fx.now), BATCH)
                for child in children:
                    enrollment = await uow.offers.enrollment(child, for_update=True)
                    if enrollment is not None:
                        await self._depart(fx, enrollment, "departure")
                await uow.commit()
            await self.allocator.run(fx.allocations)
            done += len(children)
            if len(children) < BATCH:
                return done

    async def _managed(self, uow: UnitOfWork, actor: Actor, child_iin: str, *, owner_too: bool) -> Enrollment:
        enrollment = await uow.offers.enrollment(child_iin, for_update=True)
        kindergarten = await uow.places.kindergarten(enrollment.kindergarten_id) if enrollment else None
        if (
            enrollment is None
            or kindergarten is None
            or not (
                (owner_too and access.is_owner(actor, await uow.persons.representatives(child_iin)))
                or access.can_manage_kindergarten(
                    actor, kindergarten.external_id, kindergarten.region_code, kindergarten.district_code
                )
            )
        ):
            raise access.not_found("enrolment", "childIin")
        return enrollment

    async def _depart(self, fx: Effects, enrollment: Enrollment, reason: str) -> None:
        uow = fx.uow
        child_iin = enrollment.child_iin
        await uow.offers.end_enrollment(enrollment.id, fx.now, reason)
        await uow.applications.set_sibling_priority(
            await uow.persons.siblings(child_iin), enrollment.kindergarten_id, False
        )
        fx.record(
            "enrollment",
            enrollment.id,
            "LEFT",
            {"groupId": enrollment.group_id},
            None,
            reason,
            enrollment.application_id,
        )
        app = await uow.applications.active_for_child(child_iin)
        if app is None and enrollment.application_id is not None:
            app = await uow.applications.get(enrollment.application_id, for_update=True)
        freed = []
        moving_on = bool(await uow.offers.enrollments(child_iin))  # an upgrade's enrolment starts next
        if app is not None and not app.status.final and not moving_on:
            live = await uow.offers.live_for(app.id, for_update=True)
            if live is not None:
                freed.append(await self.seats.end_offer(fx, app, live, OfferStatus.CANCELLED, "left the kindergarten"))
            await self.applications.stop_waiting(fx, app, ApplicationStatus.CLOSED, "left the kindergarten")
        await fx.vacancy(VacancyEventKind.LEFT, enrollment.kindergarten_id, enrollment.group_id)
        await self.allocator.fill(fx, [enrollment.group_id, *freed])


def _day_after(day: dt.date | None) -> dt.date | None:
    return day + dt.timedelta(days=1) if day is not None else None


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
