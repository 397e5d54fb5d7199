"""Answering offers (docs/product.md §4): confirm (a contract is issued from the health registry's documents), decline,
extend the contract, sign it (the child is enrolled); the worker's lapses and reminders. A sibling group's
offers act together: confirming or declining one acts on all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain import access, inputs, offers
from domain.contracts import REQUIRED_DOCUMENTS, contract_text, document_hash
from domain.errors import DomainError
from domain.feed import VacancyEventKind
from domain.model import (
    SYSTEM,
    Actor,
    Application,
    ApplicationStatus,
    Contract,
    ErrorCode,
    HealthDocumentRecord,
    Offer,
    OfferStatus,
    Role,
)
from domain.offers import AfterDecline
from domain.policy import PolicyBook
from domain.ports import Clock, ESignature, HealthDocument, HealthRegistry, HolidayCalendar
from domain.queue_order import standing
from domain.repositories import UnitOfWork
from domain.usecases.allocator import Allocator
from domain.usecases.applications import Applications
from domain.usecases.effects import (
    CONTRACT_EXTENDED,
    OFFER_CONFIRMED,
    REMINDER,
    Effects,
    application_snapshot,
    lapse_message,
    offer_snapshot,
)
from domain.usecases.seats import Seats


@dataclass(frozen=True, slots=True)
class Offers:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    calendar: HolidayCalendar
    policies: PolicyBook
    health: HealthRegistry
    esign: ESignature
    allocator: Allocator
    seats: Seats
    applications: Applications

    async def confirm(self, actor: Actor, offer_id: str) -> Offer:
        access.forbid_unless(actor, Role.CITIZEN)
        now = self.clock.now()
        # Read first, then ask the health registry outside the transaction: down means nothing written.
        async with self.uow() as uow:
            offer, _ = await self._owned(uow, actor, offer_id)
            offers.check_step(offer, OfferStatus.PENDING, now)
            group_offers = await self._together(uow, offer)
        documents = {o.child_iin: await self.health.documents(o.child_iin) for o in group_offers}
        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            offer, _ = await self._owned(uow, actor, offer_id)
            offers.check_step(offer, OfferStatus.PENDING, now)
            for o, member in await self._together_with_applications(uow, offer):
                offers.check_step(o, OfferStatus.PENDING, now)
                await self._issue_contract(fx, member, o, documents.get(o.child_iin, []))
            await uow.commit()
        return offer

    async def decline(self, actor: Actor, offer_id: str) -> Offer:
        access.forbid_unless(actor, Role.CITIZEN)
        now = self.clock.now()
        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            offer, _ = await self._owned(uow, actor, offer_id)
            offers.check_live(offer)
            freed = [
                await self._decline(fx, member, o) for o, member in await self._together_with_applications(uow, offer)
            ]
            await self.allocator.fill(fx, freed)
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return offer

    async def extend_contract(self, actor: Actor, offer_id: str) -> Offer:
        access.forbid_unless(actor, Role.CITIZEN)
        now = self.clock.now()
        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            offer, app = await self._owned(uow, actor, offer_id)
            offers.check_step(offer, OfferStatus.CONFIRMED, now)
            contract = await uow.offers.contract_for_offer(offer.id)
            assert contract is not None
            kindergarten = await uow.places.kindergarten(offer.kindergarten_id)
            assert kindergarten is not None
            deadline = offers.extended_deadline(
                contract, self.policies.for_region(kindergarten.region_code), self.calendar
            )
            before = {"signBy": contract.sign_by.isoformat()}
            contract.sign_by = deadline
            contract.extended = True
            await uow.offers.save_contract(contract)
            offer.respond_by = deadline
            offer.remind_at = offers.remind_at(now, deadline)
            await uow.offers.save(offer, now)
            fx.contract(app, contract, "CONTRACT_EXTENDED", before)
            await fx.offer(app, offer, CONTRACT_EXTENDED, offer_snapshot(offer))
            await uow.commit()
        return offer

    async def sign_contract(self, actor: Actor, contract_id: str, signature: str) -> Offer:
        access.forbid_unless(actor, Role.CITIZEN)
        assert actor.subject is not None
        now = self.clock.now()
        cid = inputs.object_id(contract_id)
        async with self.uow() as uow:
            contract = await uow.offers.contract(cid) if cid else None
            if contract is None:
                raise access.not_found("contract", "contractId")
            try:
                offer, _ = await self._owned(uow, actor, str(contract.offer_id))
            except DomainError:  # another family's contract is answered exactly as a missing one
                raise access.not_found("contract", "contractId") from None
            offers.check_step(offer, OfferStatus.CONFIRMED, now)
        # The e-signature service is asked outside the transaction: down means nothing written.
        if not await self.esign.verify(actor.subject, contract.document_hash, signature.strip()):
            raise DomainError(ErrorCode.INVALID_SIGNATURE, "the signature does not match the contract", "signature")
        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            offer, app = await self._owned(uow, actor, str(contract.offer_id))
            offers.check_step(offer, OfferStatus.CONFIRMED, now)
            contract.signed_at = now
            await uow.offers.save_contract(contract)
            freed = await self.seats.enroll(fx, app, offer)
            await self.allocator.fill(fx, freed)
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return offer

    async def lapse(self, limit: int = 50) -> int:
        """Offers and contracts left unanswered past their deadline lapse; the seat goes on at once. An
        upgrade offer costs only its choice; otherwise the application becomes INACTIVE (restorable)."""
        now = self.clock.now()
        async with self.uow() as uow:
            fx = Effects(uow, SYSTEM, now)
            ids = await uow.offers.due(now, limit)
            freed = []
            for oid in ids:
                offer = await uow.offers.get(oid, for_update=True)
                app = await uow.applications.get(offer.application_id, for_update=True) if offer else None
                if offer is None or app is None:
                    continue
                confirmed = offer.status == OfferStatus.CONFIRMED
                message = lapse_message(offer, confirmed)
                freed.append(
                    await self.seats.end_offer(fx, app, offer, OfferStatus.LAPSED, "deadline passed", message=message)
                )
                if confirmed:
                    await fx.vacancy(VacancyEventKind.CONTRACT_LAPSED, offer.kindergarten_id, offer.group_id, offer.id)
                if offer.upgrade:
                    before, moves = application_snapshot(app), standing(app)
                    app.drop({offer.kindergarten_id})
                    fx.queue_moves(app, moves, "LAPSED")
                    await fx.application(app, "CHOICES_DROPPED", before, "offer not answered")
                else:
                    await self.applications.stop_waiting(
                        fx, app, ApplicationStatus.INACTIVE, "offer not answered", message=False
                    )
            await self.allocator.fill(fx, freed)
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return len(ids)

    async def send_reminders(self, limit: int = 100) -> int:
        now = self.clock.now()
        async with self.uow() as uow:
            fx = Effects(uow, SYSTEM, now)
            ids = await uow.offers.due_reminders(now, limit)
            for oid in ids:
                offer = await uow.offers.get(oid)
                app = await uow.applications.get(offer.application_id) if offer else None
                if offer is None or app is None:
                    continue
                await uow.offers.mark_reminded(oid, now)
                await fx.offer(app, offer, REMINDER, None, deadline=offer.respond_by)
            await uow.commit()
        return len(ids)

    # --- steps ----------------------------------------------------------------------------------

    async def _owned(self, uow: UnitOfWork, actor: Actor, offer_id: str) -> tuple[Offer, Application]:
        oid = inputs.object_id(offer_id)
        offer = await uow.offers.get(oid, for_update=True) if oid else None
        app = await uow.applications.get(offer.application_id, for_update=True) if offer else None
        if offer is None or app is None or not access.is_owner(actor, await uow.persons.representatives(app.child_iin)):
            raise access.not_found("offer", "offerId")
        return offer, app

    async def _together(self, uow: UnitOfWork, offer: Offer) -> list[Offer]:
        """A sibling group's live offers act together."""
        if offer.sibling_group_id is None:
            return [offer]
        return await uow.offers.live_of_sibling_group(offer.sibling_group_id) or [offer]

    async def _together_with_applications(self, uow: UnitOfWork, offer: Offer) -> list[tuple[Offer, Application]]:
        out = []
        for o in await self._together(uow, offer):
            member = await uow.applications.get(o.application_id, for_update=True)
            assert member is not None
            out.append((o, member))
        return out

    async def _issue_contract(
        self, fx: Effects, app: Application, offer: Offer, documents: list[HealthDocument]
    ) -> None:
        uow, now = fx.uow, fx.now
        kindergarten = await uow.places.kindergarten(offer.kindergarten_id)
        group = await uow.places.group(offer.group_id)
        child = await uow.persons.get(app.child_iin)
        assert kindergarten is not None and group is not None and child is not None
        sign_by = self.policies.for_region(kindergarten.region_code).contract_window.end(now, self.calendar)
        text = contract_text(
            app.notification_language,
            child,
            kindergarten,
            group,
            offers.start_date(app, offer, now),
            now,
            sign_by,
            offer.id,
            app.number,
        )
        records = [HealthDocumentRecord(d.kind, d.document_id, d.issued_on) for d in documents]
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
        contract.id = await uow.offers.add_contract(contract)
        before = offer_snapshot(offer)
        offer.status = OfferStatus.CONFIRMED
        offer.respond_by = sign_by
        offer.remind_at = offers.remind_at(now, sign_by)
        await uow.offers.save(offer, now)
        app.confirm(offer.upgrade)
        await uow.applications.save(app)
        fx.contract(app, contract, "CONTRACT_ISSUED", None)
        await fx.offer(app, offer, OFFER_CONFIRMED, before, deadline=sign_by)

    async def _decline(self, fx: Effects, app: Application, offer: Offer) -> int:
        group_id = await self.seats.end_offer(fx, app, offer, OfferStatus.DECLINED, "declined by the parent")
        kindergarten = await fx.uow.places.kindergarten(offer.kindergarten_id)
        assert kindergarten is not None
        if offers.after_decline(offer, self.policies.for_region(kindergarten.region_code)) == AfterDecline.CLOSE:
            await self.applications.stop_waiting(fx, app, ApplicationStatus.CLOSED, "declined (annul policy)")
            return group_id
        before, moves = application_snapshot(app), standing(app)
        app.drop({offer.kindergarten_id})
        await fx.uow.applications.save(app)
        fx.queue_moves(app, moves, "DECLINED")
        if not offer.upgrade and not app.choices:
            await self.applications.stop_waiting(fx, app, ApplicationStatus.CLOSED, "no choice left")
        else:
            await fx.application(app, "CHOICES_DROPPED", before, "declined by the parent")
        return group_id
