"""Use cases of stage 2: answering offers, contracts, enrolment, leaving, restoring, sibling groups."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from domain import access, rules
from domain import iin as iin_rules
from domain.contracts import contract_text, document_hash
from domain.errors import DomainError
from domain.messages import MessageKind
from domain.model import (
    SYSTEM,
    Actor,
    Application,
    ApplicationStatus,
    AuditRecord,
    Contract,
    Enrollment,
    ErrorCode,
    EventStream,
    FeedEvent,
    HealthDocumentRecord,
    Offer,
    OfferStatus,
    Role,
)
from domain.policy import ALMATY, DeclineEffect
from domain.ports import ESignature, HealthRegistry
from domain.repositories import UnitOfWork
from domain.seats import SeatsMixin, offer_snapshot, remind_at

REQUIRED_DOCUMENTS = ("VACCINATION_CARD", "MEDICAL_RECORD")


def _snap(app: Application) -> dict[str, object]:
    return {"status": app.status.value, "active": app.active, "choices": [c.kindergarten_id for c in app.choices]}


class OffersMixin(SeatsMixin):
    _health: HealthRegistry
    _esign: ESignature

    async def refresh_family(self, representative_iin: str) -> None:  # provided by QueueService
        raise NotImplementedError

    async def _owned_offer(self, uow: UnitOfWork, actor: Actor, offer_id: str) -> tuple[Offer, Application]:
        oid = rules.object_id(offer_id)
        offer = await uow.seats.offer(oid, for_update=True) if oid else None
        app = await uow.applications.get(offer.application_id, for_update=True) if offer else None
        if offer is None or app is None or not access.is_owner(actor, await uow.persons.representatives(app.child_iin)):
            raise access.not_found("offer", "offerId")
        return offer, app

    async def _group_offers(self, uow: UnitOfWork, offer: Offer) -> list[Offer]:
        """A sibling group's offers act together: confirming or declining one acts on all."""
        if offer.sibling_group_id is None:
            return [offer]
        return await uow.seats.sibling_offers(offer.sibling_group_id) or [offer]

    @staticmethod
    def _check_live(offer: Offer, wanted: OfferStatus, now: dt.datetime) -> None:
        if offer.status != wanted:
            raise DomainError(ErrorCode.INVALID_STATE, f"the offer is {offer.status.value}", "offerId")
        if now > offer.respond_by:
            raise DomainError(ErrorCode.DEADLINE_PASSED, "the deadline has passed", "offerId")

    # --- confirm, decline -----------------------------------------------------------------------

    async def confirm_offer(self, actor: Actor, offer_id: str) -> Offer:
        access.forbid_unless(actor, Role.CITIZEN)
        now = self._clock.now()
        # Read first, then ask the health registry outside the transaction: down means nothing written.
        async with self._uow() as uow:
            offer, _ = await self._owned_offer(uow, actor, offer_id)
            self._check_live(offer, OfferStatus.PENDING, now)
            group_offers = await self._group_offers(uow, offer)
        documents = {o.child_iin: await self._health.documents(o.child_iin) for o in group_offers}
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            offer, app = await self._owned_offer(uow, actor, offer_id)
            self._check_live(offer, OfferStatus.PENDING, now)
            for o in await self._group_offers(uow, offer):
                member = (
                    app if o.application_id == app.id else await uow.applications.get(o.application_id, for_update=True)
                )
                assert member is not None
                self._check_live(o, OfferStatus.PENDING, now)
                await self._issue_contract(uow, actor, member, o, documents.get(o.child_iin, []), now)
            await uow.commit()
        return offer

    async def _issue_contract(
        self, uow: UnitOfWork, actor: Actor, app: Application, offer: Offer, docs: Sequence[object], now: dt.datetime
    ) -> None:
        kg = (await uow.places.kindergartens([offer.kindergarten_id]))[offer.kindergarten_id]
        group = await uow.places.group(offer.group_id)
        child = await uow.persons.get(app.child_iin)
        assert group is not None and child is not None
        policy = self._policies.for_region(kg.region_code)
        sign_by = policy.contract_window.end(now, self._calendar)
        start = max(app.desired_start_date, now.astimezone(ALMATY).date())
        text = contract_text(app.notification_language, child, kg, group, start, now, sign_by, offer.id, app.number)
        records = [HealthDocumentRecord(d.kind, d.document_id, d.issued_on) for d in docs]  # type: ignore[attr-defined]
        kinds = {d.kind for d in records}
        contract = Contract(
            id=0,
            offer_id=offer.id,
            text=text,
            document_hash=document_hash(text),
            language=app.notification_language,
            issued_at=now,
            sign_by=sign_by,
            signed_at=None,
            extended=False,
            health_documents=records,
            missing_documents=[k for k in REQUIRED_DOCUMENTS if k not in kinds],
        )
        contract.id = await uow.seats.add_contract(contract)
        before = offer_snapshot(offer)
        offer.status = OfferStatus.CONFIRMED
        offer.respond_by = sign_by
        offer.remind_at = remind_at(now, sign_by)
        await uow.seats.set_offer(offer, now)
        if not offer.upgrade:
            app.status = ApplicationStatus.ENROLLING
            await uow.applications.save(app)
        await uow.journal.audit(
            actor,
            AuditRecord("offer", str(offer.id), "OFFER_CONFIRMED", before, offer_snapshot(offer), None, app.id),
            now,
        )
        await uow.journal.audit(
            actor,
            AuditRecord(
                "contract",
                str(contract.id),
                "CONTRACT_ISSUED",
                None,
                {"documentHash": contract.document_hash},
                None,
                app.id,
            ),
            now,
        )
        await self._notify(uow, app, MessageKind.CONTRACT_READY, now, kindergarten=kg, deadline=sign_by)
        await self._publish_offer(uow, offer, "OFFER_CONFIRMED", None, now)

    async def decline_offer(self, actor: Actor, offer_id: str) -> Offer:
        access.forbid_unless(actor, Role.CITIZEN)
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            offer, app = await self._owned_offer(uow, actor, offer_id)
            if not offer.live:
                raise DomainError(ErrorCode.INVALID_STATE, f"the offer is {offer.status.value}", "offerId")
            freed = []
            for o in await self._group_offers(uow, offer):
                member = (
                    app if o.application_id == app.id else await uow.applications.get(o.application_id, for_update=True)
                )
                assert member is not None
                freed.append(await self._decline(uow, actor, member, o, now))
            await self._allocate(uow, freed, now)
            await uow.commit()
        return offer

    async def _decline(self, uow: UnitOfWork, actor: Actor, app: Application, offer: Offer, now: dt.datetime) -> int:
        gid = await self._end_offer(uow, actor, app, offer, OfferStatus.DECLINED, now, "declined by the parent")
        policy = self._policies.for_region(
            (await uow.places.kindergartens([offer.kindergarten_id]))[offer.kindergarten_id].region_code
        )
        before = _snap(app)
        if offer.upgrade or policy.decline_effect == DeclineEffect.DROP_CHOICE:
            await self._drop_choices(uow, app, {offer.kindergarten_id}, now, "DECLINED")
            if not offer.upgrade and not app.choices:
                await self._close(uow, actor, app, ApplicationStatus.CLOSED, now, "no choice left")
        else:
            await self._close(uow, actor, app, ApplicationStatus.CLOSED, now, "declined (annul policy)")
        await uow.journal.audit(
            actor, AuditRecord("application", str(app.id), "OFFER_DECLINED", before, _snap(app), None, app.id), now
        )
        return gid

    async def _drop_choices(
        self, uow: UnitOfWork, app: Application, kgs: set[int], now: dt.datetime, reason: str
    ) -> None:
        standing = {c.kindergarten_id for c in app.choices if c.kindergarten_id in kgs and not c.held_here}
        kept = [c for c in app.choices if c.kindergarten_id not in kgs]
        app.choices = [dataclasses.replace(c, rank=n) for n, c in enumerate(kept, start=1)]
        await uow.applications.save(app)
        if app.in_queue:
            await self._queue_moves(uow, app, standing, set(), now, reason)
        self._refresh_activity(app)
        await uow.applications.save(app)

    @staticmethod
    def _refresh_activity(app: Application) -> None:
        """An ENROLLED application stays active only while it waits for a choice ranked above the enrolment."""
        if app.status == ApplicationStatus.ENROLLED:
            held = [c.rank for c in app.choices if c.held_here]
            app.active = (bool(held) and min(held) > 1) or (not held and bool(app.choices))

    async def _close(
        self, uow: UnitOfWork, actor: Actor, app: Application, status: ApplicationStatus, now: dt.datetime, reason: str
    ) -> None:
        standing = {c.kindergarten_id for c in app.choices if not c.held_here} if app.in_queue else set()
        before = _snap(app)
        app.status = status
        app.active = status == ApplicationStatus.INACTIVE  # INACTIVE is kept: out of every queue, restorable
        await uow.applications.save(app)
        await self._queue_moves(uow, app, standing, set(), now, "LEFT_QUEUE")
        await uow.journal.audit(
            actor, AuditRecord("application", str(app.id), status.value, before, _snap(app), reason, app.id), now
        )
        kind = {
            ApplicationStatus.CLOSED: MessageKind.APPLICATION_CLOSED,
            ApplicationStatus.AGED_OUT: MessageKind.APPLICATION_AGED_OUT,
            ApplicationStatus.INACTIVE: MessageKind.APPLICATION_INACTIVE,
        }.get(status)
        if kind is not None:
            await self._notify(uow, app, kind, now)
        await uow.seats.publish([FeedEvent(EventStream.APPLICATION, "STATUS_CHANGED", application_id=app.id)], now)

    # --- contracts ------------------------------------------------------------------------------

    async def extend_contract(self, actor: Actor, offer_id: str) -> Offer:
        access.forbid_unless(actor, Role.CITIZEN)
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            offer, app = await self._owned_offer(uow, actor, offer_id)
            self._check_live(offer, OfferStatus.CONFIRMED, now)
            contract = await uow.seats.contract_for_offer(offer.id)
            assert contract is not None
            if contract.extended:
                raise DomainError(ErrorCode.INVALID_STATE, "the contract was already extended once", "offerId")
            kg = (await uow.places.kindergartens([offer.kindergarten_id]))[offer.kindergarten_id]
            policy = self._policies.for_region(kg.region_code)
            new_deadline = policy.extension.end(contract.issued_at, self._calendar)
            if new_deadline <= contract.sign_by:
                raise DomainError(ErrorCode.INVALID_STATE, "an extension would not add time", "offerId")
            before = {"signBy": contract.sign_by.isoformat()}
            contract.sign_by = new_deadline
            contract.extended = True
            await uow.seats.save_contract(contract)
            offer.respond_by = new_deadline
            offer.remind_at = remind_at(now, new_deadline)
            await uow.seats.set_offer(offer, now)
            await uow.journal.audit(
                actor,
                AuditRecord(
                    "contract",
                    str(contract.id),
                    "CONTRACT_EXTENDED",
                    before,
                    {"signBy": new_deadline.isoformat()},
                    None,
                    app.id,
                ),
                now,
            )
            await self._publish_offer(uow, offer, None, None, now)
            await uow.commit()
        return offer

    async def sign_contract(self, actor: Actor, contract_id: str, signature: str) -> Offer:
        access.forbid_unless(actor, Role.CITIZEN)
        assert actor.subject is not None
        now = self._clock.now()
        cid = rules.object_id(contract_id)
        async with self._uow() as uow:
            contract = await uow.seats.contract(cid) if cid else None
            if contract is None:
                raise access.not_found("contract", "contractId")
            try:
                offer, _ = await self._owned_offer(uow, actor, str(contract.offer_id))
            except DomainError:  # another family's contract is answered exactly as a missing one
                raise access.not_found("contract", "contractId") from None
            self._check_live(offer, OfferStatus.CONFIRMED, now)
        # The e-signature service is asked outside the transaction: down means nothing written.
        if not await self._esign.verify(actor.subject, contract.document_hash, signature.strip()):
            raise DomainError(ErrorCode.INVALID_SIGNATURE, "the signature does not match the contract", "signature")
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            offer, app = await self._owned_offer(uow, actor, str(contract.offer_id))
            self._check_live(offer, OfferStatus.CONFIRMED, now)
            contract.signed_at = now
            await uow.seats.save_contract(contract)
            freed = await self._enroll(uow, actor, app, offer, now)
            await self._allocate(uow, freed, now)
            await uow.commit()
        return offer

    async def _enroll(
        self, uow: UnitOfWork, actor: Actor, app: Application, offer: Offer, now: dt.datetime
    ) -> list[int]:
        before = offer_snapshot(offer)
        offer.status = OfferStatus.ENROLLED
        await uow.seats.set_offer(offer, now)
        freed: list[int] = []
        old = await uow.seats.enrollment(app.child_iin, for_update=True)
        if old is not None:
            await uow.seats.end_enrollment(old.id, now, "upgrade")
            await uow.seats.set_sibling_priority(await self._siblings(uow, app.child_iin), old.kindergarten_id, False)
            freed.append(old.group_id)
            await self._vacancy(uow, "SEAT_FREED", old.kindergarten_id, old.group_id, now)
        since = max(app.desired_start_date, now.astimezone(ALMATY).date())
        await uow.seats.enroll(
            Enrollment(0, app.child_iin, offer.group_id, offer.kindergarten_id, app.id, since), offer.id
        )
        # Choices ranked below the enrolment are dropped and cannot be added back.
        enrolled_rank = next(c.rank for c in app.choices if c.kindergarten_id == offer.kindergarten_id)
        below = {c.kindergarten_id for c in app.choices if c.rank > enrolled_rank}
        if old is not None:
            below.add(old.kindergarten_id)
        app.dropped_kindergartens = sorted(set(app.dropped_kindergartens) | below)
        app.status = ApplicationStatus.ENROLLED
        await self._drop_choices(uow, app, below, now, "ENROLLED")
        app.choices = [
            dataclasses.replace(c, held_here=c.kindergarten_id == offer.kindergarten_id) for c in app.choices
        ]
        self._refresh_activity(app)
        await uow.applications.save(app)
        if app.sibling_group_id is not None:
            app.sibling_group_id = None  # an enrolled member leaves its sibling group
            await uow.applications.save(app)
        await uow.seats.set_sibling_priority(await self._siblings(uow, app.child_iin), offer.kindergarten_id, True)
        kg = (await uow.places.kindergartens([offer.kindergarten_id]))[offer.kindergarten_id]
        await uow.journal.audit(
            actor, AuditRecord("offer", str(offer.id), "ENROLLED", before, offer_snapshot(offer), None, app.id), now
        )
        await self._notify(uow, app, MessageKind.ENROLLED, now, kindergarten=kg)
        await self._publish_offer(uow, offer, "ENROLLED", None, now)
        await uow.seats.publish([FeedEvent(EventStream.APPLICATION, "STATUS_CHANGED", application_id=app.id)], now)
        return freed

    async def _siblings(self, uow: UnitOfWork, child_iin: str) -> list[str]:
        reps = await uow.persons.representatives(child_iin)
        return [c for c in await uow.persons.children_of_all(reps) if c != child_iin]

    # --- leaving, restoring ---------------------------------------------------------------------

    async def leave_kindergarten(self, actor: Actor, child_iin: str, reason: str | None) -> str:
        access.forbid_unless(actor, Role.CITIZEN, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
        child_iin = child_iin.strip()
        if not iin_rules.is_valid(child_iin):
            raise DomainError(ErrorCode.INVALID_IIN, "IIN is not valid", "childIin")
        if actor.role != Role.CITIZEN and not (reason and reason.strip()):
            raise DomainError(ErrorCode.INVALID_INPUT, "staff and operators must give a reason", "reason")
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            enrollment = await uow.seats.enrollment(child_iin, for_update=True)
            kg = (
                (await uow.places.kindergartens([enrollment.kindergarten_id])).get(enrollment.kindergarten_id)
                if enrollment
                else None
            )
            allowed = (
                enrollment is not None
                and kg is not None
                and (
                    access.is_owner(actor, await uow.persons.representatives(child_iin))
                    or access.can_manage_kindergarten(actor, kg.external_id, kg.region_code, kg.district_code)
                )
            )
            if not allowed or enrollment is None or kg is None:
                raise access.not_found("enrolment", "childIin")
            await uow.seats.end_enrollment(enrollment.id, now, reason or "left")
            await uow.seats.set_sibling_priority(await self._siblings(uow, child_iin), kg.id, False)
            await uow.journal.audit(
                actor,
                AuditRecord(
                    "enrollment",
                    str(enrollment.id),
                    "LEFT",
                    {"groupId": enrollment.group_id},
                    None,
                    reason,
                    enrollment.application_id,
                ),
                now,
            )
            app = await uow.applications.active_for_child(child_iin)
            if app is None and enrollment.application_id is not None:
                app = await uow.applications.get(enrollment.application_id, for_update=True)
            if app is not None and not app.status.final:
                live = await uow.seats.live_offer(app.id, for_update=True)
                freed = (
                    [await self._end_offer(uow, actor, app, live, OfferStatus.CANCELLED, now, "left the kindergarten")]
                    if live
                    else []
                )
                await self._close(uow, actor, app, ApplicationStatus.CLOSED, now, "left the kindergarten")
            else:
                freed = []
            await self._vacancy(uow, "LEFT", kg.id, enrollment.group_id, now)
            await self._allocate(uow, [enrollment.group_id, *freed], now)
            await uow.commit()
        return child_iin

    async def restore_application(self, actor: Actor, application_id: str) -> Application:
        access.forbid_unless(actor, Role.CITIZEN)
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            app_id = rules.object_id(application_id)
            app = await uow.applications.get(app_id, for_update=True) if app_id else None
            if app is None or not access.is_owner(actor, await uow.persons.representatives(app.child_iin)):
                raise access.not_found("application", "applicationId")
            if app.status != ApplicationStatus.INACTIVE:
                raise DomainError(ErrorCode.INVALID_STATE, f"the application is {app.status.value}", "applicationId")
            if app.restored:
                raise DomainError(ErrorCode.INVALID_STATE, "the application was already restored once", "applicationId")
            policy = self._policies.for_region(app.region_code)
            assert app.inactive_since is not None
            if now > policy.restore_window.end(app.inactive_since, self._calendar):
                raise DomainError(ErrorCode.DEADLINE_PASSED, "the restore window has passed", "applicationId")
            before = _snap(app)
            app.status = ApplicationStatus.QUEUED
            app.restored = True
            app.inactive_since = None
            await uow.applications.save(app)
            await self._queue_moves(uow, app, set(), {c.kindergarten_id for c in app.choices}, now, "RESTORED")
            await uow.journal.audit(
                actor, AuditRecord("application", str(app.id), "RESTORED", before, _snap(app), None, app.id), now
            )
            await self._notify(uow, app, MessageKind.APPLICATION_RESTORED, now)
            await uow.seats.publish([FeedEvent(EventStream.APPLICATION, "STATUS_CHANGED", application_id=app.id)], now)
            await self._allocate(
                uow, await uow.seats.groups_with_free_seats([c.kindergarten_id for c in app.choices]), now
            )
            await uow.commit()
        return app

    # --- sibling groups -------------------------------------------------------------------------

    async def link_siblings(self, actor: Actor, application_ids: Sequence[str]) -> list[Application]:
        access.forbid_unless(actor, Role.CITIZEN)
        ids = sorted({n for n in map(rules.object_id, application_ids) if n is not None})
        if len(ids) < 2 or len(ids) != len(application_ids):
            raise DomainError(ErrorCode.INVALID_INPUT, "link two or more distinct applications", "applicationIds")
        assert actor.subject is not None
        # The family's size is the population registry's: refresh the snapshot of the caller's children first.
        await self.refresh_family(actor.subject)
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            apps: list[Application] = []
            for app_id in ids:
                app = await uow.applications.get(app_id, for_update=True)
                if app is None or not access.is_owner(actor, await uow.persons.representatives(app.child_iin)):
                    raise access.not_found("application", "applicationIds")
                apps.append(app)
            await self._check_linkable(uow, apps)
            group_id = await uow.seats.new_sibling_group(now)
            for app in apps:
                app.sibling_group_id = group_id
                await uow.applications.save(app)
                await uow.journal.audit(
                    actor,
                    AuditRecord(
                        "application", str(app.id), "SIBLINGS_LINKED", None, {"siblingGroupId": group_id}, None, app.id
                    ),
                    now,
                )
            await uow.commit()
        return apps

    async def _check_linkable(self, uow: UnitOfWork, apps: list[Application]) -> None:
        def refuse(why: str) -> DomainError:
            return DomainError(ErrorCode.SIBLINGS_NOT_LINKABLE, why, "applicationIds")

        if any(a.status != ApplicationStatus.QUEUED or not a.active or a.sibling_group_id for a in apps):
            raise refuse("only waiting applications not yet linked can be linked")
        first = apps[0]
        ranking = [c.kindergarten_id for c in sorted(first.choices, key=lambda c: c.rank)]
        for a in apps[1:]:
            if [c.kindergarten_id for c in sorted(a.choices, key=lambda c: c.rank)] != ranking:
                raise refuse("siblings must have the same ranked choices")
            if (a.language, a.group_type) != (first.language, first.group_type):
                raise refuse("siblings must want the same language and group type")
        reps = [set(await uow.persons.representatives(a.child_iin)) for a in apps]
        common = set.intersection(*reps)
        if not common:
            raise refuse("the children have no legal representative in common")
        family = set(await uow.persons.children_of_all(sorted(common)))
        births = set()
        for a in apps:
            person = await uow.persons.get(a.child_iin)
            births.add(person.birth_date if person else None)
        twins = len(births) == 1
        if len(family) <= 2 and not twins:
            raise refuse("only families with more than two children, or twins, may link applications")

    # --- worker passes --------------------------------------------------------------------------

    async def lapse_offers(self, limit: int = 50) -> int:
        """Offers and contracts left unanswered past their deadline lapse; the seat goes on at once."""
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            ids = await uow.seats.due_offers(now, limit)
            freed = []
            for oid in ids:
                offer = await uow.seats.offer(oid, for_update=True)
                app = await uow.applications.get(offer.application_id, for_update=True) if offer else None
                if offer is None or app is None:
                    continue
                confirmed = offer.status == OfferStatus.CONFIRMED
                freed.append(
                    await self._end_offer(
                        uow,
                        SYSTEM,
                        app,
                        offer,
                        OfferStatus.LAPSED,
                        now,
                        "deadline passed",
                        MessageKind.CONTRACT_LAPSED if confirmed else None,
                    )
                )
                if confirmed:
                    await self._vacancy(uow, "CONTRACT_LAPSED", offer.kindergarten_id, offer.group_id, now, offer.id)
                if offer.upgrade:
                    # An upgrade offer never costs the enrolment: only that choice goes.
                    await self._drop_choices(uow, app, {offer.kindergarten_id}, now, "LAPSED")
                else:
                    app.inactive_since = now
                    await self._close(uow, SYSTEM, app, ApplicationStatus.INACTIVE, now, "offer not answered")
                    app.active = True  # INACTIVE is kept: out of every queue, restorable
                    await uow.applications.save(app)
            await self._allocate(uow, freed, now)
            await uow.commit()
        return len(ids)

    async def send_reminders(self, limit: int = 100) -> int:
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            ids = await uow.seats.due_reminders(now, limit)
            for oid in ids:
                offer = await uow.seats.offer(oid)
                app = await uow.applications.get(offer.application_id) if offer else None
                if offer is None or app is None:
                    continue
                kg = (await uow.places.kindergartens([offer.kindergarten_id]))[offer.kindergarten_id]
                await uow.seats.mark_reminded(oid, now)
                await self._notify(
                    uow, app, MessageKind.OFFER_REMINDER, now, kindergarten=kg, deadline=offer.respond_by
                )
                await uow.seats.publish(
                    [
                        FeedEvent(
                            EventStream.OFFER,
                            "REMINDER",
                            offer_id=offer.id,
                            application_id=app.id,
                            child_iin=app.child_iin,
                        )
                    ],
                    now,
                )
            await uow.commit()
        return len(ids)

    async def close_unrestored(self, limit: int = 100) -> int:
        """INACTIVE applications not restored within the window close."""
        now = self._clock.now()
        closed = 0
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            for app_id in await uow.applications.inactive(limit):
                app = await uow.applications.get(app_id, for_update=True)
                if app is None or app.inactive_since is None:
                    continue
                window_end = self._policies.for_region(app.region_code).restore_window.end(
                    app.inactive_since, self._calendar
                )
                if app.restored or now > window_end:
                    await self._close(uow, SYSTEM, app, ApplicationStatus.CLOSED, now, "not restored in time")
                    closed += 1
            await uow.commit()
        return closed

    async def allocation_pass(self) -> int:
        """Catches start dates and birthdays: every group with a free seat is tried again."""
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            made = await self._allocate(uow, await uow.seats.groups_with_free_seats(), now)
            await uow.commit()
        return made
