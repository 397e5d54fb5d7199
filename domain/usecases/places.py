"""Places (docs/product.md §2, §10): operators register kindergartens and groups (opening at once or on a date);
staff and operators set a group's capacity, now or from a date. A raised capacity frees seats, which are
offered at once (a later date's, within the advance window)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from domain import access, inputs, places
from domain.commands import NewGroup, NewKindergarten
from domain.errors import DomainError
from domain.feed import VacancyEventKind
from domain.model import Actor, ErrorCode, Group, Kindergarten, Role
from domain.ports import Clock
from domain.repositories import UnitOfWork
from domain.timezone import local_date
from domain.usecases.allocator import Allocator
from domain.usecases.effects import Effects


@dataclass(frozen=True, slots=True)
class Places:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    allocator: Allocator

    async def create_kindergarten(self, actor: Actor, cmd: NewKindergarten) -> int:
        access.forbid_unless(actor, Role.AKIMAT_OPERATOR)
        for field, value in (("externalId", cmd.external_id), ("nameKk", cmd.name_kk), ("nameRu", cmd.name_ru)):
            inputs.required(value, field)
        async with self.uow() as uow:
            fx = Effects(uow, actor, self.clock.now())
            district = await uow.places.district(cmd.district_code)
            if district is None or not access.in_area(actor, district.region_code, district.code):
                raise access.not_found("district", "districtCode")
            if await uow.places.kindergarten_by_external_id(cmd.external_id) is not None:
                raise DomainError(ErrorCode.INVALID_INPUT, "externalId is already registered", "externalId")
            kg_id = await uow.places.add_kindergarten(cmd)
            after = {"externalId": cmd.external_id, "districtCode": cmd.district_code, "nameRu": cmd.name_ru}
            fx.record("kindergarten", kg_id, "KINDERGARTEN_CREATED", None, after)
            await uow.commit()
        return kg_id

    async def create_group(self, actor: Actor, cmd: NewGroup) -> int:
        access.forbid_unless(actor, Role.AKIMAT_OPERATOR)
        places.check_birth_years(cmd.birth_year_from, cmd.birth_year_to)
        places.check_capacity(cmd.capacity)
        inputs.required(cmd.external_id, "externalId")
        kg_id = inputs.ids([cmd.kindergarten_id], "kindergarten", "kindergartenId")[0]
        now = self.clock.now()
        places.check_not_past(cmd.opens_on, local_date(now), "opensOn")
        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            kg = await uow.places.kindergarten(kg_id)
            if kg is None or not access.in_area(actor, kg.region_code, kg.district_code):
                raise access.not_found("kindergarten", "kindergartenId")
            if any(g.external_id == cmd.external_id for g in await uow.places.groups_of([kg.id])):
                raise DomainError(ErrorCode.INVALID_INPUT, "the group externalId is already used", "externalId")
            group_id = await uow.places.add_group(kg.id, cmd)
            after = {"kindergartenId": kg.id, "externalId": cmd.external_id, "capacity": cmd.capacity}
            if cmd.opens_on is not None:
                after["opensOn"] = cmd.opens_on.isoformat()
            fx.record("group", group_id, "GROUP_CREATED", None, after)
            await self.allocator.fill(fx, [group_id])
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return group_id

    async def set_group_capacity(
        self, actor: Actor, group_id: str, capacity: int, reason: str | None, since: dt.date | None = None
    ) -> int:
        """Now, or from a later date (`since`, the next school year's capacity): never below what the group
        holds on any day it would apply to (docs/product.md §10)."""
        access.forbid_unless(actor, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
        places.check_capacity(capacity)
        gid = inputs.ids([group_id], "group", "groupId")[0]
        now = self.clock.now()
        today = local_date(now)
        places.check_not_past(since, today, "from")
        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            group, kg = _managed(actor, await uow.places.group_and_kindergarten(gid, for_update=True), "groupId")
            if since is not None and since > today:
                held = await uow.places.peak(gid, since, None)
                if capacity < held:
                    raise places.below_occupied(held, since)
                await uow.places.schedule_capacity(gid, capacity, since)
                before = {"scheduledCapacity": group.scheduled_capacity, "from": _day(group.scheduled_from)}
                fx.record(
                    "group",
                    gid,
                    "CAPACITY_SCHEDULED",
                    before,
                    {"scheduledCapacity": capacity, "from": _day(since)},
                    reason,
                )
            else:
                await _check_lower(uow, group, capacity, today)
                await uow.places.set_capacity(gid, capacity)
                fx.record(
                    "group", gid, "CAPACITY_CHANGED", {"capacity": group.capacity}, {"capacity": capacity}, reason
                )
            # The group as the change left it (its seats are the database's to count): the event's free seats
            # and the allocator's starting point, read once.
            changed = await uow.places.group_and_kindergarten(gid)
            assert changed is not None  # locked above
            await fx.vacancy(VacancyEventKind.CAPACITY_CHANGED, kg.id, gid, free_seats=changed[0].free_seats)
            await self.allocator.fill(fx, [gid], known={gid: changed})
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return gid

    async def set_group_capacities(
        self, actor: Actor, changes: Sequence[tuple[str, int]], reason: str | None
    ) -> list[int]:
        """Many groups' capacities now (the operator's list for 1 September), in one transaction: all of them
        or, when one is refused, none. The seats they free are offered right after the commit, a batch of
        groups per transaction (domain/usecases/allocator.py `run`). The groups' ids, in the list's order."""
        access.forbid_unless(actor, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
        if not 1 <= len(changes) <= MAX_CHANGES:
            raise DomainError(ErrorCode.INVALID_INPUT, f"changes must list 1 to {MAX_CHANGES} groups", "changes")
        wanted: dict[int, int] = {}
        for i, (raw, capacity) in enumerate(changes):
            with _item(i):
                places.check_capacity(capacity)
                gid = inputs.ids([raw], "group", "groupId")[0]
                if gid in wanted:
                    raise DomainError(ErrorCode.INVALID_INPUT, "the group is listed twice", "groupId")
            wanted[gid] = capacity
        index = {gid: i for i, gid in enumerate(wanted)}
        now = self.clock.now()
        today = local_date(now)
        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            # Locked in id order, as every change of several groups locks them: two lists never deadlock.
            found = await uow.places.groups_and_kindergartens(sorted(wanted), for_update=True)
            before: dict[int, tuple[Group, Kindergarten]] = {}
            for gid, capacity in wanted.items():
                with _item(index[gid]):
                    before[gid] = group, _ = _managed(actor, found.get(gid), "groupId")
                    await _check_lower(uow, group, capacity, today)
            await uow.places.set_capacities(wanted)
            after = await uow.places.groups(sorted(wanted))
            for gid, capacity in wanted.items():
                group, kg = before[gid]
                fx.record(
                    "group", gid, "CAPACITY_CHANGED", {"capacity": group.capacity}, {"capacity": capacity}, reason
                )
                await fx.vacancy(VacancyEventKind.CAPACITY_CHANGED, kg.id, gid, free_seats=after[gid].free_seats)
            fx.allocate(sorted(gid for gid, capacity in wanted.items() if capacity > before[gid][0].capacity))
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return list(wanted)


MAX_CHANGES = 100  # groups in one setGroupCapacities: one transaction holds their locks


def _managed(actor: Actor, found: tuple[Group, Kindergarten] | None, field: str) -> tuple[Group, Kindergarten]:
    """The group, when the actor manages its kindergarten; else NOT_FOUND, as for a group that does not exist."""
    if found is None or not access.can_manage_kindergarten(
        actor, found[1].external_id, found[1].region_code, found[1].district_code
    ):
        raise access.not_found("group", field)
    return found


async def _check_lower(uow: UnitOfWork, group: Group, capacity: int, today: dt.date) -> None:
    """What the group holds fits its capacity on every day (the allocator's rule): only a lower one can fall
    below it."""
    held = await uow.places.peak(group.id, today, group.scheduled_from) if capacity < group.capacity else 0
    if capacity < held:
        raise places.below_occupied(held)


@contextlib.contextmanager
def _item(i: int) -> Iterator[None]:
    """An error about one entry of the list names it: `changes.3.capacity`."""
    try:
        yield
    except DomainError as exc:
        field = f"changes.{i}.{exc.field}" if exc.field else f"changes.{i}"
        raise DomainError(exc.code, exc.message, field, **exc.params) from exc


def _day(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
