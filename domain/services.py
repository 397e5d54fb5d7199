"""Use cases of stage 1. Each runs in one unit of work: all of it is written, or none of it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence

from domain import access, rules
from domain.commands import NewGroup, NewKindergarten, SubmitApplication
from domain.errors import DomainError
from domain.messages import MessageKind, MessageParams, render
from domain.model import (
    SYSTEM,
    Actor,
    Application,
    ApplicationStatus,
    AuditRecord,
    BenefitFinding,
    Choice,
    ClaimStatus,
    ErrorCode,
    EventStream,
    FeedEvent,
    Group,
    GroupType,
    Kindergarten,
    Language,
    OfferStatus,
    OutboxMessage,
    Person,
    PriorityClaim,
    PriorityTier,
    QueueKey,
    Role,
)
from domain.offers import OffersMixin
from domain.policy import ALMATY, Policy, PolicyBook
from domain.ports import BenefitsRegistry, Clock, ESignature, HealthRegistry, HolidayCalendar, PopulationRegistry
from domain.repositories import FamilyReads, QueueEvent, UnitOfWork

BENEFITS_SOURCE = "benefits-registry"


def _snapshot(app: Application) -> dict[str, object]:
    return {
        "status": app.status.value,
        "tier": app.tier.value,
        "choices": [c.kindergarten_id for c in sorted(app.choices, key=lambda c: c.rank)],
        "active": app.active,
    }


def _claim_snapshot(claim: PriorityClaim) -> dict[str, object]:
    return {"category": claim.category.value, "status": claim.status.value, "evidenceId": claim.evidence_id}


class QueueService(OffersMixin):
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
    ) -> None:
        self._uow = uow
        self._family = family
        self._clock = clock
        self._population = population
        self._benefits = benefits
        self._calendar = calendar
        self._policies = policies
        self._health = health
        self._esign = esign

    # --- family snapshot -------------------------------------------------------------------------

    async def my_children(self, actor: Actor, max_age: dt.timedelta = dt.timedelta(hours=24)) -> list[str]:
        """The caller's children, from the snapshot, refreshed from the registry when older than a day."""
        access.forbid_unless(actor, Role.CITIZEN)
        assert actor.subject is not None
        now = self._clock.now()
        refreshed, children = await self._family.family(actor.subject)
        if refreshed is not None and now - refreshed <= max_age:
            return children
        await self.refresh_family(actor.subject)
        async with self._uow() as uow:
            return await uow.persons.children(actor.subject)

    async def refresh_family(self, representative_iin: str) -> None:
        person = await self._population.person(representative_iin)
        if person is None:
            return
        child_iins = await self._population.children(representative_iin)
        children = [p for p in [await self._population.person(i) for i in child_iins] if p is not None]
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.persons.upsert([person, *children], now)
            await uow.persons.set_children(representative_iin, [c.iin for c in children])
            await uow.commit()

    # --- submission ----------------------------------------------------------------------------

    async def submit_application(self, actor: Actor, cmd: SubmitApplication) -> Application:
        access.forbid_unless(actor, Role.CITIZEN)
        assert actor.subject is not None and actor.channel is not None
        child_iin = rules.check_iin(cmd.child_iin)
        ids = rules.parse_ids(cmd.kindergarten_ids, "kindergartenIds")
        rules.check_choices(ids)
        phone = rules.check_phone(cmd.phone)
        now = self._clock.now()
        today = now.astimezone(ALMATY).date()
        desired = cmd.desired_start_date or today

        # Registry reads happen before the transaction: a registry that is down writes nothing.
        child = await self._population.person(child_iin)
        if child is None or not child.alive:
            raise access.not_found("child", "childIin")
        rep_iins = await self._population.representatives(child_iin)
        if actor.subject not in rep_iins:
            raise DomainError(
                ErrorCode.NOT_LEGAL_REPRESENTATIVE,
                "the applicant is not the child's legal representative",
                "childIin",
            )
        rules.check_start_date(desired, today, child.birth_date)
        reps = [p for p in [await self._population.person(i) for i in rep_iins] if p is not None]
        sibling_iins = {s for r in rep_iins for s in await self._population.children(r)} - {child_iin}
        findings, benefits_ok = [], True
        try:
            findings = await self._benefits.findings([child_iin, *rep_iins])
        except Exception:  # the benefits registry being down never blocks a submission (QUALITY §4)
            benefits_ok = False
        applicant = next((p for p in reps if p.iin == actor.subject), None)
        phone = phone or (applicant.phone if applicant else None) or child.phone

        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            await uow.applications.lock_child(child_iin)
            existing = await uow.applications.active_for_child(child_iin)
            if existing is not None:
                raise DomainError(
                    ErrorCode.DUPLICATE_APPLICATION,
                    f"the child already has an active application {existing.number}",
                    "childIin",
                )
            await self._check_kindergartens(uow, ids, child.birth_date.year, cmd.language, cmd.group_type)
            district = await uow.places.district(child.district_code) if child.district_code else None
            await uow.persons.upsert([child, *reps], now)
            await uow.persons.set_representatives(child_iin, rep_iins)

            app_id, number = await uow.applications.next_id_and_number(today.year)
            policy = self._policies.for_region(district.region_code if district else None)
            claims = [
                self._claim(app_id, f, policy, now)
                for f in {(f.category, f.subject_iin, f.evidence_id): f for f in findings}.values()
            ]
            sibling_kgs = await uow.applications.sibling_kindergartens(sorted(sibling_iins))
            app = Application(
                id=app_id,
                number=number,
                child_iin=child_iin,
                status=ApplicationStatus.QUEUED,
                queue_date=now,
                channel=actor.channel,
                tier=rules.tier_of(claims),
                language=cmd.language,
                group_type=cmd.group_type,
                desired_start_date=desired,
                phone=phone,
                notification_language=cmd.notification_language,
                birth_year=child.birth_date.year,
                district_code=child.district_code,
                region_code=district.region_code if district else None,
                active=True,
                created_at=now,
                choices=[
                    Choice(app_id, rank, kg, joined_at=now, sibling_priority=kg in sibling_kgs)
                    for rank, kg in enumerate(ids, start=1)
                ],
            )
            await uow.applications.add(app)
            for claim in claims:
                claim.id = await uow.claims.add(claim)
                await uow.journal.audit(
                    actor,
                    AuditRecord("claim", str(claim.id), "CLAIM_FOUND", None, _claim_snapshot(claim), None, app_id),
                    now,
                )
            next_check = self._next_benefit_check(now, 0 if benefits_ok else 1)
            await uow.applications.schedule_benefit_check(app_id, next_check, 0 if benefits_ok else 1)
            await uow.journal.audit(
                actor,
                AuditRecord("application", str(app_id), "SUBMITTED", None, _snapshot(app), None, app_id),
                now,
            )
            await self._queue_moves(uow, app, set(), {c.kindergarten_id for c in app.choices}, now, "JOINED")
            positions = await uow.applications.positions(app_id)
            await self._notify(uow, app, MessageKind.POSITIONS_ASSIGNED, now, positions=positions)
            await uow.seats.publish([FeedEvent(EventStream.APPLICATION, "STATUS_CHANGED", application_id=app.id)], now)
            await self._allocate(uow, await uow.seats.groups_with_free_seats(ids), now)
            await uow.commit()
        return app

    async def _check_kindergartens(
        self, uow: UnitOfWork, ids: list[int], birth_year: int, language: Language, group_type: GroupType
    ) -> dict[int, Kindergarten]:
        kindergartens = await uow.places.kindergartens(ids)
        for kg_id in ids:
            if kg_id not in kindergartens:
                raise access.not_found(f"kindergarten {kg_id}", "kindergartenIds")
        groups = await uow.places.groups_of(ids)
        for kg_id in ids:
            own: list[Group] = [g for g in groups if g.kindergarten_id == kg_id]
            if not rules.fitting_groups(own, birth_year, language, group_type):
                raise DomainError(
                    ErrorCode.NO_SUITABLE_GROUP,
                    f"kindergarten {kg_id} has no {language.value} {group_type.value} group for {birth_year}",
                    "kindergartenIds",
                )
        return kindergartens

    # --- changes --------------------------------------------------------------------------------

    async def _load_owned(self, uow: UnitOfWork, actor: Actor, application_id: str) -> Application:
        app_id = rules.object_id(application_id)
        app = await uow.applications.get(app_id, for_update=True) if app_id else None
        if app is None:
            raise access.not_found("application", "applicationId")
        reps = await uow.persons.representatives(app.child_iin)
        areas = await uow.applications.areas(app.id)
        if not access.can_see_application(actor, reps, areas):
            raise access.not_found("application", "applicationId")
        return app

    async def change_choices(self, actor: Actor, application_id: str, kindergarten_ids: Sequence[str]) -> Application:
        access.forbid_unless(actor, Role.CITIZEN)
        ids = rules.parse_ids(kindergarten_ids, "kindergartenIds")
        rules.check_choices(ids)
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            app = await self._load_owned(uow, actor, application_id)
            live = await uow.seats.live_offer(app.id)
            if app.status not in (ApplicationStatus.QUEUED, ApplicationStatus.ENROLLED) or not app.active or live:
                raise DomainError(
                    ErrorCode.INVALID_STATE,
                    f"choices cannot change while the application is {app.status.value}"
                    + (" with a live offer" if live else ""),
                    "applicationId",
                )
            held = {c.kindergarten_id for c in app.choices if c.held_here}
            if set(app.dropped_kindergartens) & set(ids):
                raise DomainError(
                    ErrorCode.INVALID_INPUT,
                    "kindergartens ranked below the enrolment cannot be added back",
                    "kindergartenIds",
                )
            if held - set(ids):
                raise DomainError(
                    ErrorCode.INVALID_INPUT,
                    "the kindergarten the child is enrolled in must stay listed",
                    "kindergartenIds",
                )
            await self._check_kindergartens(uow, ids, app.birth_year, app.language, app.group_type)
            reps = await uow.persons.representatives(app.child_iin)
            siblings = set(await uow.persons.children_of_all(reps)) - {app.child_iin}
            sibling_kgs = await uow.applications.sibling_kindergartens(sorted(siblings))
            before = _snapshot(app)
            old_positions = await uow.applications.positions(app.id)
            old = {c.kindergarten_id: c for c in app.choices}
            app.choices = [
                (
                    dataclasses.replace(old[kg], rank=rank)
                    if kg in old
                    else Choice(app.id, rank, kg, joined_at=now, sibling_priority=kg in sibling_kgs)
                )
                for rank, kg in enumerate(ids, start=1)
            ]
            await uow.applications.save(app)
            await self._queue_moves(uow, app, set(old), set(ids), now, "CHOICES_CHANGED")
            positions = await uow.applications.positions(app.id)
            await self._record_own_moves(uow, app, old_positions, positions, now, "CHOICES_CHANGED")
            await uow.journal.audit(
                actor,
                AuditRecord("application", str(app.id), "CHOICES_CHANGED", before, _snapshot(app), None, app.id),
                now,
            )
            await self._notify(uow, app, MessageKind.POSITIONS_CHANGED, now, positions=positions)
            await uow.seats.publish([FeedEvent(EventStream.APPLICATION, "CHOICES_CHANGED", application_id=app.id)], now)
            if held:
                # Choices now ranked below the enrolment are dropped, as after signing.
                enrolled_rank = min(c.rank for c in app.choices if c.kindergarten_id in held)
                below = {c.kindergarten_id for c in app.choices if c.rank > enrolled_rank}
                app.dropped_kindergartens = sorted(set(app.dropped_kindergartens) | below)
                await self._drop_choices(uow, app, below, now, "CHOICES_CHANGED")
            await self._allocate(uow, await uow.seats.groups_with_free_seats(ids), now)
            await uow.commit()
        return app

    async def withdraw_application(self, actor: Actor, application_id: str, reason: str | None) -> Application:
        access.forbid_unless(actor, Role.CITIZEN, Role.AKIMAT_OPERATOR)
        if actor.role == Role.AKIMAT_OPERATOR and not (reason and reason.strip()):
            raise DomainError(ErrorCode.INVALID_INPUT, "an operator must give a reason", "reason")
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            app = await self._load_owned(uow, actor, application_id)
            if not app.active or app.status.final:
                raise DomainError(ErrorCode.INVALID_STATE, f"the application is {app.status.value}", "applicationId")
            freed = []
            live = await uow.seats.live_offer(app.id, for_update=True)
            if live is not None:
                # The offer is cancelled and its seat goes to the next child at once.
                freed.append(await self._end_offer(uow, actor, app, live, OfferStatus.CANCELLED, now, reason))
            await self._stop_waiting(
                uow,
                actor,
                app,
                ApplicationStatus.WITHDRAWN,
                "WITHDRAWN",
                reason,
                MessageKind.APPLICATION_WITHDRAWN,
                now,
            )
            await uow.seats.publish([FeedEvent(EventStream.APPLICATION, "STATUS_CHANGED", application_id=app.id)], now)
            await self._allocate(uow, freed, now)
            await uow.commit()
        return app

    # --- priority claims ------------------------------------------------------------------------

    async def _load_claim(self, uow: UnitOfWork, actor: Actor, claim_id: str) -> tuple[PriorityClaim, Application]:
        cid = rules.object_id(claim_id)
        claim = await uow.claims.get(cid, for_update=True) if cid else None
        if claim is None:
            raise access.not_found("claim", "claimId")
        app = await uow.applications.get(claim.application_id, for_update=True)
        # Claims are verified by operators of the child's area only.
        if app is None or not access.in_area(actor, app.region_code, app.district_code):
            raise access.not_found("claim", "claimId")
        return claim, app

    async def verify_claim(self, actor: Actor, claim_id: str, approve: bool, note: str | None) -> PriorityClaim:
        access.forbid_unless(actor, Role.AKIMAT_OPERATOR)
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            claim, app = await self._load_claim(uow, actor, claim_id)
            if claim.status not in (ClaimStatus.PENDING_MANUAL, ClaimStatus.EXPIRED):
                raise DomainError(ErrorCode.INVALID_STATE, f"the claim is {claim.status.value}", "claimId")
            new = ClaimStatus.VERIFIED if approve else ClaimStatus.REJECTED
            await self._set_claim(uow, actor, claim, app, new, note, now)
            await uow.commit()
        return claim

    async def revoke_claim(self, actor: Actor, claim_id: str, note: str | None) -> PriorityClaim:
        access.forbid_unless(actor, Role.AKIMAT_OPERATOR)
        if not (note and note.strip()):
            raise DomainError(ErrorCode.INVALID_INPUT, "a revocation needs a note", "note")
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            claim, app = await self._load_claim(uow, actor, claim_id)
            if claim.status != ClaimStatus.VERIFIED:
                raise DomainError(ErrorCode.INVALID_STATE, f"the claim is {claim.status.value}", "claimId")
            await self._set_claim(uow, actor, claim, app, ClaimStatus.REVOKED, note, now)
            await uow.commit()
        return claim

    async def _set_claim(
        self,
        uow: UnitOfWork,
        actor: Actor,
        claim: PriorityClaim,
        app: Application,
        status: ClaimStatus,
        note: str | None,
        now: dt.datetime,
    ) -> None:
        before = _claim_snapshot(claim)
        await uow.claims.set_status(claim.id, status, actor, note, now)
        claim.status = status
        await uow.journal.audit(
            actor,
            AuditRecord("claim", str(claim.id), f"CLAIM_{status.value}", before, _claim_snapshot(claim), note, app.id),
            now,
        )
        kind = {
            ClaimStatus.VERIFIED: MessageKind.CLAIM_VERIFIED,
            ClaimStatus.REJECTED: MessageKind.CLAIM_REJECTED,
            ClaimStatus.EXPIRED: MessageKind.CLAIM_EXPIRED,
            ClaimStatus.REVOKED: MessageKind.CLAIM_REVOKED,
        }[status]
        await self._notify(uow, app, kind, now, category=claim)
        await uow.seats.publish([FeedEvent(EventStream.APPLICATION, "CLAIM_CHANGED", application_id=app.id)], now)
        await self._retier(uow, actor, app, now)

    async def _retier(self, uow: UnitOfWork, actor: Actor, app: Application, now: dt.datetime) -> None:
        """Recompute the tier from the claims; the queue date never changes."""
        tier = rules.tier_of(await uow.claims.for_application(app.id))
        if tier == app.tier:
            return
        before = _snapshot(app)
        old_positions = await uow.applications.positions(app.id)
        standing = {c.kindergarten_id for c in app.choices if not c.held_here} if app.in_queue else set()
        await self._queue_moves(uow, app, standing, set(), now, "TIER_CHANGED")
        app.tier = tier
        await uow.applications.save(app)
        reason = "PRIORITY_JOINED" if tier != PriorityTier.GENERAL else "TIER_CHANGED"
        await self._queue_moves(uow, app, set(), standing, now, reason)
        positions = await uow.applications.positions(app.id)
        await self._record_own_moves(uow, app, old_positions, positions, now, "TIER_CHANGED")
        await uow.journal.audit(
            actor,
            AuditRecord("application", str(app.id), "TIER_CHANGED", before, _snapshot(app), None, app.id),
            now,
        )
        await uow.seats.publish([FeedEvent(EventStream.APPLICATION, "POSITION_CHANGED", application_id=app.id)], now)
        # Offers record the tier they were made on: a live one made on a better tier is cancelled.
        freed = [
            await self._end_offer(uow, actor, app, o, OfferStatus.CANCELLED, now, "priority revoked")
            for o in await uow.seats.live_offers_above_tier(app.id, tier)
        ]
        kgs = [c.kindergarten_id for c in app.choices]
        await self._allocate(uow, [*freed, *await uow.seats.groups_with_free_seats(kgs)], now)

    # --- places ---------------------------------------------------------------------------------

    async def create_kindergarten(self, actor: Actor, cmd: NewKindergarten) -> int:
        access.forbid_unless(actor, Role.AKIMAT_OPERATOR)
        now = self._clock.now()
        for name, value in (
            ("externalId", cmd.external_id),
            ("nameKk", cmd.name_kk),
            ("nameRu", cmd.name_ru),
        ):
            if not value.strip():
                raise DomainError(ErrorCode.INVALID_INPUT, f"{name} must not be empty", name)
        async with self._uow() as uow:
            district = await uow.places.district(cmd.district_code)
            if district is None or not access.in_area(actor, district.region_code, district.code):
                raise access.not_found("district", "districtCode")
            if await uow.places.kindergarten_by_external_id(cmd.external_id) is not None:
                raise DomainError(ErrorCode.INVALID_INPUT, "externalId is already registered", "externalId")
            kg_id = await uow.places.add_kindergarten(
                cmd.external_id,
                cmd.district_code,
                cmd.name_kk,
                cmd.name_ru,
                cmd.address,
                cmd.ownership,
                cmd.state_order,
            )
            after = {"externalId": cmd.external_id, "districtCode": cmd.district_code, "nameRu": cmd.name_ru}
            await uow.journal.audit(
                actor, AuditRecord("kindergarten", str(kg_id), "KINDERGARTEN_CREATED", None, after, None), now
            )
            await uow.commit()
        return kg_id

    async def create_group(self, actor: Actor, cmd: NewGroup) -> int:
        access.forbid_unless(actor, Role.AKIMAT_OPERATOR)
        now = self._clock.now()
        if cmd.birth_year_from > cmd.birth_year_to:
            raise DomainError(ErrorCode.INVALID_INPUT, "birthYearFrom is after birthYearTo", "birthYearFrom")
        if not 2000 <= cmd.birth_year_from <= 2100 or not 2000 <= cmd.birth_year_to <= 2100:
            raise DomainError(ErrorCode.INVALID_INPUT, "birth years must be real years", "birthYearFrom")
        if cmd.capacity < 0 or cmd.capacity > 1000:
            raise DomainError(ErrorCode.INVALID_INPUT, "capacity must be between 0 and 1000", "capacity")
        if not cmd.external_id.strip():
            raise DomainError(ErrorCode.INVALID_INPUT, "externalId must not be empty", "externalId")
        kg_ids = rules.parse_ids([cmd.kindergarten_id], "kindergartenId")
        async with self._uow() as uow:
            kg = (await uow.places.kindergartens(kg_ids)).get(kg_ids[0])
            if kg is None or not access.in_area(actor, kg.region_code, kg.district_code):
                raise access.not_found("kindergarten", "kindergartenId")
            if any(g.external_id == cmd.external_id for g in await uow.places.groups_of([kg.id])):
                raise DomainError(ErrorCode.INVALID_INPUT, "the group externalId is already used", "externalId")
            group_id = await uow.places.add_group(
                kg.id,
                cmd.external_id,
                cmd.birth_year_from,
                cmd.birth_year_to,
                cmd.language,
                cmd.group_type,
                cmd.capacity,
            )
            after = {"kindergartenId": kg.id, "externalId": cmd.external_id, "capacity": cmd.capacity}
            await uow.journal.audit(actor, AuditRecord("group", str(group_id), "GROUP_CREATED", None, after, None), now)
            await uow.commit()
        return group_id

    async def set_group_capacity(self, actor: Actor, group_id: str, capacity: int, reason: str | None) -> int:
        access.forbid_unless(actor, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
        if capacity < 0 or capacity > 1000:
            raise DomainError(ErrorCode.INVALID_INPUT, "capacity must be between 0 and 1000", "capacity")
        gid = rules.parse_ids([group_id], "groupId")[0]
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            group = await uow.places.group(gid, for_update=True)
            kg = (await uow.places.kindergartens([group.kindergarten_id])).get(group.kindergarten_id) if group else None
            if (
                group is None
                or kg is None
                or not access.can_manage_kindergarten(actor, kg.external_id, kg.region_code, kg.district_code)
            ):
                raise access.not_found("group", "groupId")
            if capacity < group.occupied or not await uow.places.set_capacity(gid, capacity):
                raise DomainError(
                    ErrorCode.CAPACITY_BELOW_OCCUPIED,
                    f"{group.occupied} seats are occupied (enrolled or held by live offers)",
                    "capacity",
                )
            await uow.journal.audit(
                actor,
                AuditRecord(
                    "group",
                    str(gid),
                    "CAPACITY_CHANGED",
                    {"capacity": group.capacity},
                    {"capacity": capacity},
                    reason,
                ),
                now,
            )
            await self._vacancy(uow, "CAPACITY_CHANGED", kg.id, gid, now)
            await self._allocate(uow, [gid], now)
            await uow.commit()
        return gid

    # --- worker passes --------------------------------------------------------------------------

    async def expire_manual_claims(self, limit: int = 100) -> int:
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            ids = await uow.claims.due_manual(now, limit)
            for cid in ids:
                claim = await uow.claims.get(cid)
                app = await uow.applications.get(claim.application_id, for_update=True) if claim else None
                if claim is not None and app is not None:
                    await self._set_claim(uow, SYSTEM, claim, app, ClaimStatus.EXPIRED, "manual window passed", now)
            await uow.commit()
        return len(ids)

    async def age_out(self, limit: int = 200) -> int:
        now = self._clock.now()
        today = now.astimezone(ALMATY).date()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            ids = await uow.applications.due_for_aging(today, limit)
            for app_id in ids:
                app = await uow.applications.get(app_id, for_update=True)
                if app is None:
                    continue
                await self._stop_waiting(
                    uow,
                    SYSTEM,
                    app,
                    ApplicationStatus.AGED_OUT,
                    "LEFT_QUEUE",
                    None,
                    MessageKind.APPLICATION_AGED_OUT,
                    now,
                )
            await uow.commit()
        return len(ids)

    async def recheck_benefits(self, limit: int = 50) -> int:
        """Daily re-check of waiting applications; a registry that is down is retried with back-off."""
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.seats.lock_allocation()
            ids = await uow.applications.due_for_benefit_check(now, limit)
            for app_id in ids:
                app = await uow.applications.get(app_id, for_update=True)
                if app is None:
                    continue
                reps = await uow.persons.representatives(app.child_iin)
                failures = await uow.applications.benefit_check_failures(app_id)
                try:
                    findings = await self._benefits.findings([app.child_iin, *reps])
                except Exception:
                    await uow.applications.schedule_benefit_check(
                        app_id, self._next_benefit_check(now, failures + 1), failures + 1
                    )
                    continue
                known = {(c.category, c.subject_iin, c.evidence_id) for c in await uow.claims.for_application(app_id)}
                policy = self._policies.for_region(app.region_code)
                for f in findings:
                    if (f.category, f.subject_iin, f.evidence_id) in known:
                        continue
                    known.add((f.category, f.subject_iin, f.evidence_id))
                    claim = self._claim(app_id, f, policy, now)
                    claim.id = await uow.claims.add(claim)
                    await uow.journal.audit(
                        SYSTEM,
                        AuditRecord("claim", str(claim.id), "CLAIM_FOUND", None, _claim_snapshot(claim), None, app_id),
                        now,
                    )
                    if claim.status == ClaimStatus.VERIFIED:
                        await self._notify(uow, app, MessageKind.CLAIM_VERIFIED, now, category=claim)
                await self._retier(uow, SYSTEM, app, now)
                await uow.applications.schedule_benefit_check(app_id, self._next_benefit_check(now, 0), 0)
            await uow.commit()
        return len(ids)

    def _claim(self, app_id: int, finding: BenefitFinding, policy: Policy, now: dt.datetime) -> PriorityClaim:
        """A registry finding as a claim: closed registries need an operator within the manual window."""
        manual = finding.needs_manual_check
        return PriorityClaim(
            id=0,
            application_id=app_id,
            category=finding.category,
            status=ClaimStatus.PENDING_MANUAL if manual else ClaimStatus.VERIFIED,
            subject_iin=finding.subject_iin,
            evidence_id=finding.evidence_id,
            source=BENEFITS_SOURCE,
            manual_deadline=policy.manual_verification_window.end(now, self._calendar) if manual else None,
        )

    @staticmethod
    def _next_benefit_check(now: dt.datetime, failures: int) -> dt.datetime:
        if failures:
            return now + min(dt.timedelta(minutes=2**failures), dt.timedelta(hours=6))
        # Once a day, in the quiet hours after midnight in Almaty.
        day = now.astimezone(ALMATY).date() + dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time(1, 0), ALMATY).astimezone(dt.UTC)

    # --- shared steps ---------------------------------------------------------------------------

    async def _stop_waiting(
        self,
        uow: UnitOfWork,
        actor: Actor,
        app: Application,
        status: ApplicationStatus,
        queue_reason: str,
        reason: str | None,
        message: MessageKind,
        now: dt.datetime,
    ) -> None:
        """Waiting ends for good; an ENROLLED application keeps its enrolment and stops waiting for better."""
        before = _snapshot(app)
        leaving = {c.kindergarten_id for c in app.choices if not c.held_here} if app.in_queue else set()
        if app.status == ApplicationStatus.ENROLLED:
            app.choices = [c for c in app.choices if c.held_here]
        else:
            app.status = status
        app.active = False
        await uow.applications.save(app)
        await self._queue_moves(uow, app, leaving, set(), now, queue_reason)
        await uow.journal.audit(
            actor, AuditRecord("application", str(app.id), status.value, before, _snapshot(app), reason, app.id), now
        )
        await self._notify(uow, app, message, now)

    async def _queue_moves(
        self,
        uow: UnitOfWork,
        app: Application,
        left: set[int],
        joined: set[int],
        now: dt.datetime,
        reason: str,
    ) -> None:
        """Record choices leaving and joining queues, so positions behind them can explain their moves."""
        gone, new = left - joined, joined - left
        if not (gone or new):
            return
        sibling = {c.kindergarten_id for c in app.choices if c.sibling_priority}
        events = [
            QueueEvent(
                now,
                QueueKey(kg, app.birth_year, app.language, app.group_type),
                rules.queue_order(app.tier, kg in sibling, app.queue_date, app.id),
                delta,
                reason,
            )
            for kgs, delta in ((gone, -1), (new, +1))
            for kg in sorted(kgs)
        ]
        await uow.journal.queue_events(app.id, events)

    async def _record_own_moves(
        self,
        uow: UnitOfWork,
        app: Application,
        before: dict[int, int | None],
        after: dict[int, int | None],
        now: dt.datetime,
        reason: str,
    ) -> None:
        events = []
        for kg, pos in after.items():
            old = before.get(kg)
            if pos is not None and old is not None and pos != old:
                events.append(
                    QueueEvent(
                        now,
                        QueueKey(kg, app.birth_year, app.language, app.group_type),
                        rules.queue_order(app.tier, False, app.queue_date, app.id),
                        0,
                        reason,
                        own_delta=pos - old,
                    )
                )
        if events:
            await uow.journal.queue_events(app.id, events)

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
        if not app.phone:
            return
        ranked = tuple(
            (c.rank, (positions or {}).get(c.kindergarten_id)) for c in sorted(app.choices, key=lambda c: c.rank)
        )
        params = MessageParams(
            application_number=app.number,
            positions=ranked if positions is not None else (),
            category=category.category if category else None,
            kindergarten_name=(
                (kindergarten.name_kk if app.notification_language == Language.KK else kindergarten.name_ru)
                if kindergarten
                else None
            ),
            deadline=deadline,
        )
        text = render(kind, app.notification_language, params)
        await uow.journal.message(OutboxMessage(app.phone, text, app.notification_language, kind.value, app.id), now)


__all__ = ["NewGroup", "NewKindergarten", "Person", "QueueService", "SubmitApplication"]
