"""Mutations of places: kindergartens and groups created by akimat operators, group capacities (now or from a date)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

import strawberry

from domain.commands import NewGroup, NewKindergarten
from domain.model import Actor, Role
from graph.common import ERRORS, GroupType, I, Language, Ownership, UserError, idempotency_key
from graph.places.types import GroupNode, KindergartenNode, load_group, load_kindergarten
from graph.runner import run_mutation


@strawberry.input(description="A new kindergarten in the operator's area.")
class CreateKindergartenInput:
    external_id: str = strawberry.field(description="The code the akimat's own registry uses for it; unique.")
    district_code: str = strawberry.field(description="Its district or town: in the operator's area.")
    name_kk: str = strawberry.field(description="The name in Kazakh.")
    name_ru: str = strawberry.field(description="The name in Russian.")
    address: str = strawberry.field(default="", description="The street address.")
    ownership: Ownership = strawberry.field(default=Ownership.STATE, description="State or private.")
    state_order: bool = strawberry.field(default=False, description="Whether it works under a state order.")
    idempotency_key: str | None = idempotency_key()


@strawberry.input(description="A new group of a kindergarten in the operator's area.")
class CreateGroupInput:
    kindergarten_id: strawberry.ID = strawberry.field(description="Its kindergarten.")
    external_id: str = strawberry.field(description="The registry's code of the group, unique in its kindergarten.")
    birth_year_from: int = strawberry.field(description="The first birth year it takes.")
    birth_year_to: int = strawberry.field(description="The last birth year it takes (birthYearFrom or later).")
    language: Language = strawberry.field(description="The language it teaches in.")
    group_type: GroupType = strawberry.field(default=GroupType.GENERAL, description="Its type.")
    capacity: int = strawberry.field(
        default=0, description="Its seats (0–1000); they are offered at once to the children waiting for them."
    )
    opens_on: dt.date | None = strawberry.field(
        default=None, description="The day the group opens (not in the past); absent: it is open at once."
    )
    idempotency_key: str | None = idempotency_key()


@strawberry.input(description="A group's new capacity.")
class SetGroupCapacityInput:
    group_id: strawberry.ID = strawberry.field(description="The group.")
    capacity: int = strawberry.field(
        description="0–1000, and never below the seats the group holds on any day it applies to "
        "(CAPACITY_BELOW_OCCUPIED)."
    )
    reason: str | None = strawberry.field(default=None, description="Why, for the audit record.")
    from_: dt.date | None = strawberry.field(
        default=None,
        name="from",
        description="The capacity from this date (not in the past): the next school year's; absent: now.",
    )
    idempotency_key: str | None = idempotency_key()


@strawberry.input(description="One group's new capacity in a list of them.")
class GroupCapacityInput:
    group_id: strawberry.ID = strawberry.field(description="The group.")
    capacity: int = strawberry.field(
        description="0–1000, and never below the seats the group holds on any day from today (CAPACITY_BELOW_OCCUPIED)."
    )


@strawberry.input(description="Many groups' new capacities, from now: all of them, or none when one is refused.")
class SetGroupCapacitiesInput:
    changes: list[GroupCapacityInput] = strawberry.field(
        description="1–100 distinct groups the caller manages. An error names the entry at fault: `changes.3.capacity`."
    )
    reason: str | None = strawberry.field(default=None, description="Why, for each group's audit record.")
    idempotency_key: str | None = idempotency_key()


@strawberry.type(description="What setGroupCapacities answers.")
class SetGroupCapacitiesPayload:
    groups: list[GroupNode] = strawberry.field(
        default_factory=list,
        description="The groups as they are after the change and the offers it made, in the list's order; empty "
        "when refused.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)

    @classmethod
    async def build(cls, info: I, group_ids: list[int] | None, errors: list[UserError]) -> Self:
        found = await info.context.loaders.group_by_id.load_many(group_ids or [])
        return cls(groups=[GroupNode(m=g) for g in found if g is not None], errors=errors)


@strawberry.type(description="What createKindergarten answers.")
class CreateKindergartenPayload:
    kindergarten: KindergartenNode | None = strawberry.field(
        default=None, description="The new kindergarten; null when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)

    @classmethod
    async def build(cls, info: I, kg_id: int | None, errors: list[UserError]) -> Self:
        return cls(kindergarten=await load_kindergarten(info, kg_id), errors=errors)


@strawberry.type
class GroupPayload:
    """What a mutation of a group answers: the group."""

    group: GroupNode | None = strawberry.field(
        default=None, description="The group as it is after the change, with any offers it made; null when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)

    @classmethod
    async def build(cls, info: I, group_id: int | None, errors: list[UserError]) -> Self:
        return cls(group=await load_group(info, group_id), errors=errors)


@strawberry.type(description="What createGroup answers.")
class CreateGroupPayload(GroupPayload):
    pass


@strawberry.type(description="What setGroupCapacity answers.")
class SetGroupCapacityPayload(GroupPayload):
    pass


@strawberry.mutation(description="Operators: adds a kindergarten to the directory, in their area.")
async def create_kindergarten(
    info: I, input: Annotated[CreateKindergartenInput, strawberry.argument(description="The kindergarten.")]
) -> CreateKindergartenPayload:
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


@strawberry.mutation(
    description="Operators: adds a group to a kindergarten of their area; its seats are offered at once."
)
async def create_group(
    info: I, input: Annotated[CreateGroupInput, strawberry.argument(description="The group.")]
) -> CreateGroupPayload:
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


@strawberry.mutation(
    description="Staff of the kindergarten, operators of its area: sets a group's capacity. The seats it frees are "
    "offered at once, in the same transaction, each to the first child in line who may take it; the answer shows "
    "them held. No child loses a seat or an offer to a lower capacity: that is refused."
)
async def set_group_capacity(
    info: I, input: Annotated[SetGroupCapacityInput, strawberry.argument(description="The group and its capacity.")]
) -> SetGroupCapacityPayload:
    async def run(actor: Actor) -> int:
        return await info.context.services.queue.set_group_capacity(
            actor, input.group_id, input.capacity, input.reason, input.from_
        )

    roles = (Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
    return await run_mutation(info, input, roles, run, SetGroupCapacityPayload.build)


@strawberry.mutation(
    description="Staff of a kindergarten, operators of an area: sets many groups' capacities at once, from now (the "
    "list for 1 September), in one transaction. The seats they free are offered right after it commits, each to the "
    "first child in line who may take it; the answer shows them held."
)
async def set_group_capacities(
    info: I,
    input: Annotated[SetGroupCapacitiesInput, strawberry.argument(description="The groups and their capacities.")],
) -> SetGroupCapacitiesPayload:
    async def run(actor: Actor) -> list[int]:
        return await info.context.services.queue.set_group_capacities(
            actor, [(c.group_id, c.capacity) for c in input.changes], input.reason
        )

    roles = (Role.KINDERGARTEN_STAFF, Role.AKIMAT_OPERATOR)
    return await run_mutation(info, input, roles, run, SetGroupCapacitiesPayload.build)
