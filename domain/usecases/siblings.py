"""Linking siblings (docs/product.md §5 "Together"): a family's waiting applications become one sibling group,
offered seats together at the first kindergarten in its ranking with a fitting free seat for every member."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from domain import access, inputs, siblings
from domain.errors import DomainError
from domain.model import Actor, Application, ErrorCode, Role
from domain.ports import Clock
from domain.repositories import UnitOfWork
from domain.usecases.effects import Effects, application_snapshot
from domain.usecases.families import Families


@dataclass(frozen=True, slots=True)
class Siblings:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    families: Families

    async def link(self, actor: Actor, application_ids: Sequence[str]) -> tuple[int, list[Application]]:
        """The new sibling group's id and its applications."""
        access.forbid_unless(actor, Role.CITIZEN)
        ids = sorted({n for n in map(inputs.object_id, application_ids) if n is not None})
        if len(ids) < 2 or len(ids) != len(application_ids):
            raise DomainError(ErrorCode.INVALID_INPUT, "link two or more distinct applications", siblings.FIELD)
        assert actor.subject is not None
        # The family's size is the population registry's: refresh the snapshot of the caller's children first.
        await self.families.refresh(actor.subject)
        now = self.clock.now()
        async with self.uow() as uow:
            fx = Effects(uow, actor, now)
            apps: list[Application] = []
            representatives: list[set[str]] = []
            for app_id in ids:
                app = await uow.applications.get(app_id, for_update=True)
                reps = set(await uow.persons.representatives(app.child_iin)) if app else set()
                if app is None or not access.is_owner(actor, reps):
                    raise access.not_found("application", siblings.FIELD)
                apps.append(app)
                representatives.append(reps)
            family = set(await uow.persons.children_of_all(sorted(set.intersection(*representatives))))
            births = [person.birth_date if (person := await uow.persons.get(a.child_iin)) else None for a in apps]
            siblings.check_linkable(apps, representatives, family, births)
            group_id = await uow.applications.new_sibling_group(now)
            for app in apps:
                before = application_snapshot(app)
                app.sibling_group_id = group_id
                await fx.application(app, "SIBLINGS_LINKED", before)
            await uow.commit()
        return group_id, apps
