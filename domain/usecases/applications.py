"""Applications (docs/product.md §3): submit, change choices, withdraw, restore; and the worker's ageing out and closing
of applications not restored in time. Each runs in one unit of work: all of it is written, or none of it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from domain import access, age, choices, iin, inputs, offers, priority
from domain.commands import SubmitApplication
from domain.errors import DomainError
from domain.model import (
    SYSTEM,
    Actor,
    Application,
    ApplicationStatus,
    BenefitFinding,
    Choice,
    ErrorCode,
    GroupType,
    Language,
    OfferStatus,
    Person,
    Role,
    application_number,
)
from domain.policy import PolicyBook
from domain.ports import BenefitsRegistry, Clock, HolidayCalendar, PopulationRegistry
from domain.queue_order import standing
from domain.repositories import UnitOfWork
from domain.timezone import local_date
from domain.usecases.allocator import Allocator
from domain.usecases.effects import Effects, application_snapshot
from domain.usecases.seats import Seats


@dataclass(frozen=True, slots=True)
class Applications:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    population: PopulationRegistry
    benefits: BenefitsRegistry
    calendar: HolidayCalendar
    policies: PolicyBook
    allocator: Allocator
    seats: Seats

    async def submit(self, actor: Actor, cmd: SubmitApplication) -> Application:
        access.forbid_unless(actor, Role.CITIZEN)
        assert actor.subject is not None and actor.channel is not None
        child_iin = iin.check(cmd.child_iin)
        ids = inputs.ids(cmd.kindergarten_ids, "kindergarten", choices.FIELD)
        choices.check_ranking(ids)
        phone = inputs.check_phone(cmd.phone)
        now = self.clock.now()
        today = local_date(now)
        desired = cmd.desired_start_date or today

        # Registry reads happen before the transaction: a registry that is down writes nothing. Those that do
        # not depend on each other are asked at once.
        child, rep_iins = await asyncio.gather(
            self.population.person(child_iin), self.population.representatives(child_iin)
        )
        if child is None or not child.alive:
            raise access.not_found("child", "childIin")
        if actor.subject not in rep_iins:
            raise DomainError(
                ErrorCode.NOT_LEGAL_REPRESENTATIVE, "the applicant is not the child's legal representative", "childIin"
            )
        age.check_start_date(desired, today, child.birth_date)
        found = await asyncio.gather(
            *[self.population.person(i) for i in rep_iins],
            *[self.population.children(i) for i in rep_iins],
            self._findings([child_iin, *rep_iins]),
        )
        reps = [p for p in found[: len(rep_iins)] if isinstance(p, Person)]
        sibling_iins = {s for kids in found[len(rep_iins) : -1] for s in cast(list[str], kids)} - {child_iin}
        findings, benefits_ok = cast(tuple[list[BenefitFinding], bool], found[-1])
        applicant = next((p for p in reps if p.iin == actor.subject), None)
        phone = phone or (applicant.phone if applicant else None) or child.phone

        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            app_id = await uow.applications.reserve(child_iin)
            existing = await uow.applications.active_for_child(child_iin)
            if existing is not None:
                raise DomainError(
                    ErrorCode.DUPLICATE_APPLICATION,
                    f"the child already has an active application {existing.number}",
                    "childIin",
                    number=existing.number,
                )
            await self._check_kindergartens(uow, ids, child.birth_date.year, cmd.language, cmd.group_type)
            district = await uow.places.district(child.district_code) if child.district_code else None
            await uow.persons.record_family(child, reps, now)
            region = district.region_code if district else None
            policy = self.policies.for_region(region)
            claims = [
                priority.claim_from(app_id, f, policy, now, self.calendar) for f in priority.new_findings(findings, [])
            ]
            sibling_kgs = await uow.applications.sibling_kindergartens(sorted(sibling_iins))
            app = Application(
                id=app_id,
                number=application_number(today.year, app_id),
                child_iin=child_iin,
                status=ApplicationStatus.QUEUED,
                queue_date=now,
                channel=actor.channel,
                tier=priority.tier_of(claims),
                language=cmd.language,
                group_type=cmd.group_type,
                desired_start_date=desired,
                phone=phone,
                notification_language=cmd.notification_language,
                birth_year=child.birth_date.year,
                district_code=child.district_code,
                region_code=region,
                active=True,
                created_at=now,
                choices=[
                    Choice(app_id, rank, kg, joined_at=now, sibling_priority=kg in sibling_kgs)
                    for rank, kg in enumerate(ids, start=1)
                ],
            )
            failures = 0 if benefits_ok else 1
            await uow.applications.add(app, priority.next_check(now, failures), failures)
            for claim in claims:
                claim.id = await uow.claims.add(claim)
                await fx.claim_found(app, claim, tell=False)
            fx.queue_moves(app, {}, "JOINED")
            positions = await uow.applications.positions(app_id)
            await fx.application(app, "SUBMITTED", None, positions=positions)
            await fx.candidate(app, self.allocator.horizon(fx.now))
            await uow.commit()
        return await self._settled(fx, app)

    async def _findings(self, iins: list[str]) -> tuple[list[BenefitFinding], bool]:
        """The registry's findings, and whether it answered: one that is down never blocks a submission
        (docs/quality.md §4); the worker asks again."""
        try:
            return await self.benefits.findings(iins), True
        except Exception:
            return [], False

    async def change_choices(self, actor: Actor, application_id: str, kindergarten_ids: Sequence[str]) -> Application:
        access.forbid_unless(actor, Role.CITIZEN)
        ids = inputs.ids(kindergarten_ids, "kindergarten", choices.FIELD)
        choices.check_ranking(ids)
        now = self.clock.now()
        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            app = await self._owned(uow, actor, application_id)
            # A QUEUED application holds no live offer (an invariant the database checks): nothing to read.
            live = await uow.offers.live_for(app.id) if app.status != ApplicationStatus.QUEUED else None
            if app.status not in (ApplicationStatus.QUEUED, ApplicationStatus.ENROLLED) or not app.active or live:
                raise DomainError(
                    ErrorCode.INVALID_STATE,
                    f"choices cannot change while the application is {app.status.value}"
                    + (" with a live offer" if live else ""),
                    "applicationId",
                )
            held = app.held()
            choices.check_change(ids, app.dropped_kindergartens, held)
            await self._check_kindergartens(uow, ids, app.birth_year, app.language, app.group_type)
            sibling_kgs = await uow.applications.kindergartens_of_siblings(app.child_iin)
            before, moves = application_snapshot(app), standing(app)
            app.rechoose(ids, now, sibling_kgs)
            await uow.applications.save(app)
            fx.queue_moves(app, moves, "CHOICES_CHANGED")
            positions = await uow.applications.positions(app.id)
            # A kept choice keeps its place in its queue (its order key is the application's, not its rank),
            # and a new one had none: a change of choices moves none of the application's own positions.
            await fx.application(app, "CHOICES_CHANGED", before, positions=positions)
            if held:
                # Choices now ranked below the enrolment are dropped, as after signing.
                moves = standing(app)
                app.drop_below(min(held, key=lambda kg: app.rank_of(kg) or 0))
                fx.queue_moves(app, moves, "CHOICES_CHANGED")
            await fx.candidate(app, self.allocator.horizon(fx.now))
            await uow.commit()
        return await self._settled(fx, app)

    async def withdraw(self, actor: Actor, application_id: str, reason: str | None) -> Application:
        access.forbid_unless(actor, Role.CITIZEN, Role.AKIMAT_OPERATOR)
        if actor.role == Role.AKIMAT_OPERATOR:
            inputs.required(reason, "reason", "an operator must give a reason")
        now = self.clock.now()
        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            app = await self._owned(uow, actor, application_id)
            if not app.active or app.status.final:
                raise DomainError(ErrorCode.INVALID_STATE, f"the application is {app.status.value}", "applicationId")
            freed = []
            live = await uow.offers.live_for(app.id, for_update=True)
            if live is not None:
                # The offer is cancelled and its seat goes to the next child at once.
                freed.append(await self.seats.end_offer(fx, app, live, OfferStatus.CANCELLED, reason))
            await self.stop_waiting(fx, app, ApplicationStatus.WITHDRAWN, reason)
            await self.allocator.fill(fx, freed)
            await uow.commit()
        return await self._settled(fx, app)

    async def restore(self, actor: Actor, application_id: str) -> Application:
        access.forbid_unless(actor, Role.CITIZEN)
        now = self.clock.now()
        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            app_id = inputs.object_id(application_id)
            app = await uow.applications.get(app_id, for_update=True) if app_id else None
            if app is None or not access.is_owner(actor, await uow.persons.representatives(app.child_iin)):
                raise access.not_found("application", "applicationId")
            offers.check_restorable(app, self.policies.for_region(app.region_code), self.calendar, now)
            before, moves = application_snapshot(app), standing(app)
            app.restore()
            await uow.applications.save(app)
            fx.queue_moves(app, moves, "RESTORED")
            await fx.application(app, "RESTORED", before)
            await fx.candidate(app, self.allocator.horizon(fx.now))
            await uow.commit()
        return await self._settled(fx, app)

    async def age_out(self, limit: int = 200) -> int:
        """On 1 September of the year a child turns 6 its still-waiting application closes as AGED_OUT; live
        offers and enrolments stay."""
        now = self.clock.now()
        async with self.uow() as uow:
            fx = Effects(uow, SYSTEM, now)
            ids = await uow.applications.due_for_aging(age.latest_aged_out_birth_year(local_date(now)), limit)
            for app_id in ids:
                app = await uow.applications.get(app_id, for_update=True)
                if app is not None:
                    await self.stop_waiting(fx, app, ApplicationStatus.AGED_OUT, None)
            await uow.commit()
        return len(ids)

    async def close_unrestored(self, limit: int = 100) -> int:
        """INACTIVE applications not restored within the restore window close."""
        now = self.clock.now()
        closed = 0
        async with self.uow() as uow:
            fx = Effects(uow, SYSTEM, now)
            for app_id in await uow.applications.inactive(limit):
                app = await uow.applications.get(app_id, for_update=True)
                if app is not None and offers.closes_unrestored(
                    app, self.policies.for_region(app.region_code), self.calendar, now
                ):
                    await self.stop_waiting(fx, app, ApplicationStatus.CLOSED, "not restored in time")
                    closed += 1
            await uow.commit()
        return closed

    async def stop_waiting(
        self, fx: Effects, app: Application, status: ApplicationStatus, reason: str | None, *, message: bool = True
    ) -> None:
        """The one leave-the-queue path (withdrawn, closed, aged out, inactive): the application, its queue
        moves, the audit record, the parent's message and the STATUS_CHANGED event."""
        before, moves = application_snapshot(app), standing(app)
        app.stop_waiting(status, fx.now)
        await fx.uow.applications.save(app)
        fx.queue_moves(app, moves, "WITHDRAWN" if status == ApplicationStatus.WITHDRAWN else "LEFT_QUEUE")
        await fx.left_queue(app, status, before, reason, message=message)

    async def _settled(self, fx: Effects, app: Application) -> Application:
        """Allocates what the change queued, and gives the application as it is now: the change's own copy,
        unless an offer was made meanwhile (perhaps to this child), when it is read again."""
        if not await self.allocator.run(fx.allocations):
            return app
        async with self.uow() as uow:
            return await uow.applications.get(app.id) or app

    async def _owned(self, uow: UnitOfWork, actor: Actor, application_id: str) -> Application:
        """The application, locked, when the caller may act on it; else NOT_FOUND, as for a missing one."""
        app_id = inputs.object_id(application_id)
        app = await uow.applications.get(app_id, for_update=True) if app_id else None
        if app is None:
            raise access.not_found("application", "applicationId")
        # Only an operator's access depends on the application's areas: a citizen's is the owner check.
        reps = await uow.persons.representatives(app.child_iin) if actor.role == Role.CITIZEN else []
        areas = await uow.applications.areas(app.id) if actor.role == Role.AKIMAT_OPERATOR else []
        if not access.can_see_application(actor, reps, areas):
            raise access.not_found("application", "applicationId")
        return app

    @staticmethod
    async def _check_kindergartens(
        uow: UnitOfWork, ids: list[int], birth_year: int, language: Language, group_type: GroupType
    ) -> None:
        groups = await uow.places.fitting_groups(ids, birth_year, language, group_type)
        for kg_id in ids:
            if kg_id not in groups:
                raise access.not_found(f"kindergarten {kg_id}", choices.FIELD)
        for kg_id in ids:
            choices.check_fits(kg_id, groups[kg_id], birth_year, language, group_type)
