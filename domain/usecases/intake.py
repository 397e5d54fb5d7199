"""The summer intake run (docs/product.md §10): an operator of a region creates a draft, reads it, and publishes
it, or discards it and creates another.

A draft is computed from the data as it is (domain/intake.py) and checked by the independent checker
(domain/stability.py), whose verdict the run keeps. Publishing locks the region's groups, computes the run
again on the data as it is then (listing what changed since the draft), and makes every offer at once in one
transaction: offers for 1 September Y, answered within the region's window from now, superseding a live
offer the child holds elsewhere, one message per family, and the events for subscribers."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from domain import access, age, inputs, intake, school_year, stability
from domain.errors import Contention, DomainError
from domain.intake import GroupResult, Inputs, IntakeChild, IntakeRun, IntakeRunStatus, Matching, Totals
from domain.messages import MessageKind
from domain.model import SYSTEM, Actor, Application, ErrorCode, Offer, OfferStatus, Role
from domain.policy import PolicyBook
from domain.ports import IN_A_THREAD, UNOBSERVED, Clock, Observer, Offload
from domain.repositories import UnitOfWork
from domain.timezone import local_date
from domain.usecases.allocator import Allocator
from domain.usecases.effects import Effects
from domain.usecases.seats import Seats


@dataclass(frozen=True, slots=True)
class Intake:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    policies: PolicyBook
    allocator: Allocator
    seats: Seats
    observer: Observer = UNOBSERVED  # times drafts and publications (api/metrics.py)
    offload: Offload = IN_A_THREAD  # where the matching runs (decision 101; the service's: api/offload.py)

    async def create(self, actor: Actor, region_code: str, year: int) -> IntakeRun:
        _forbid_unless_region_operator(actor, region_code)
        now = self.clock.now()
        school_year.check_intake_year(year, local_date(now))
        with self.observer.intake("draft"):
            return await self._create(actor, region_code, year, now)

    async def _create(self, actor: Actor, region_code: str, year: int, now: dt.datetime) -> IntakeRun:
        async with self.uow() as uow:
            for run in await uow.intake.current(region_code, year):
                what = "published" if run.status == IntakeRunStatus.PUBLISHED else "drafted: discard it first"
                raise DomainError(ErrorCode.INVALID_STATE, f"the run for {year} is already {what}", "schoolYear")
            by = actor.subject or ""
            run_id, stored = await uow.intake.add(region_code, year, *self._reading(region_code, year), at=now, by=by)
            done = await self.offload.run(draft_step, stored)
            totals, verdict = done.totals, done.verdict
            await uow.intake.computed(run_id, totals, verdict, done.groups)
            Effects(uow, actor, now).record(
                "intake_run", run_id, "INTAKE_DRAFTED", None, _summary(totals, verdict), None
            )
            await uow.commit()
        return IntakeRun(run_id, region_code, year, IntakeRunStatus.DRAFT, now, by, totals, verdict)

    async def discard(self, actor: Actor, run_id: str) -> IntakeRun:
        rid = inputs.ids([run_id], "intake run", "runId")[0]
        now = self.clock.now()
        async with self.uow() as uow:
            run = await self._draft(uow, actor, rid)
            await uow.intake.discarded(rid, now)
            Effects(uow, actor, now).record(
                "intake_run", rid, "INTAKE_DISCARDED", {"status": "DRAFT"}, {"status": "DISCARDED"}
            )
            await uow.commit()
        return run

    async def publish(self, actor: Actor, run_id: str) -> IntakeRun:
        rid = inputs.ids([run_id], "intake run", "runId")[0]
        with self.observer.intake("publish"):
            return await self._publish(actor, rid, self.clock.now())

    async def _publish(self, actor: Actor, rid: int, now: dt.datetime) -> IntakeRun:
        async with self.uow() as uow:
            run = await self._draft(uow, actor, rid)
            fx = Effects(uow, actor, now)
            system = Effects(uow, SYSTEM, now)  # the offers are Kezek's, as the allocator's are
            await uow.intake.lock_region(run.region_code)
            stored = await uow.intake.read_again(
                rid, run.region_code, run.school_year, *self._reading(run.region_code, run.school_year)
            )
            done = await self.offload.run(publication_step, stored)
            assert done.placed is not None
            draft = await uow.intake.group_results(rid)
            offered = [a for r in (*draft, *done.groups) for a in r.offered]
            changes = intake.changes(draft, done.groups, await uow.intake.numbers(offered))
            await self._offer(system, run, done.placed, done.matching, rid)
            await uow.intake.published(rid, now, done.totals, done.verdict, changes, done.groups)
            fx.record(
                "intake_run",
                rid,
                "INTAKE_PUBLISHED",
                {"status": "DRAFT"},
                {"status": "PUBLISHED", **_summary(done.totals, done.verdict), "changes": len(changes)},
            )
            await uow.commit()
        await self.allocator.run(system.allocations)  # seats superseded offers freed
        async with self.uow() as uow:
            published = await uow.intake.get(rid)
        assert published is not None
        return published

    async def _draft(self, uow: UnitOfWork, actor: Actor, run_id: int) -> IntakeRun:
        access.forbid_unless(actor, Role.AKIMAT_OPERATOR)
        run = await uow.intake.get(run_id, for_update=True)
        if run is None or not access.in_area(actor, run.region_code, None):
            raise access.not_found("intake run", "runId")
        _forbid_unless_region_operator(actor, run.region_code)
        if run.status != IntakeRunStatus.DRAFT:
            raise DomainError(ErrorCode.INVALID_STATE, f"the run is {run.status.value}", "runId")
        return run

    def _reading(self, region_code: str, year: int) -> tuple[dt.date, dt.date, tuple[int, int] | None]:
        """What the region's inputs for the year are read with: the day, born by, and the primary ratio."""
        policy = self.policies.for_region(region_code)
        day = school_year.first_day(year)
        return day, age.born_by(day, policy.min_admission_age_months), policy.primary_ratio

    async def _offer(self, fx: Effects, run: IntakeRun, found: Inputs, matching: Matching, run_id: int) -> None:
        uow = fx.uow
        policy = self.policies.for_region(run.region_code)
        starts_on = school_year.first_day(run.school_year)
        groups = {g.id: g for g in found.groups}
        children = {c.application_id: c for c in found.children}
        apps = {a.id: a for a in await uow.applications.get_many(sorted(matching.placed))}
        for app_id, group_id in matching.placed.items():
            app = apps.get(app_id)
            if app is None or not _still_candidate(app, children[app_id], groups[group_id].kindergarten_id):
                # Changed between the reading and its lock (a change the region's locks do not hold back).
                raise Contention(f"application {app_id} changed while the run was published")
        live = await uow.offers.live_for_many(sorted(matching.placed))
        for app_id, offer in sorted(live.items()):
            # Held at a kindergarten ranked lower (the run proposed only above it): superseded, its seat freed.
            freed = await self.seats.end_offer(
                fx, apps[app_id], offer, OfferStatus.SUPERSEDED, "the intake run", tell=False
            )
            fx.allocate([freed])
        offers = [
            self.seats.draft(
                apps[app_id],
                group_id,
                groups[group_id].kindergarten_id,
                policy,
                apps[app_id].sibling_group_id,
                starts_on,
                fx.now,
                run_id,
            )
            for app_id, group_id in matching.placed.items()
        ]
        for offer, offer_id in zip(offers, await uow.offers.add_many(offers), strict=True):
            offer.id = offer_id
        free = {
            g.id: g.free_seats for g in await uow.places.groups_of(sorted({g.kindergarten_id for g in found.groups}))
        }
        for offer in offers:
            await self.seats.made(
                fx, apps[offer.application_id], offer, free.get(offer.group_id), save=False, tell=False
            )
        await _tell_families(fx, [apps[o.application_id] for o in offers], offers)


