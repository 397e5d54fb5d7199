"""Stage 2 (PRODUCT §4–§5): allocating free seats, the life of an offer, contracts and enrolments.

Mixed into QueueService; every method runs inside the caller's unit of work, after the caller took the
allocation lock, so a seat freed by a change is offered in the same transaction as that change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable

from domain import allocation
from domain.messages import MessageKind
from domain.model import (
    Actor,
    Application,
    ApplicationStatus,
    AuditRecord,
    EventStream,
    FeedEvent,
    Group,
    Kindergarten,
    Offer,
    OfferStatus,
    PriorityClaim,
    PriorityTier,
    QueueOrder,
)
from domain.policy import ALMATY, Policy, PolicyBook
from domain.ports import Clock, HolidayCalendar
from domain.repositories import UnitOfWork

PAGE = 50
_TIERS = (PriorityTier.EXTRAORDINARY, PriorityTier.PRIMARY, PriorityTier.GENERAL)
_END_KIND = {
    OfferStatus.SUPERSEDED: ("OFFER_SUPERSEDED", "SUPERSEDED", MessageKind.OFFER_SUPERSEDED),
    OfferStatus.CANCELLED: ("OFFER_CANCELLED", "CANCELLED", MessageKind.OFFER_CANCELLED),
    OfferStatus.DECLINED: ("OFFER_DECLINED", None, None),
    OfferStatus.LAPSED: ("OFFER_LAPSED", "LAPSED", MessageKind.OFFER_LAPSED),
}


def offer_snapshot(o: Offer) -> dict[str, object]:
    return {"status": o.status.value, "kindergartenId": o.kindergarten_id, "groupId": o.group_id, "tier": o.tier.value}


def remind_at(start: dt.datetime, deadline: dt.datetime) -> dt.datetime:
    """24 hours before the deadline; halfway through windows shorter than 48 hours (PRODUCT §4)."""
    if deadline - start < dt.timedelta(hours=48):
        return start + (deadline - start) / 2
    return deadline - dt.timedelta(hours=24)


class SeatsMixin:
    _uow: Callable[[], UnitOfWork]
    _clock: Clock
    _calendar: HolidayCalendar
    _policies: PolicyBook

    # Provided by QueueService.
    async def _notify(
        self,
        uow: UnitOfWork,
        app: Application,
        kind: MessageKind,
        now: dt.datetime,
        positions: dict[int, int | None] | None = None,
        category: PriorityClaim | None = None,
        kindergarten: Kindergarten | None = None,
        deadline: dt.datetime | None = None,
    ) -> None:
        raise NotImplementedError

    async def _queue_moves(
        self, uow: UnitOfWork, app: Application, left: set[int], joined: set[int], now: dt.datetime, reason: str
    ) -> None:
        raise NotImplementedError

    # --- allocation -----------------------------------------------------------------------------

    async def _allocate(self, uow: UnitOfWork, group_ids: Iterable[int], now: dt.datetime) -> int:
        """Fills free seats of these groups one at a time; each chain of supersedes finishes first."""
        stack = sorted(set(group_ids), reverse=True)
        offers = 0
        while stack:
            gid = stack.pop()
            group = await uow.places.group(gid, for_update=True)
            if group is None or group.free_seats <= 0:
                continue
            kg = (await uow.places.kindergartens([group.kindergarten_id]))[group.kindergarten_id]
            policy = self._policies.for_region(kg.region_code)
            pick = await self._pick(uow, group, policy, now.astimezone(ALMATY).date())
            if pick is None:
                continue
            freed = await self._offer_seats(uow, pick, group, kg, policy, now)
            offers += 1
            stack.append(gid)
            stack.extend(freed)
        return offers

    async def _pick(self, uow: UnitOfWork, group: Group, policy: Policy, today: dt.date) -> allocation.Candidate | None:
        made = await uow.seats.offers_made(group.id) if policy.primary_ratio else (0, 0)
        firsts = []
        for tier in _TIERS:
            first = await self._first_eligible(uow, group, tier, policy, today)
            if first is not None:
                firsts.append(first)
        return allocation.choose(firsts, today, policy.min_admission_age_months, policy.primary_ratio, *made)

    async def _first_eligible(
        self, uow: UnitOfWork, group: Group, tier: PriorityTier, policy: Policy, today: dt.date
    ) -> allocation.Candidate | None:
        after: QueueOrder | None = None
        while True:
            page = await uow.seats.candidates(group, tier, after, PAGE)
            for c in page:
                if not allocation.eligible(c, today, policy.min_admission_age_months):
                    continue
                # A sibling group is seated together or not at all; a lone seat goes on to the next child.
                if c.sibling_group_id is not None and not await self._seats_for_siblings(uow, c, group, today, policy):
                    continue
                return c
            if len(page) < PAGE:
                return None
            after = page[-1].order

    async def _sibling_plan(self, uow: UnitOfWork, sibling_group_id: int, group: Group) -> dict[int, int] | None:
        """Application → group at this kindergarten, a free fitting seat for every waiting member, or None."""
        members = await uow.seats.sibling_group_members(sibling_group_id)
        free: dict[int, int] = {}
        plan: dict[int, int] = {}
        for app_id in members:
            app = await uow.applications.get(app_id)
            if app is None:
                return None
            for g in await uow.seats.fitting_groups(
                group.kindergarten_id, app.birth_year, app.language, app.group_type.value
            ):
                free.setdefault(g.id, g.free_seats)
                if free[g.id] > 0:
                    free[g.id] -= 1
                    plan[app_id] = g.id
                    break
            else:
                return None
        return plan

    async def _seats_for_siblings(
        self, uow: UnitOfWork, c: allocation.Candidate, group: Group, today: dt.date, policy: Policy
    ) -> bool:
        assert c.sibling_group_id is not None
        return await self._sibling_plan(uow, c.sibling_group_id, group) is not None

    async def _offer_seats(
        self,
        uow: UnitOfWork,
        pick: allocation.Candidate,
        group: Group,
        kg: Kindergarten,
        policy: Policy,
        now: dt.datetime,
    ) -> list[int]:
        if pick.sibling_group_id is None:
            return await self._offer_one(uow, pick.application_id, group.id, kg, policy, now, None)
        plan = await self._sibling_plan(uow, pick.sibling_group_id, group)
        assert plan is not None
        freed: list[int] = []
        for app_id, gid in plan.items():
            freed += await self._offer_one(uow, app_id, gid, kg, policy, now, pick.sibling_group_id)
        return freed

    async def _offer_one(
        self,
        uow: UnitOfWork,
        app_id: int,
        group_id: int,
        kg: Kindergarten,
        policy: Policy,
        now: dt.datetime,
        sibling_group_id: int | None,
    ) -> list[int]:
        app = await uow.applications.get(app_id, for_update=True)
        assert app is not None
        freed: list[int] = []
        live = await uow.seats.live_offer(app.id, for_update=True)
        if live is not None:
            # One live offer per child: the better one supersedes it (a confirmed one's contract is void).
            freed.append(await self._end_offer(uow, None, app, live, OfferStatus.SUPERSEDED, now, "a better offer"))
        deadline = policy.response_window.end(now, self._calendar)
        offer = Offer(
            id=0,
            application_id=app.id,
            child_iin=app.child_iin,
            kindergarten_id=kg.id,
            group_id=group_id,
            status=OfferStatus.PENDING,
            tier=app.tier,
            upgrade=app.status == ApplicationStatus.ENROLLED,
            created_at=now,
            respond_by=deadline,
            sibling_group_id=sibling_group_id,
            remind_at=remind_at(now, deadline),
        )
        offer.id = await uow.seats.add_offer(offer)
        before = {"status": app.status.value}
        app.choices = [dataclasses.replace(c, held_here=True) if c.kindergarten_id == kg.id else c for c in app.choices]
        if not offer.upgrade:
            app.status = ApplicationStatus.OFFERED
        await uow.applications.save(app)
        await self._queue_moves(uow, app, {kg.id}, set(), now, "OFFERED")
        await uow.journal.audit(
            _system(),
            AuditRecord("offer", str(offer.id), "OFFER_MADE", before, offer_snapshot(offer), None, app.id),
            now,
        )
        await self._notify(uow, app, MessageKind.OFFER_MADE, now, kindergarten=kg, deadline=deadline)
        await self._publish_offer(uow, offer, "OFFER_MADE", "OFFERED", now)
        return freed

    async def _publish_offer(
        self, uow: UnitOfWork, offer: Offer, vacancy_kind: str | None, offer_kind: str | None, now: dt.datetime
    ) -> None:
        group = await uow.places.group(offer.group_id)
        events = [
            FeedEvent(EventStream.APPLICATION, "OFFER_CHANGED", application_id=offer.application_id, offer_id=offer.id)
        ]
        if vacancy_kind:
            events.append(
                FeedEvent(
                    EventStream.VACANCY,
                    vacancy_kind,
                    kindergarten_id=offer.kindergarten_id,
                    group_id=offer.group_id,
                    free_seats=group.free_seats if group else None,
                    offer_id=offer.id,
                )
            )
        if offer_kind:
            events.append(
                FeedEvent(
                    EventStream.OFFER,
                    offer_kind,
                    offer_id=offer.id,
                    application_id=offer.application_id,
                    child_iin=offer.child_iin,
                )
            )
        await uow.seats.publish(events, now)

    async def _vacancy(
        self,
        uow: UnitOfWork,
        kind: str,
        kindergarten_id: int,
        group_id: int,
        now: dt.datetime,
        offer_id: int | None = None,
    ) -> None:
        """A seat event for the dashboards, with the group's free seats after the change."""
        group = await uow.places.group(group_id)
        event = FeedEvent(
            EventStream.VACANCY,
            kind,
            kindergarten_id=kindergarten_id,
            group_id=group_id,
            free_seats=group.free_seats if group else None,
            offer_id=offer_id,
        )
        await uow.seats.publish([event], now)

    async def _end_offer(
        self,
        uow: UnitOfWork,
        actor: Actor | None,
        app: Application,
        offer: Offer,
        status: OfferStatus,
        now: dt.datetime,
        reason: str | None,
        message_kind: MessageKind | None = None,
    ) -> int:
        """Ends a live offer; its choice stands in the queue again. Returns the group whose seat freed."""
        before = offer_snapshot(offer)
        offer.status = status
        await uow.seats.set_offer(offer, now)
        app.choices = [
            dataclasses.replace(c, held_here=False) if c.kindergarten_id == offer.kindergarten_id else c
            for c in app.choices
        ]
        enrolled = await uow.seats.enrollment(app.child_iin)
        if app.status in (ApplicationStatus.OFFERED, ApplicationStatus.ENROLLING):
            app.status = (
                ApplicationStatus.ENROLLED
                if enrolled and enrolled.application_id == app.id
                else ApplicationStatus.QUEUED
            )
        await uow.applications.save(app)
        if app.in_queue:
            await self._queue_moves(uow, app, set(), {offer.kindergarten_id}, now, "OFFER_ENDED")
        vacancy_kind, offer_kind, message = _END_KIND[status]
        message = message_kind or message
        await uow.journal.audit(
            actor or _system(),
            AuditRecord("offer", str(offer.id), vacancy_kind, before, offer_snapshot(offer), reason, app.id),
            now,
        )
        if message is not None:
            kg = (await uow.places.kindergartens([offer.kindergarten_id]))[offer.kindergarten_id]
            await self._notify(uow, app, message, now, kindergarten=kg)
        await self._publish_offer(uow, offer, vacancy_kind, offer_kind, now)
        return offer.group_id


def _system() -> Actor:
    from domain.model import SYSTEM

    return SYSTEM
