"""Places (docs/product.md §2): operators register kindergartens and groups; staff and operators set a group's
capacity. A raised capacity frees seats, which are offered at once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from domain import access, inputs, places
from domain.commands import NewGroup, NewKindergarten
from domain.errors import DomainError
from domain.feed import VacancyEventKind
from domain.model import Actor, ErrorCode, Role
from domain.ports import Clock
from domain.repositories import UnitOfWork
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
        async with self.uow() as uow:
            fx = Effects(uow, actor, self.clock.now())
            kg = await uow.places.kindergarten(kg_id)
            if kg is None or not access.in_area(actor, kg.region_code, kg.district_code):
                raise access.not_found("kindergarten", "kindergartenId")
            if any(g.external_id == cmd.external_id for g in await uow.places.groups_of([kg.id])):
                raise DomainError(ErrorCode.INVALID_INPUT, "the group externalId is already used", "externalId")
            group_id = await uow.places.add_group(kg.id, cmd)
            after = {"kindergartenId": kg.id, "externalId": cmd.external_id, "capacity": cmd.capacity}
            fx.record("group", group_id, "GROUP_CREATED", None, after)
            await uow.commit()
        return group_id

    async def set_group_capacity(self, actor: Actor, group_id: str, capacity: int, reason: str | None) -> int:
        access.forbid_unless(actor, Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
        places.check_capacity(capacity)
        gid = inputs.ids([group_id], "group", "groupId")[0]
        async with self.uow() as uow:
            fx = Effects(uow, actor, self.clock.now())
            found = await uow.places.group_and_kindergarten(gid, for_update=True)
            group, kg = found if found else (None, None)
            if (
                group is None
                or kg is None
                or not access.can_manage_kindergarten(actor, kg.external_id, kg.region_code, kg.district_code)
            ):
                raise access.not_found("group", "groupId")
            if capacity < group.occupied:
                raise places.below_occupied(group.occupied)
            await uow.places.set_capacity(gid, capacity)
            fx.record("group", gid, "CAPACITY_CHANGED", {"capacity": group.capacity}, {"capacity": capacity}, reason)
            await fx.vacancy(VacancyEventKind.CAPACITY_CHANGED, kg.id, gid, free_seats=capacity - group.occupied)
            await self.allocator.fill(fx, [gid], {gid: (dataclasses.replace(group, capacity=capacity), kg)})
            await uow.commit()
        await self.allocator.run(fx.allocations)
        return gid
