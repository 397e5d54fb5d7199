"""Mutations of places: kindergartens and groups created by akimat operators, group capacities (now or from a date)."""

from __future__ import annotations

import datetime as dt
from typing import Self

import strawberry

from domain.commands import NewGroup, NewKindergarten
from domain.model import Actor, Role
from graph.common import GroupType, I, Language, Ownership, UserError
from graph.places.types import GroupNode, KindergartenNode, load_group, load_kindergarten
from graph.runner import run_mutation


@strawberry.input
class CreateKindergartenInput:
    external_id: str
    district_code: str
    name_kk: str
    name_ru: str
    address: str = ""
    ownership: Ownership = Ownership.STATE
    state_order: bool = False
    idempotency_key: str | None = None


@strawberry.input
class CreateGroupInput:
    kindergarten_id: strawberry.ID
    external_id: str
    birth_year_from: int
    birth_year_to: int
    language: Language
    group_type: GroupType = GroupType.GENERAL
    capacity: int = 0
    opens_on: dt.date | None = strawberry.field(default=None, description="Absent: the group is open at once.")
    idempotency_key: str | None = None


@strawberry.input
class SetGroupCapacityInput:
    group_id: strawberry.ID
    capacity: int
    reason: str | None = None
    from_: dt.date | None = strawberry.field(
        default=None, name="from", description="The capacity from this date (the next school year's); absent: now."
    )
    idempotency_key: str | None = None


@strawberry.type
class CreateKindergartenPayload:
    kindergarten: KindergartenNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    async def build(cls, info: I, kg_id: int | None, errors: list[UserError]) -> Self:
        return cls(kindergarten=await load_kindergarten(info, kg_id), errors=errors)


@strawberry.type
class GroupPayload:
    """What a mutation of a group answers: the group."""

    group: GroupNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    async def build(cls, info: I, group_id: int | None, errors: list[UserError]) -> Self:
        return cls(group=await load_group(info, group_id), errors=errors)


@strawberry.type
class CreateGroupPayload(GroupPayload):
    pass


@strawberry.type
class SetGroupCapacityPayload(GroupPayload):
    pass


@strawberry.mutation
async def create_kindergarten(info: I, input: CreateKindergartenInput) -> CreateKindergartenPayload:
    async def run(actor: Actor) -> int:
        return await info.context.services.queue.create_kindergarten(
            actor,
            NewKindergarten(
                external_id=input.external_id.strip(),
                district_code=input.district_code.strip(),
                name_kk=input.name_kk.strip(),
                name_ru=input.name_ru.strip(),
                address=input.address.strip(),
                ownership=input.ownership,
                state_order=input.state_order,
            ),
        )

    return await run_mutation(info, input, (Role.AKIMAT_OPERATOR,), run, CreateKindergartenPayload.build)


@strawberry.mutation
async def create_group(info: I, input: CreateGroupInput) -> CreateGroupPayload:
    async def run(actor: Actor) -> int:
        return await info.context.services.queue.create_group(
            actor,
            NewGroup(
                kindergarten_id=input.kindergarten_id,
                external_id=input.external_id.strip(),
                birth_year_from=input.birth_year_from,
                birth_year_to=input.birth_year_to,
                language=input.language,
                group_type=input.group_type,
                capacity=input.capacity,
                opens_on=input.opens_on,
            ),
        )

    return await run_mutation(info, input, (Role.AKIMAT_OPERATOR,), run, CreateGroupPayload.build)


@strawberry.mutation
async def set_group_capacity(info: I, input: SetGroupCapacityInput) -> SetGroupCapacityPayload:
    async def run(actor: Actor) -> int:
        return await info.context.services.queue.set_group_capacity(
            actor, input.group_id, input.capacity, input.reason, input.from_
        )

    roles = (Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
    return await run_mutation(info, input, roles, run, SetGroupCapacityPayload.build)
