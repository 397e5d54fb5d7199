"""Field- and object-level access checks for resolvers (docs/api.md §3 "who")."""

from __future__ import annotations

from strawberry.types import Info

from domain import access
from domain.model import Actor, Application, Role
from graph.context import Context
from graph.errors import forbidden, unauthenticated


def require_role(info: Info[Context, None], *roles: Role) -> Actor:
    """Public callers get UNAUTHENTICATED, a role that may never call this gets FORBIDDEN."""
    actor = info.context.actor
    if actor.role is None:
        raise unauthenticated()
    if actor.role not in roles:
        raise forbidden()
    return actor


async def can_see_application(info: Info[Context, None], app: Application) -> bool:
    actor = info.context.actor
    loaders = info.context.loaders
    if actor.role == Role.MINISTRY:
        return True
    if actor.role == Role.CITIZEN:
        return access.is_owner(actor, await loaders.representatives_by_child_iin.load(app.child_iin))
    if actor.role == Role.AKIMAT_OPERATOR:
        return access.any_in_area(actor, await loaders.areas_by_application_id.load(app.id))
    return False


async def can_see_child(info: Info[Context, None], iin: str) -> bool:
    actor = info.context.actor
    loaders = info.context.loaders
    if actor.role == Role.MINISTRY:
        return True
    if actor.role == Role.CITIZEN:
        return access.is_owner(actor, await loaders.representatives_by_child_iin.load(iin))
    if actor.role == Role.KINDERGARTEN_STAFF:
        # Staff see the children enrolled at their kindergarten and those offered a seat there.
        for place in (
            await loaders.enrollment_by_child_iin.load(iin),
            await loaders.live_offer_by_child_iin.load(iin),
        ):
            if place is not None:
                kg = await loaders.kindergarten_by_id.load(place.kindergarten_id)
                if kg is not None and kg.external_id == actor.kindergarten:
                    return True
        return False
    if actor.role == Role.AKIMAT_OPERATOR:
        person = await loaders.person_by_iin.load(iin)
        if person is not None and person.district_code:
            district = await loaders.district_by_code.load(person.district_code)
            if district and access.in_area(actor, district.region_code, district.code):
                return True
        app = await loaders.application_by_child_iin.load(iin)
        if app is not None and access.any_in_area(actor, await loaders.areas_by_application_id.load(app.id)):
            return True
        enrollment = await loaders.enrollment_by_child_iin.load(iin)
        if enrollment is not None:
            kg = await loaders.kindergarten_by_id.load(enrollment.kindergarten_id)
            return kg is not None and access.in_area(actor, kg.region_code, kg.district_code)
    return False
