"""Mutations of applications: submit, change the chosen kindergartens, withdraw, restore."""

from __future__ import annotations

import datetime as dt
from typing import Self

import strawberry

from domain.commands import SubmitApplication
from domain.model import Actor, Role
from graph.access import can_see_application
from graph.applications.types import ApplicationNode
from graph.common import GroupType, I, Language, UserError
from graph.runner import run_mutation


@strawberry.input
class SubmitApplicationInput:
    child_iin: str
    kindergarten_ids: list[strawberry.ID]
    language: Language
    group_type: GroupType = GroupType.GENERAL
    desired_start_date: dt.date | None = None
    phone: str | None = None
    notification_language: Language = Language.RU
    idempotency_key: str | None = None


@strawberry.input
class ChangeChoicesInput:
    application_id: strawberry.ID
    kindergarten_ids: list[strawberry.ID]
    idempotency_key: str | None = None


@strawberry.input
class WithdrawApplicationInput:
    application_id: strawberry.ID
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class RestoreApplicationInput:
    application_id: strawberry.ID
    idempotency_key: str | None = None


async def visible(info: I, app_id: int | None) -> ApplicationNode | None:
    """The application a mutation changed, when the caller may see it."""
    app = await info.context.loaders.application_by_id.load(app_id) if app_id else None
    return ApplicationNode(m=app) if app and await can_see_application(info, app) else None


@strawberry.type
class ApplicationPayload:
    """What a mutation of an application answers: the application, when the caller may see it."""

    application: ApplicationNode | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    async def build(cls, info: I, app_id: int | None, errors: list[UserError]) -> Self:
        return cls(application=await visible(info, app_id), errors=errors)


@strawberry.type
class SubmitApplicationPayload(ApplicationPayload):
    pass


@strawberry.type
class ChangeChoicesPayload(ApplicationPayload):
    pass


@strawberry.type
class WithdrawApplicationPayload(ApplicationPayload):
    pass


@strawberry.type
class RestoreApplicationPayload(ApplicationPayload):
    pass


@strawberry.mutation
async def submit_application(info: I, input: SubmitApplicationInput) -> SubmitApplicationPayload:
    async def run(actor: Actor) -> int:
        app = await info.context.services.queue.submit_application(
            actor,
            SubmitApplication(
                child_iin=input.child_iin,
                kindergarten_ids=list(input.kindergarten_ids),
                language=input.language,
                group_type=input.group_type,
                desired_start_date=input.desired_start_date,
                phone=input.phone,
                notification_language=input.notification_language,
            ),
        )
        return app.id

    return await run_mutation(info, input, (Role.CITIZEN,), run, SubmitApplicationPayload.build)


@strawberry.mutation
async def change_choices(info: I, input: ChangeChoicesInput) -> ChangeChoicesPayload:
    async def run(actor: Actor) -> int:
        queue = info.context.services.queue
        return (await queue.change_choices(actor, input.application_id, list(input.kindergarten_ids))).id

    return await run_mutation(info, input, (Role.CITIZEN,), run, ChangeChoicesPayload.build)


@strawberry.mutation
async def withdraw_application(info: I, input: WithdrawApplicationInput) -> WithdrawApplicationPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.withdraw_application(actor, input.application_id, input.reason)).id

    return await run_mutation(info, input, (Role.CITIZEN, Role.AKIMAT_OPERATOR), run, WithdrawApplicationPayload.build)


@strawberry.mutation
async def restore_application(info: I, input: RestoreApplicationInput) -> RestoreApplicationPayload:
    async def run(actor: Actor) -> int:
        return (await info.context.services.queue.restore_application(actor, input.application_id)).id

    return await run_mutation(info, input, (Role.CITIZEN,), run, RestoreApplicationPayload.build)
