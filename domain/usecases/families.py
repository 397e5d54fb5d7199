"""A parent's family (docs/product.md §9): Kezek's snapshot of the population registry's children and
representatives, refreshed at each submission and when older than a day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from domain import access
from domain.model import Actor, Role
from domain.ports import Clock, PopulationRegistry
from domain.repositories import FamilyReads, UnitOfWork

FRESH_FOR = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Families:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    population: PopulationRegistry
    family: FamilyReads

    async def my_children(self, actor: Actor) -> list[str]:
        """The caller's children, from the snapshot, refreshed from the registry when older than a day."""
        access.forbid_unless(actor, Role.CITIZEN)
        assert actor.subject is not None
        refreshed, children = await self.family.family(actor.subject)
        if refreshed is not None and self.clock.now() - refreshed <= FRESH_FOR:
            return children
        await self.refresh(actor.subject)
        return (await self.family.family(actor.subject))[1]

    async def refresh(self, representative_iin: str) -> None:
        """Reads the person and their children from the registry into the snapshot."""
        person = await self.population.person(representative_iin)
        if person is None:
            return
        child_iins = await self.population.children(representative_iin)
        children = [p for p in [await self.population.person(i) for i in child_iins] if p is not None]
        async with self.uow() as uow:
            await uow.persons.upsert([person, *children], self.clock.now())
            await uow.persons.set_children(representative_iin, [c.iin for c in children])
            await uow.commit()