@dataclass(frozen=True, slots=True)
class Computed:
    """What a run's pure step computes from its inputs as stored: the matching, the independent checker's
    verdict on it, the run's totals and groups; for a publication also `placed`, the inputs of the children
    placed and of their groups (what making the offers reads: the rest of the inputs stays in the step)."""

    matching: Matching
    verdict: dict[str, object]
    totals: Totals
    groups: list[GroupResult]
    placed: Inputs | None = None


def draft_step(stored: str) -> Computed:
    """A draft's pure step, where `Offload` runs it (module-level, so that it pickles)."""
    return _computed(stored, placed=False)


def publication_step(stored: str) -> Computed:
    return _computed(stored, placed=True)


def _computed(stored: str, *, placed: bool) -> Computed:
    found = intake.inputs_from(stored)
    prefs = intake.preferences(found)  # the matching's and the results' (the checker finds its own)
    matching = intake.match(found, prefs)
    verdict = stability.check(found, matching).as_json()
    totals, groups = intake.results(found, matching, prefs)
    if not placed:
        return Computed(matching, verdict, totals, groups)
    where = set(matching.placed.values())
    kept = dataclasses.replace(
        found,
        groups=tuple(g for g in found.groups if g.id in where),
        children=tuple(c for c in found.children if c.application_id in matching.placed),
    )
    return Computed(matching, verdict, totals, groups, kept)


async def _tell_families(fx: Effects, apps: list[Application], offers: list[Offer]) -> None:
    """One message per family (the phone the applications give): the offer, or how many, and the deadline."""
    families: dict[str, list[tuple[Application, Offer]]] = {}
    for app, offer in zip(apps, offers, strict=True):
        if app.phone:
            families.setdefault(app.phone, []).append((app, offer))
    kindergartens = await fx.uow.places.kindergartens(sorted({o.kindergarten_id for o in offers}))
    for members in families.values():
        first, offer = members[0]
        if len(members) == 1:
            await fx.message(
                first,
                MessageKind.INTAKE_OFFER,
                kindergarten=kindergartens[offer.kindergarten_id],
                deadline=offer.respond_by,
                starts_on=offer.starts_on,
            )
        else:
            await fx.message(
                first,
                MessageKind.INTAKE_OFFERS,
                deadline=offer.respond_by,
                starts_on=offer.starts_on,
                numbers=[a.number for a, _ in members],
            )


def _still_candidate(app: Application, child: IntakeChild, kindergarten_id: int) -> bool:
    """The locked application is the candidate the run read: active, waiting with the same tier, standing at
    the kindergarten, holding nothing ranked above it."""
    rank = app.rank_of(kindergarten_id)
    held = [c.rank for c in app.choices if c.held_here]
    return (
        app.active
        and app.in_queue
        and app.tier == child.tier
        and rank is not None
        and kindergarten_id not in app.held()
        and (not held or min(held) > rank)
    )


def _forbid_unless_region_operator(actor: Actor, region_code: str) -> None:
    """Runs are the region's: created, published and discarded by an operator of the whole region."""
    access.forbid_unless(actor, Role.AKIMAT_OPERATOR)
    if not access.in_area(actor, region_code, None) or actor.district_code is not None:
        raise access.not_found("region", "regionCode")


def _summary(totals: Totals, verdict: dict[str, object]) -> dict[str, object]:
    return {
        "seats": totals.seats,
        "offers": totals.offers,
        "upgrades": totals.upgrades,
        "seatsLeftFree": totals.seats_left_free,
        "stable": verdict.get("stable"),
        "envyPairs": verdict.get("envyPairs"),
    }
