"""The use cases composed: one object for the GraphQL layer and the worker, each method one use case of
the feature that owns it (applications, claims, offers, departures, siblings, places, families, the school
days, the allocator)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from domain.commands import NewGroup, NewKindergarten, SubmitApplication
from domain.errors import Contention
from domain.estimate import ChoiceStanding, WaitEstimate
from domain.intake import IntakeRun
from domain.model import Actor, Application, Enrollment, Offer, PriorityClaim
from domain.policy import PolicyBook
from domain.ports import (
    IN_A_THREAD,
    UNOBSERVED,
    BenefitsRegistry,
    Clock,
    ESignature,
    HealthRegistry,
    HolidayCalendar,
    Observer,
    Offload,
    PopulationRegistry,
)
from domain.repositories import FamilyReads, UnitOfWork
from domain.usecases.allocator import Allocator
from domain.usecases.applications import Applications
from domain.usecases.claims import Claims
from domain.usecases.departures import Departures
from domain.usecases.estimates import Estimates
from domain.usecases.families import Families
from domain.usecases.intake import Intake
from domain.usecases.offers import Offers
from domain.usecases.places import Places
from domain.usecases.school_days import SchoolDays
from domain.usecases.seats import Seats
from domain.usecases.siblings import Siblings

T = TypeVar("T")
log = logging.getLogger("kezek.usecases")
ATTEMPTS = 5


class QueueService:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        population: PopulationRegistry,
        benefits: BenefitsRegistry,
        calendar: HolidayCalendar,
        policies: PolicyBook,
        health: HealthRegistry,
        esign: ESignature,
        family: FamilyReads,
        observer: Observer = UNOBSERVED,
        offload: Offload = IN_A_THREAD,
    ) -> None:
        seats = Seats(calendar)
        self.observer = observer  # how long allocations and intake runs take (domain/ports.py)
        self.allocator = Allocator(uow, clock, policies, seats, observer)
        self.families = Families(uow, clock, population, family)
        self.applications = Applications(uow, clock, population, benefits, calendar, policies, self.allocator, seats)
        self.claims = Claims(uow, clock, benefits, calendar, policies, self.allocator, seats)
        self.offers = Offers(uow, clock, calendar, policies, health, esign, self.allocator, seats, self.applications)
        self.siblings = Siblings(uow, clock, self.families)
        self.places = Places(uow, clock, self.allocator)
        self.departures = Departures(uow, clock, self.allocator, seats, self.applications)
        self.school_days = SchoolDays(uow, clock, self.allocator, self.departures)
        self.intake = Intake(uow, clock, policies, self.allocator, seats, observer, offload)
        self.estimates = Estimates(clock, policies)

    async def _retried(self, run: Callable[[], Awaitable[T]]) -> T:
        """Runs a use case again when its transaction lost a lock conflict (a deadlock between two changes):
        nothing was written, so running it again is the same as running it once, later."""
        for attempt in range(ATTEMPTS):
            try:
                return await run()
            except Contention as exc:
                if attempt == ATTEMPTS - 1:
                    raise
                log.info("lock conflict (%s); running the use case again", exc)
                await asyncio.sleep(random.uniform(0.5, 1.0) * 0.005 * 2**attempt)  # noqa: S311 (jitter)
        raise AssertionError("unreachable")

    # --- families -------------------------------------------------------------------------------

    async def my_children(self, actor: Actor) -> list[str]:
        return await self._retried(lambda: self.families.my_children(actor))

    # --- applications ---------------------------------------------------------------------------

    async def submit_application(self, actor: Actor, cmd: SubmitApplication) -> Application:
        return await self._retried(lambda: self.applications.submit(actor, cmd))

    async def change_choices(self, actor: Actor, application_id: str, kindergarten_ids: Sequence[str]) -> Application:
        return await self._retried(lambda: self.applications.change_choices(actor, application_id, kindergarten_ids))

    async def withdraw_application(self, actor: Actor, application_id: str, reason: str | None) -> Application:
        return await self._retried(lambda: self.applications.withdraw(actor, application_id, reason))

    async def restore_application(self, actor: Actor, application_id: str) -> Application:
        return await self._retried(lambda: self.applications.restore(actor, application_id))

    # --- claims ---------------------------------------------------------------------------------

    async def verify_claim(self, actor: Actor, claim_id: str, approve: bool, note: str | None) -> PriorityClaim:
        return await self._retried(lambda: self.claims.verify(actor, claim_id, approve, note))

    async def revoke_claim(self, actor: Actor, claim_id: str, note: str | None) -> PriorityClaim:
        return await self._retried(lambda: self.claims.revoke(actor, claim_id, note))

    # --- offers ---------------------------------------------------------------------------------

    async def confirm_offer(self, actor: Actor, offer_id: str) -> Offer:
        return await self._retried(lambda: self.offers.confirm(actor, offer_id))

    async def decline_offer(self, actor: Actor, offer_id: str) -> Offer:
        return await self._retried(lambda: self.offers.decline(actor, offer_id))

    async def extend_contract(self, actor: Actor, offer_id: str) -> Offer:
        return await self._retried(lambda: self.offers.extend_contract(actor, offer_id))

    async def sign_contract(self, actor: Actor, contract_id: str, signature: str) -> Offer:
        return await self._retried(lambda: self.offers.sign_contract(actor, contract_id, signature))

    async def leave_kindergarten(self, actor: Actor, child_iin: str, reason: str | None) -> str:
        return await self._retried(lambda: self.departures.leave_kindergarten(actor, child_iin, reason))

    async def plan_departure(
        self, actor: Actor, child_iin: str, leaves_on: dt.date | None, reason: str | None
    ) -> Enrollment:
        return await self._retried(lambda: self.departures.plan_departure(actor, child_iin, leaves_on, reason))

    async def link_siblings(self, actor: Actor, application_ids: Sequence[str]) -> list[Application]:
        return (await self.siblings.link(actor, application_ids))[1]

    # --- places ---------------------------------------------------------------------------------

    async def create_kindergarten(self, actor: Actor, cmd: NewKindergarten) -> int:
        return await self._retried(lambda: self.places.create_kindergarten(actor, cmd))

    async def create_group(self, actor: Actor, cmd: NewGroup) -> int:
        return await self._retried(lambda: self.places.create_group(actor, cmd))

    async def set_group_capacity(
        self, actor: Actor, group_id: str, capacity: int, reason: str | None, since: dt.date | None = None
    ) -> int:
        return await self._retried(lambda: self.places.set_group_capacity(actor, group_id, capacity, reason, since))

    async def set_group_capacities(
        self, actor: Actor, changes: Sequence[tuple[str, int]], reason: str | None
    ) -> list[int]:
        return await self._retried(lambda: self.places.set_group_capacities(actor, changes, reason))

    # --- the summer intake ------------------------------------------------------------------------

    async def create_intake_run(self, actor: Actor, region_code: str, school_year: int) -> IntakeRun:
        return await self._retried(lambda: self.intake.create(actor, region_code, school_year))

    async def publish_intake_run(self, actor: Actor, run_id: str) -> IntakeRun:
        return await self._retried(lambda: self.intake.publish(actor, run_id))

    async def discard_intake_run(self, actor: Actor, run_id: str) -> IntakeRun:
        return await self._retried(lambda: self.intake.discard(actor, run_id))

    # --- waiting estimates ------------------------------------------------------------------------

    def estimate(self, standing: ChoiceStanding | None, position: int | None, today: dt.date) -> WaitEstimate:
        return self.estimates.of(standing, position, today)

    # --- the worker's passes ----------------------------------------------------------------------

    async def lapse_offers(self, limit: int = 50) -> int:
        return await self._retried(lambda: self.offers.lapse(limit))

    async def send_reminders(self, limit: int = 100) -> int:
        return await self._retried(lambda: self.offers.send_reminders(limit))

    async def expire_manual_claims(self, limit: int = 100) -> int:
        return await self._retried(lambda: self.claims.expire_manual(limit))

    async def age_out(self, limit: int = 200) -> int:
        return await self._retried(lambda: self.applications.age_out(limit))

    async def close_unrestored(self, limit: int = 100) -> int:
        return await self._retried(lambda: self.applications.close_unrestored(limit))

    async def recheck_benefits(self, limit: int = 50) -> int:
        return await self._retried(lambda: self.claims.recheck_benefits(limit))

    async def school_day(self) -> dict[str, int]:
        return await self._retried(lambda: self.school_days.pass_())

    async def drain_allocations(self) -> int:
        return await self.allocator.drain_due()

    async def allocation_pass(self) -> int:
        return await self._retried(lambda: self.allocator.sweep())
