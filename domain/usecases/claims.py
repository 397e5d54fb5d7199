"""Priority claims (docs/product.md §3 "Priority"): an operator verifies or rejects a manual claim, or revokes a claim
found false; the worker expires manual claims left undecided and re-checks the benefits registry daily.
A changed tier moves the application in its queues (the queue date stays) and cancels a live offer made on
a better tier than it now has."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain import access, inputs, priority
from domain.errors import DomainError
from domain.model import (
    SYSTEM,
    Actor,
    Application,
    ClaimStatus,
    ErrorCode,
    OfferStatus,
    PriorityClaim,
    PriorityTier,
    Role,
)
from domain.policy import PolicyBook
from domain.ports import BenefitsRegistry, Clock, HolidayCalendar
from domain.queue_order import standing
from domain.repositories import UnitOfWork
from domain.usecases.allocator import Allocator
from domain.usecases.effects import Effects, application_snapshot, claim_snapshot
from domain.usecases.seats import Seats


@dataclass(frozen=True, slots=True)
class Claims:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    benefits: BenefitsRegistry
    calendar: HolidayCalendar
    policies: PolicyBook
    allocator: Allocator
    seats: Seats

    async def verify(self, actor: Actor, claim_id: str, approve: bool, note: str | None) -> PriorityClaim:
        access.forbid_unless(actor, Role.AKIMAT_OPERATOR)
        now = self.clock.now()
        async with self.uow() as uow:
            claim, app = await self._load(uow, actor, claim_id)
            if claim.status not in (ClaimStatus.PENDING_MANUAL, ClaimStatus.EXPIRED):
                raise DomainError(ErrorCode.INVALID_STATE, f"the claim is {claim.status.value}", "claimId")
            status = ClaimStatus.VERIFIED if approve else ClaimStatus.REJECTED
            fx = Effects(uow, actor, now)
            await self._decide(fx, claim, app, status, note)
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return claim

    async def revoke(self, actor: Actor, claim_id: str, note: str | None) -> PriorityClaim:
        access.forbid_unless(actor, Role.AKIMAT_OPERATOR)
        inputs.required(note, "note", "a revocation needs a note")
        now = self.clock.now()
        async with self.uow() as uow:
            claim, app = await self._load(uow, actor, claim_id)
            if claim.status != ClaimStatus.VERIFIED:
                raise DomainError(ErrorCode.INVALID_STATE, f"the claim is {claim.status.value}", "claimId")
            fx = Effects(uow, actor, now)
            await self._decide(fx, claim, app, ClaimStatus.REVOKED, note)
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return claim

    async def expire_manual(self, limit: int = 100) -> int:
        """A manual claim not decided within its window becomes EXPIRED (an operator may re-open it)."""
        now = self.clock.now()
        async with self.uow() as uow:
            fx = Effects(uow, SYSTEM, now)
            ids = await uow.claims.due_manual(now, limit)
            for cid in ids:
                claim = await uow.claims.get(cid)
                app = await uow.applications.get(claim.application_id, for_update=True) if claim else None
                if claim is not None and app is not None:
                    await self._decide(fx, claim, app, ClaimStatus.EXPIRED, "manual window passed")
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return len(ids)

    async def recheck_benefits(self, limit: int = 50) -> int:
        """Daily re-check of waiting applications; a registry that is down is retried with back-off."""
        now = self.clock.now()
        async with self.uow() as uow:
            fx = Effects(uow, SYSTEM, now)
            ids = await uow.applications.due_for_benefit_check(now, limit)
            for app_id in ids:
                app = await uow.applications.get(app_id, for_update=True)
                if app is None:
                    continue
                reps = await uow.persons.representatives(app.child_iin)
                failures = await uow.applications.benefit_check_failures(app_id)
                try:
                    findings = await self.benefits.findings([app.child_iin, *reps])
                except Exception:  # the registry is down: back off, nothing else changes
                    await uow.applications.schedule_benefit_check(
                        app_id, priority.next_check(now, failures + 1), failures + 1
                    )
                    continue
                policy = self.policies.for_region(app.region_code)
                for finding in priority.new_findings(findings, await uow.claims.for_application(app_id)):
                    claim = priority.claim_from(app_id, finding, policy, now, self.calendar)
                    claim.id = await uow.claims.add(claim)
                    await fx.claim_found(app, claim, tell=claim.status == ClaimStatus.VERIFIED)
                await self._retier(fx, app)
                await uow.applications.schedule_benefit_check(app_id, priority.next_check(now, 0), 0)
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return len(ids)

    async def _load(self, uow: UnitOfWork, actor: Actor, claim_id: str) -> tuple[PriorityClaim, Application]:
        cid = inputs.object_id(claim_id)
        claim = await uow.claims.get(cid, for_update=True) if cid else None
        if claim is None:
            raise access.not_found("claim", "claimId")
        app = await uow.applications.get(claim.application_id, for_update=True)
        # Claims are verified by operators of the child's area only.
        if app is None or not access.in_area(actor, app.region_code, app.district_code):
            raise access.not_found("claim", "claimId")
        return claim, app

    async def _decide(
        self, fx: Effects, claim: PriorityClaim, app: Application, status: ClaimStatus, note: str | None
    ) -> None:
        before = claim_snapshot(claim)
        await fx.uow.claims.set_status(claim.id, status, fx.actor, note, fx.now)
        claim.status = status
        await fx.claim_decided(app, claim, before, note)
        await self._retier(fx, app)

    async def _retier(self, fx: Effects, app: Application) -> None:
        """The tier follows the VERIFIED claims; the queue date never changes."""
        uow = fx.uow
        tier = priority.tier_of(await uow.claims.for_application(app.id))
        if tier == app.tier:
            return
        before, moves = application_snapshot(app), standing(app)
        old_positions = await uow.applications.positions(app.id)
        app.tier = tier
        await uow.applications.save(app)
        fx.queue_moves(
            app, moves, "TIER_CHANGED", "TIER_CHANGED" if tier == PriorityTier.GENERAL else "PRIORITY_JOINED"
        )
        fx.own_moves(app, old_positions, await uow.applications.positions(app.id), "TIER_CHANGED")
        await fx.application(app, "TIER_CHANGED", before)
        # Offers record the tier they were made on: a live one made on a better tier is cancelled.
        freed = [
            await self.seats.end_offer(fx, app, o, OfferStatus.CANCELLED, "priority revoked")
            for o in await uow.offers.live_above_tier(app.id, tier)
        ]
        await self.allocator.fill(fx, freed)
        await fx.candidate(app, self.allocator.horizon(fx.now))
