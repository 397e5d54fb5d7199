"""Every side effect of a change, in one place: the audit record (docs/product.md §8), the message to the parent
(§7), the events for subscribers (docs/api.md §3) and the queue moves behind `positionChanges` (§3).

A use case changes aggregates, then tells `Effects` what happened; the tables below decide what follows
from it. Everything is written through the unit of work's journal, in the same transaction as the change.
Audit snapshots have one shape per aggregate (`*_snapshot`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from domain.feed import ApplicationEventKind, FeedEvent, OfferEventKind, VacancyEventKind
from domain.messages import MessageKind, MessageParams, render
from domain.model import (
    Actor,
    Application,
    ApplicationStatus,
    AuditRecord,
    Choice,
    ClaimStatus,
    Contract,
    Kindergarten,
    Language,
    Offer,
    OfferStatus,
    OutboxMessage,
    PriorityClaim,
)
from domain.queue_order import QueueKey, QueueOrder, queue_order, standing
from domain.repositories import QueueEvent, UnitOfWork
from domain.timezone import local_date

Snapshot = Mapping[str, object]


def application_snapshot(app: Application) -> dict[str, object]:
    return {"status": app.status.value, "tier": app.tier.value, "choices": app.ranking, "active": app.active}


def offer_snapshot(o: Offer) -> dict[str, object]:
    return {"status": o.status.value, "kindergartenId": o.kindergarten_id, "groupId": o.group_id, "tier": o.tier.value}


def claim_snapshot(claim: PriorityClaim) -> dict[str, object]:
    return {"category": claim.category.value, "status": claim.status.value, "evidenceId": claim.evidence_id}


@dataclass(frozen=True, slots=True)
class Follows:
    """What follows from one kind of change: the parent's message and the application's feed event."""

    message: MessageKind | None
    event: ApplicationEventKind | None


S = ApplicationEventKind
M = MessageKind

# Application actions (the audit action names) → message and feed event.
APPLICATION: dict[str, Follows] = {
    "SUBMITTED": Follows(M.POSITIONS_ASSIGNED, S.STATUS_CHANGED),
    "CHOICES_CHANGED": Follows(M.POSITIONS_CHANGED, S.CHOICES_CHANGED),
    "WITHDRAWN": Follows(M.APPLICATION_WITHDRAWN, S.STATUS_CHANGED),
    "CLOSED": Follows(M.APPLICATION_CLOSED, S.STATUS_CHANGED),
    "AGED_OUT": Follows(M.APPLICATION_AGED_OUT, S.STATUS_CHANGED),
    "INACTIVE": Follows(M.APPLICATION_INACTIVE, S.STATUS_CHANGED),
    "RESTORED": Follows(M.APPLICATION_RESTORED, S.STATUS_CHANGED),
    "TIER_CHANGED": Follows(None, S.POSITION_CHANGED),
    "CHOICES_DROPPED": Follows(None, S.CHOICES_CHANGED),
    "SIBLINGS_LINKED": Follows(None, None),
}

CLAIM_DECIDED: dict[ClaimStatus, MessageKind] = {
    ClaimStatus.VERIFIED: M.CLAIM_VERIFIED,
    ClaimStatus.REJECTED: M.CLAIM_REJECTED,
    ClaimStatus.EXPIRED: M.CLAIM_EXPIRED,
    ClaimStatus.REVOKED: M.CLAIM_REVOKED,
}

# The status an application leaves the queues with → its audit action (stop_waiting).
LEFT_QUEUE: dict[ApplicationStatus, str] = {
    ApplicationStatus.WITHDRAWN: "WITHDRAWN",
    ApplicationStatus.CLOSED: "CLOSED",
    ApplicationStatus.AGED_OUT: "AGED_OUT",
    ApplicationStatus.INACTIVE: "INACTIVE",
}


@dataclass(frozen=True, slots=True)
class OfferFollows:
    action: str  # the audit action, and the vacancy event's kind when there is one
    vacancy: VacancyEventKind | None
    offer_event: OfferEventKind | None
    message: MessageKind | None
    audited: bool = True  # a reminder changes nothing; an extension is the contract's record


V = VacancyEventKind
O = OfferEventKind  # noqa: E741

OFFER_MADE = OfferFollows("OFFER_MADE", V.OFFER_MADE, O.OFFERED, M.OFFER_MADE)
OFFER_CONFIRMED = OfferFollows("OFFER_CONFIRMED", V.OFFER_CONFIRMED, None, M.CONTRACT_READY)
ENROLLED = OfferFollows("ENROLLED", V.ENROLLED, None, M.ENROLLED)
REMINDER = OfferFollows("REMINDER", None, O.REMINDER, M.OFFER_REMINDER, audited=False)
CONTRACT_EXTENDED = OfferFollows("CONTRACT_EXTENDED", None, None, None, audited=False)

# How an offer ended → what follows. A lapse is told in one message: for an application that goes INACTIVE
# the message says so and how to restore it (see `lapse_message`).
OFFER_ENDED: dict[OfferStatus, OfferFollows] = {
    OfferStatus.SUPERSEDED: OfferFollows("OFFER_SUPERSEDED", V.OFFER_SUPERSEDED, O.SUPERSEDED, M.OFFER_SUPERSEDED),
    OfferStatus.CANCELLED: OfferFollows("OFFER_CANCELLED", V.OFFER_CANCELLED, O.CANCELLED, M.OFFER_CANCELLED),
    OfferStatus.DECLINED: OfferFollows("OFFER_DECLINED", V.OFFER_DECLINED, None, None),
    OfferStatus.LAPSED: OfferFollows("OFFER_LAPSED", V.OFFER_LAPSED, O.LAPSED, M.OFFER_LAPSED),
}


def lapse_message(offer: Offer, confirmed: bool) -> MessageKind:
    """The one message of a lapse: an upgrade costs only its choice; otherwise the application is INACTIVE
    and the message says how to restore it (an unsigned contract has its own)."""
    if offer.upgrade:
        return M.OFFER_LAPSED
    return M.CONTRACT_LAPSED if confirmed else M.APPLICATION_INACTIVE


# Groups queued by a change are allocated by the committing request itself right after its commit; other
# processes' dispatchers take them only once this grace has passed (or the committing process died).
ALLOCATION_GRACE = dt.timedelta(seconds=0.5)


class Effects:
    """The side effects of one use case run: who acts, when, and the unit of work they are written in."""

    def __init__(self, uow: UnitOfWork, actor: Actor, now: dt.datetime) -> None:
        self.uow = uow
        self.actor = actor
        self.now = now
        self.allocations: list[int] = []  # groups to allocate once the unit of work commits

    async def candidate(self, app: Application, until: dt.date) -> None:
        """The application may now be a candidate at its kindergartens: the groups it fits are share-locked
        until commit (no allocation of them chooses without seeing it) and those with a seat to offer (free
        today, or from a day up to `until`) queued."""
        self.allocate(
            await self.uow.allocation.lock_for_candidates(
                app.ranking, app.birth_year, app.language.value, app.group_type.value, local_date(self.now), until
            )
        )

    def allocate(self, group_ids: list[int]) -> None:
        """These groups may have a free seat and a candidate for it (a seat freed, a child became a candidate):
        queued with the change, and allocated right after it commits (domain/usecases/allocator.py)."""
        new = [g for g in group_ids if g not in self.allocations]
        self.allocations += new
        self.uow.journal.allocate(new, self.now + ALLOCATION_GRACE)

    # --- applications -------------------------------------------------------------------------

    async def application(
        self,
        app: Application,
        action: str,
        before: Snapshot | None,
        reason: str | None = None,
        *,
        positions: dict[int, int | None] | None = None,
        message: bool = True,
    ) -> None:
        follows = APPLICATION[action]
        self.record("application", app.id, action, before, application_snapshot(app), reason, app.id)
        if follows.message is not None and message:
            await self.message(app, follows.message, positions=positions)
        if follows.event is not None:
            self.publish(FeedEvent(follows.event, application_id=app.id))

    async def left_queue(
        self,
        app: Application,
        status: ApplicationStatus,
        before: Snapshot,
        reason: str | None,
        *,
        message: bool = True,
    ) -> None:
        """After `Application.stop_waiting(status)`: the one record of leaving the queues."""
        await self.application(app, LEFT_QUEUE[status], before, reason, message=message)

    def queue_moves(
        self, app: Application, before: dict[QueueKey, QueueOrder], reason: str, joined_reason: str | None = None
    ) -> None:
        """Choices that left (-1) or joined (+1) a queue since `before` (`queue_order.standing`), so that those
        behind them can read what moved their position."""
        after = standing(app)
        left = [(k, o) for k, o in before.items() if after.get(k) != o]
        joined = [(k, o) for k, o in after.items() if before.get(k) != o]
        events = [QueueEvent(k, o, -1, reason) for k, o in sorted(left, key=_by_kindergarten)] + [
            QueueEvent(k, o, +1, joined_reason or reason) for k, o in sorted(joined, key=_by_kindergarten)
        ]
        if events:
            self.uow.journal.queue_events(app.id, events, self.now)

    def own_moves(
        self, app: Application, before: dict[int, int | None], after: dict[int, int | None], reason: str
    ) -> None:
        """The application's own position changes (its tier or its choices changed)."""
        events = [
            QueueEvent(
                QueueKey(kg, app.birth_year, app.language, app.group_type),
                queue_order(app.tier, False, app.queue_date, app.id),
                0,
                reason,
                own_delta=pos - old,
            )
            for kg, pos in after.items()
            if pos is not None and (old := before.get(kg)) is not None and pos != old
        ]
        if events:
            self.uow.journal.queue_events(app.id, events, self.now)

    # --- claims -------------------------------------------------------------------------------

    async def claim_found(self, app: Application, claim: PriorityClaim, *, tell: bool) -> None:
        """A category the registry reported, recorded as a claim; `tell`: the parent hears it is verified."""
        self.record("claim", claim.id, "CLAIM_FOUND", None, claim_snapshot(claim), None, app.id)
        if tell:
            await self.message(app, CLAIM_DECIDED[claim.status], claim=claim)

    async def claim_decided(self, app: Application, claim: PriorityClaim, before: Snapshot, note: str | None) -> None:
        self.record("claim", claim.id, f"CLAIM_{claim.status.value}", before, claim_snapshot(claim), note, app.id)
        await self.message(app, CLAIM_DECIDED[claim.status], claim=claim)
        self.publish(FeedEvent(S.CLAIM_CHANGED, application_id=app.id))

    # --- offers -------------------------------------------------------------------------------

    async def offer(
        self,
        app: Application,
        offer: Offer,
        follows: OfferFollows,
        before: Snapshot | None,
        reason: str | None = None,
        *,
        message: MessageKind | None = None,
        deadline: dt.datetime | None = None,
        free_seats: int | None = None,
        tell: bool = True,
    ) -> None:
        """An offer made, confirmed, ended, enrolled or reminded of: audit, message, feed events (`free_seats`:
        the group's after the change, when the caller knows them; `message`: another kind than the table's;
        `tell` False: the caller tells the parent itself)."""
        if follows.audited:
            self.record("offer", offer.id, follows.action, before, offer_snapshot(offer), reason, app.id)
        kind = message or follows.message
        if kind is not None and tell:
            kindergarten = await self.uow.places.kindergarten(offer.kindergarten_id)
            await self.message(app, kind, kindergarten=kindergarten, deadline=deadline, starts_on=offer.starts_on)
        if follows is not REMINDER:
            self.publish(FeedEvent(S.OFFER_CHANGED, application_id=app.id, offer_id=offer.id))
        if follows.vacancy is not None:
            await self.vacancy(follows.vacancy, offer.kindergarten_id, offer.group_id, offer.id, free_seats)
        if follows.offer_event is not None:
            self.publish(
                FeedEvent(follows.offer_event, offer_id=offer.id, application_id=app.id, child_iin=app.child_iin)
            )

    def contract(self, app: Application, contract: Contract, action: str, before: Snapshot | None) -> None:
        after = {"documentHash": contract.document_hash, "signBy": contract.sign_by.isoformat()}
        self.record("contract", contract.id, action, before, after, None, app.id)

    # --- places and enrolments ----------------------------------------------------------------

    async def vacancy(
        self,
        kind: VacancyEventKind,
        kindergarten_id: int,
        group_id: int,
        offer_id: int | None = None,
        free_seats: int | None = None,
    ) -> None:
        """A seat event for the dashboards, with the group's free seats after the change (read when the caller
        does not know them)."""
        if free_seats is None:
            group = await self.uow.places.group(group_id)
            free_seats = group.free_seats if group else None
        self.publish(
            FeedEvent(
                kind, kindergarten_id=kindergarten_id, group_id=group_id, free_seats=free_seats, offer_id=offer_id
            )
        )

    def record(
        self,
        entity: str,
        entity_id: int,
        action: str,
        before: Snapshot | None,
        after: Snapshot | None,
        reason: str | None = None,
        application_id: int | None = None,
    ) -> None:
        """The audit record of a change: who, what, when, before and after, why (docs/product.md §8)."""
        self.uow.journal.audit(
            self.actor, AuditRecord(entity, str(entity_id), action, before, after, reason, application_id), self.now
        )

    # --- the journal ----------------------------------------------------------------------------

    async def message(
        self,
        app: Application,
        kind: MessageKind,
        *,
        positions: dict[int, int | None] | None = None,
        claim: PriorityClaim | None = None,
        kindergarten: Kindergarten | None = None,
        deadline: dt.datetime | None = None,
        starts_on: dt.date | None = None,
        numbers: list[str] | None = None,
    ) -> None:
        """An SMS to the application's phone, in the parent's language (none without a phone); `numbers`: the
        family's applications it tells of at once."""
        if not app.phone:
            return
        language = app.notification_language
        params = MessageParams(
            application_number=", ".join(numbers) if numbers else app.number,
            count=len(numbers) if numbers else None,
            positions=tuple((c.rank, positions.get(c.kindergarten_id)) for c in sorted(app.choices, key=_rank))
            if positions is not None
            else (),
            category=claim.category if claim else None,
            kindergarten_name=(
                (kindergarten.name_kk if language == Language.KK else kindergarten.name_ru) if kindergarten else None
            ),
            deadline=deadline,
            starts_on=starts_on,
        )
        self.uow.journal.message(
            OutboxMessage(app.phone, render(kind, language, params), language, kind.value, app.id), self.now
        )

    def publish(self, event: FeedEvent) -> None:
        self.uow.journal.publish(event, self.now)


def _by_kindergarten(entry: tuple[QueueKey, QueueOrder]) -> int:
    return entry[0].kindergarten_id


def _rank(c: Choice) -> int:
    return c.rank
