"""The changes that give a child a seat or take it back (docs/product.md §4): an offer made or ended, an enrolment
begun or ended. Each returns the groups whose seats it freed, for the allocator to fill."""

from __future__ import annotations

from dataclasses import dataclass

from domain.feed import ApplicationEventKind, FeedEvent, VacancyEventKind
from domain.messages import MessageKind
from domain.model import Application, ApplicationStatus, Enrollment, Group, Kindergarten, Offer, OfferStatus
from domain.offers import remind_at, start_date
from domain.policy import Policy
from domain.ports import HolidayCalendar
from domain.queue_order import standing
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
    ) -> list[int]:
        """A PENDING offer of a seat in group `group_id` (`allocated`, the group being allocated, as it is with
        this seat taken: a sibling's seat may be in another group of the kindergarten). One live offer per
        child: `live`, the one it holds elsewhere (ranked lower, or it would not be a candidate; locked by the
        caller with its group), is superseded, and its seat freed."""
        freed = []
        if live is not None:
            freed.append(await self.end_offer(fx, app, live, OfferStatus.SUPERSEDED, "a better offer"))
        deadline = policy.response_window.end(fx.now, self.calendar)
        upgrade = app.status == ApplicationStatus.ENROLLED
        offer = Offer(
            id=0,
            application_id=app.id,
            child_iin=app.child_iin,
            kindergarten_id=kindergarten.id,
            group_id=group_id,
            status=OfferStatus.PENDING,
            tier=app.tier,
            upgrade=upgrade,
            created_at=fx.now,
            respond_by=deadline,
            sibling_group_id=sibling_group_id,
            remind_at=remind_at(fx.now, deadline),
        )
        offer.id = await fx.uow.offers.add(offer)
        before = standing(app)
        app.hold(kindergarten.id, upgrade)
        await fx.uow.applications.save(app)
        fx.queue_moves(app, before, "OFFERED")
        free = allocated.free_seats if group_id == allocated.id else None
        await fx.offer(app, offer, OFFER_MADE, {"status": app.status.value}, deadline=deadline, free_seats=free)
        return freed

    async def end_offer(
        self,
        fx: Effects,
        app: Application,
        offer: Offer,
        status: OfferStatus,
        reason: str | None,
        *,
        message: MessageKind | None = None,
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
        await fx.offer(app, offer, OFFER_ENDED[status], before, reason, message=message)
        return offer.group_id

    async def enroll(self, fx: Effects, app: Application, offer: Offer) -> list[int]:
        """The contract is signed: the child is enrolled in the offer's group from its start date. A child
        enrolled elsewhere (an upgrade) leaves that seat, which frees."""
        before = offer_snapshot(offer)
        offer.status = OfferStatus.ENROLLED
        await fx.uow.offers.save(offer, fx.now)
        freed: list[int] = []
        old = await fx.uow.offers.enrollment(app.child_iin, for_update=True)
        siblings = await fx.uow.persons.siblings(app.child_iin)
        if old is not None:
            await fx.uow.offers.end_enrollment(old.id, fx.now, "upgrade")
            await fx.uow.applications.set_sibling_priority(siblings, old.kindergarten_id, False)
            freed.append(old.group_id)
            await fx.vacancy(VacancyEventKind.SEAT_FREED, old.kindergarten_id, old.group_id)
        since = start_date(app, fx.now)
        await fx.uow.offers.enroll(
            Enrollment(0, app.child_iin, offer.group_id, offer.kindergarten_id, app.id, since), offer.id
        )
        moves = standing(app)
        app.enroll(offer.kindergarten_id, old.kindergarten_id if old is not None else None)
        await fx.uow.applications.save(app)
        fx.queue_moves(app, moves, "ENROLLED")
        await fx.uow.applications.set_sibling_priority(siblings, offer.kindergarten_id, True)
        await fx.offer(app, offer, ENROLLED, before)
        fx.publish(FeedEvent(ApplicationEventKind.STATUS_CHANGED, application_id=app.id))
        return freed
