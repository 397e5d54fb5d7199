"""The changes that give a child a seat or take it back (docs/product.md §4): an offer made or ended, an enrolment
begun or ended. Each returns the groups whose seats it freed, for the allocator to fill."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from domain import seats_over_time
from domain.feed import ApplicationEventKind, FeedEvent, VacancyEventKind
from domain.messages import MessageKind
from domain.model import Application, ApplicationStatus, Enrollment, Group, Kindergarten, Offer, OfferStatus
from domain.offers import remind_at, start_date
from domain.policy import Policy
from domain.ports import HolidayCalendar
from domain.queue_order import standing
from domain.timezone import local_date
from domain.usecases.effects import ENROLLED, OFFER_ENDED, OFFER_MADE, Effects, offer_snapshot


@dataclass(frozen=True, slots=True)
class Seats:
    calendar: HolidayCalendar

    async def offer(
        self,
        fx: Effects,
        app: Application,
        allocated: Group,
        group_id: int,
        kindergarten: Kindergarten,
        policy: Policy,
        sibling_group_id: int | None,
        live: Offer | None,
        starts_on: dt.date,
    ) -> list[int]:
        """A PENDING offer of a seat in group `group_id` free from `starts_on` (`allocated`, the group being
        allocated, as it is with this seat taken: a sibling's seat may be in another group of the
        kindergarten). One live offer per child: `live`, the one it holds elsewhere (ranked lower, or it would
        not be a candidate; locked by the caller with its group), is superseded, and its seat freed."""
        freed = []
        if live is not None:
            freed.append(await self.end_offer(fx, app, live, OfferStatus.SUPERSEDED, "a better offer"))
        offer = self.draft(app, group_id, kindergarten.id, policy, sibling_group_id, starts_on, fx.now)
        offer.id = await fx.uow.offers.add(offer)
        # The allocated group's free seats are known for a seat free today; the database counts the others.
        free = allocated.free_seats if group_id == allocated.id and starts_on == local_date(fx.now) else None
        await self.made(fx, app, offer, free)
        return freed

    def draft(
        self,
        app: Application,
        group_id: int,
        kindergarten_id: int,
        policy: Policy,
        sibling_group_id: int | None,
        starts_on: dt.date,
        now: dt.datetime,
        intake_run_id: int | None = None,
    ) -> Offer:
        """The offer to write: PENDING, answered within the region's response window from now; an upgrade when
        the child is enrolled (at a kindergarten it ranked lower)."""
        deadline = policy.response_window.end(now, self.calendar)
        return Offer(
            id=0,
            application_id=app.id,
            child_iin=app.child_iin,
            kindergarten_id=kindergarten_id,
            group_id=group_id,
            status=OfferStatus.PENDING,
            tier=app.tier,
            upgrade=app.status == ApplicationStatus.ENROLLED,
            created_at=now,
            respond_by=deadline,
            sibling_group_id=sibling_group_id,
            remind_at=remind_at(now, deadline),
            starts_on=starts_on,
            intake_run_id=intake_run_id,
        )

    async def made(
        self,
        fx: Effects,
        app: Application,
        offer: Offer,
        free_seats: int | None,
        *,
        save: bool = True,
        tell: bool = True,
    ) -> None:
        """A written offer: the choice leaves its queue, and what follows (`save`: the application at once, or
        with the unit of work's others; `tell`: the parent's message, or one for the family from the caller)."""
        before = standing(app)
        app.hold(offer.kindergarten_id, offer.upgrade)
        if save:
            await fx.uow.applications.save(app)
        fx.queue_moves(app, before, "OFFERED")
        later = offer.starts_on is not None and offer.starts_on > local_date(fx.now)
        await fx.offer(
            app,
            offer,
            OFFER_MADE,
            {"status": app.status.value},
            message=MessageKind.OFFER_MADE_FROM if later else None,
            deadline=offer.respond_by,
            free_seats=free_seats,
            tell=tell,
        )

    async def end_offer(
        self,
        fx: Effects,
        app: Application,
        offer: Offer,
        status: OfferStatus,
        reason: str | None,
        *,
        message: MessageKind | None = None,
        tell: bool = True,
    ) -> int:
        """Ends a live offer; its choice stands in the queue again. Returns the group whose seat freed."""
        before = offer_snapshot(offer)
        offer.status = status
        await fx.uow.offers.save(offer, fx.now)
        enrollment = await fx.uow.offers.enrollment(app.child_iin)
        moves = standing(app)
        app.release(offer.kindergarten_id, enrollment is not None and enrollment.application_id == app.id)
        await fx.uow.applications.save(app)
        fx.queue_moves(app, moves, "OFFER_ENDED")
        await fx.offer(app, offer, OFFER_ENDED[status], before, reason, message=message, tell=tell)
        return offer.group_id

    async def enroll(self, fx: Effects, app: Application, offer: Offer) -> list[int]:
        """The contract is signed: the child is enrolled in the offer's group from its start date, until the
        default departure (docs/product.md §10). A child enrolled elsewhere (an upgrade) leaves that seat: at
        once when the new one starts today, else on the day before it starts (the old seat is free from then)."""
        before = offer_snapshot(offer)
        offer.status = OfferStatus.ENROLLED
        await fx.uow.offers.save(offer, fx.now)
        freed: list[int] = []
        since = start_date(app, offer, fx.now)
        olds = await fx.uow.offers.enrollments(app.child_iin, for_update=True)
        siblings = await fx.uow.persons.siblings(app.child_iin)
        for old in olds:
            last_day = since - dt.timedelta(days=1)
            if old.since <= last_day and since > local_date(fx.now):
                if old.leaves_on is None or old.leaves_on > last_day:
                    await fx.uow.offers.set_departure(old.id, last_day)
                    fx.record(
                        "enrollment",
                        old.id,
                        "DEPARTURE_PLANNED",
                        _departure(old),
                        {"leavesOn": str(last_day)},
                        "upgrade",
                        old.application_id,
                    )
            else:
                await fx.uow.offers.end_enrollment(old.id, fx.now, "upgrade")
            await fx.uow.applications.set_sibling_priority(siblings, old.kindergarten_id, False)
            freed.append(old.group_id)
            await fx.vacancy(VacancyEventKind.SEAT_FREED, old.kindergarten_id, old.group_id)
        child = await fx.uow.persons.get(app.child_iin)
        await fx.uow.offers.enroll(
            Enrollment(
                0,
                app.child_iin,
                offer.group_id,
                offer.kindergarten_id,
                app.id,
                since,
                seats_over_time.departure_for(child.birth_date, since) if child else None,
            ),
            offer.id,
        )
        moves = standing(app)
        app.enroll(offer.kindergarten_id, olds[0].kindergarten_id if olds else None)
        await fx.uow.applications.save(app)
        fx.queue_moves(app, moves, "ENROLLED")
        await fx.uow.applications.set_sibling_priority(siblings, offer.kindergarten_id, True)
        await fx.offer(app, offer, ENROLLED, before)
        fx.publish(FeedEvent(ApplicationEventKind.STATUS_CHANGED, application_id=app.id))
        return freed


def _departure(e: Enrollment) -> dict[str, object]:
    return {"groupId": e.group_id, "leavesOn": str(e.leaves_on) if e.leaves_on else None}
