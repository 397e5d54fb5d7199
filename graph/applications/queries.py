"""Queries of one application, by id or by its number."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain import model
from domain.inputs import object_id
from graph.access import can_see_application, require_role
from graph.applications.load import load_ahead
from graph.applications.types import ApplicationNode
from graph.common import I, Role
from graph.errors import not_found

READERS = (Role.CITIZEN, Role.AKIMAT_OPERATOR, Role.MINISTRY)


async def _shown(info: I, app: model.Application | None) -> ApplicationNode:
    if app is None or not await can_see_application(info, app):
        raise not_found("application")
    await load_ahead(info, app)
    return ApplicationNode(m=app)


@strawberry.field(
    description="One application: to its owners, the operators of its area and the ministry; NOT_FOUND for anyone "
    "else, as for a missing one."
)
async def application(
    info: I, id: Annotated[strawberry.ID, strawberry.argument(description="Kezek's id of the application.")]
) -> ApplicationNode | None:
    require_role(info, *READERS)
    app_id = object_id(id)
    return await _shown(info, await info.context.loaders.application_by_id.load(app_id) if app_id else None)


@strawberry.field(description="One application by its number, to whoever may see it (as `application`).")
async def application_by_number(
    info: I, number: Annotated[str, strawberry.argument(description="The number, e.g. KZ-2026-0000123.")]
) -> ApplicationNode | None:
    require_role(info, *READERS)
    return await _shown(info, await info.context.loaders.application_by_number.load(number.strip().upper()))
