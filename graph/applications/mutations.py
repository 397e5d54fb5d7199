"""Mutations of applications: submit, change the chosen kindergartens, withdraw, restore."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

import strawberry

from domain.commands import SubmitApplication
from domain.model import Actor, Application, Role
from graph.access import can_see_application
from graph.applications.types import ApplicationNode
from graph.common import ERRORS, GroupType, I, Language, UserError, idempotency_key
from graph.runner import run_mutation

KINDERGARTEN_IDS = (
    "One to four different kindergartens, most wanted first; each must have a group for the child's birth year, "
    "the application's language and type."
)


@strawberry.input(description="A child's application: for whom, where, and in which language and group type.")
class SubmitApplicationInput:
    child_iin: str = strawberry.field(
        description="The child's IIN; the caller must be the child's legal representative."
    )
    kindergarten_ids: list[strawberry.ID] = strawberry.field(description=KINDERGARTEN_IDS)
    language: Language = strawberry.field(description="The language of instruction wanted.")
    group_type: GroupType = strawberry.field(default=GroupType.GENERAL, description="The group type wanted.")
    desired_start_date: dt.date | None = strawberry.field(
        default=None,
        description="From when the child may start: today (Almaty) when left out, never in the past, and before 1 "
        "September of the year the child turns 6.",
    )
    phone: str | None = strawberry.field(
        default=None,
        description="Where SMS go, as +7XXXXXXXXXX; the applicant's phone in the population registry when left out.",
    )
    notification_language: Language = strawberry.field(
        default=Language.RU, description="The language of the SMS and of the contract."
    )
    idempotency_key: str | None = idempotency_key()


@strawberry.input(description="A new ranking of an application's kindergartens.")
class ChangeChoicesInput:
    application_id: strawberry.ID = strawberry.field(description="The application.")
    kindergarten_ids: list[strawberry.ID] = strawberry.field(
        description=KINDERGARTEN_IDS + " A kindergarten already chosen keeps its place in its queue; a new one "
        "joins at the application's queue date. An enrolled child's kindergarten must stay in the list."
    )
    idempotency_key: str | None = idempotency_key()


@strawberry.input(description="The end of an application's wait.")
class WithdrawApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="The application.")
    reason: str | None = strawberry.field(
        default=None, description="Why; required from operators, optional for the parent."
    )
    idempotency_key: str | None = idempotency_key()


@strawberry.input(description="An INACTIVE application brought back.")
class RestoreApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="The application.")
    idempotency_key: str | None = idempotency_key()


def changed(info: I, app: Application) -> int:
    """The id of the application a use case changed; its payload shows the use case's copy, which is the
    application as it is now (Applications._settled), without reading it again."""
    info.context.loaders.application_by_id.prime(app.id, app)
    return app.id


async def visible(info: I, app_id: int | None) -> ApplicationNode | None:
    """The application a mutation changed, when the caller may see it."""
    app = await info.context.loaders.application_by_id.load(app_id) if app_id else None
    return ApplicationNode(m=app) if app and await can_see_application(info, app) else None


@strawberry.type
class ApplicationPayload:
    """What a mutation of an application answers: the application, when the caller may see it."""

    application: ApplicationNode | None = strawberry.field(
        default=None, description="The application as it is after the change; null when refused."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS)

    @classmethod
    async def build(cls, info: I, app_id: int | None, errors: list[UserError]) -> Self:
        return cls(application=await visible(info, app_id), errors=errors)


@strawberry.type(description="What submitApplication answers.")
class SubmitApplicationPayload(ApplicationPayload):
    pass


@strawberry.type(description="What changeChoices answers.")
class ChangeChoicesPayload(ApplicationPayload):
    pass


@strawberry.type(description="What withdrawApplication answers.")
class WithdrawApplicationPayload(ApplicationPayload):
    pass


@strawberry.type(description="What restoreApplication answers.")
class RestoreApplicationPayload(ApplicationPayload):
    pass


@strawberry.mutation(
    description="Citizens: applies for their own child. The registries are asked first (the child, the family, "
    "the benefits: each category found becomes a priority claim); the queue date is now, and each choice gets its "
    "position. A seat free for the child is offered at once."
)
async def submit_application(
    info: I, input: Annotated[SubmitApplicationInput, strawberry.argument(description="The application.")]
) -> SubmitApplicationPayload:
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
        return changed(info, app)

    return await run_mutation(info, input, (Role.CITIZEN,), run, SubmitApplicationPayload.build)


@strawberry.mutation(
    description="The owner: replaces the ranking of the kindergartens, under the rules of submission; the queue "
    "date and the number stay. Refused while an offer is live, and once the application is inactive or final."
)
async def change_choices(
    info: I, input: Annotated[ChangeChoicesInput, strawberry.argument(description="The application and its ranking.")]
) -> ChangeChoicesPayload:
    async def run(actor: Actor) -> int:
        queue = info.context.services.queue
        return changed(info, await queue.change_choices(actor, input.application_id, list(input.kindergarten_ids)))

    return await run_mutation(info, input, (Role.CITIZEN,), run, ChangeChoicesPayload.build)


@strawberry.mutation(
    description="The owner, or an operator of the area with a reason: ends the wait for good. A live offer ends "
    "CANCELLED and its seat goes to the next child; on an ENROLLED application it only stops waiting for better."
)
async def withdraw_application(
    info: I, input: Annotated[WithdrawApplicationInput, strawberry.argument(description="The application.")]
) -> WithdrawApplicationPayload:
    async def run(actor: Actor) -> int:
        queue = info.context.services.queue
        return changed(info, await queue.withdraw_application(actor, input.application_id, input.reason))

    return await run_mutation(info, input, (Role.CITIZEN, Role.AKIMAT_OPERATOR), run, WithdrawApplicationPayload.build)


@strawberry.mutation(
    description="The owner: brings an INACTIVE application (an offer lapsed) back as QUEUED with its queue date and "
    "choices, once, within the restore window (28 days by default)."
)
async def restore_application(
    info: I, input: Annotated[RestoreApplicationInput, strawberry.argument(description="The application.")]
) -> RestoreApplicationPayload:
    async def run(actor: Actor) -> int:
        return changed(info, await info.context.services.queue.restore_application(actor, input.application_id))

    return await run_mutation(info, input, (Role.CITIZEN,), run, RestoreApplicationPayload.build)
