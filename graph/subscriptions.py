"""Subscriptions over graphql-transport-ws (docs/api.md §3): seat offers, application updates, vacancies.

Each subscription registers with the process's broker before it reads any backlog, so nothing committed
in between is missed; events already yielded are skipped by id. Loaders are rebuilt for every event so a
long-lived subscription never serves what it cached for an earlier one. Once live, a subscription offers
itself to be shared with others alike before each event (graph/shared.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, Callable, Hashable
from typing import Annotated

import strawberry

from domain import access
from domain.feed import ApplicationEventKind, OfferEventKind, VacancyEventKind
from domain.model import Group, Kindergarten, Role
from graph.access import can_see_application, require_role
from graph.applications.types import ApplicationNode
from graph.broker import Subscriber
from graph.common import I, enum_type
from graph.errors import api_error, not_found
from graph.loaders import Loaders
from graph.offers.types import OfferNode
from graph.places.types import GroupNode, KindergartenNode
from graph.shared import hand_over, taken
from persistence.feed import RETENTION, StoredEvent
from persistence.readers import decode_cursor, encode_cursor

enum_type(
    OfferEventKind,
    "What happened to an offer to the caller's child. Confirming, signing and declining come as OFFER_CHANGED in "
    "applicationUpdates instead.",
    {
        "OFFERED": "A seat is offered.",
        "REMINDER": "The reminder before a deadline: 24 hours before it, or halfway through a window under 48 hours.",
        "LAPSED": "The deadline passed.",
        "SUPERSEDED": "A better offer replaced it.",
        "CANCELLED": "The application was withdrawn, its priority revoked, or the child left.",
    },
)
enum_type(
    ApplicationEventKind,
    "What changed in an application.",
    {
        "STATUS_CHANGED": "Submitted, enrolled, inactive, restored, withdrawn, closed or aged out (moves to OFFERED "
        "and ENROLLING come as OFFER_CHANGED).",
        "POSITION_CHANGED": "Its own tier changed, which moves it in every queue; moves caused by other children show "
        "in Choice.positionChanges and are not pushed.",
        "CHOICES_CHANGED": "Its choices changed: by the parent, or dropped after a decline or a lapsed upgrade.",
        "CLAIM_CHANGED": "A priority claim was verified, rejected, expired or revoked.",
        "OFFER_CHANGED": "An offer was made, confirmed, extended, declined, lapsed, superseded, cancelled or signed.",
    },
)
enum_type(
    VacancyEventKind,
    "What happened to a group's seats.",
    {
        "SEAT_FREED": "An upgraded child's old seat freed.",
        "OFFER_MADE": "A seat was offered.",
        "OFFER_CONFIRMED": "An offer was confirmed.",
        "OFFER_DECLINED": "An offer was declined.",
        "OFFER_LAPSED": "An offer lapsed.",
        "OFFER_SUPERSEDED": "An offer was superseded.",
        "OFFER_CANCELLED": "An offer was cancelled.",
        "CONTRACT_LAPSED": "A confirmed offer lapsed unsigned (sent as well as OFFER_LAPSED).",
        "ENROLLED": "A child was enrolled.",
        "LEFT": "A child left.",
        "CAPACITY_CHANGED": "The group's capacity changed.",
    },
)


@strawberry.type(description="An event of an offer to one of the caller's children.")
class OfferEvent:
    kind: OfferEventKind = strawberry.field(description="What happened.")
    offer: OfferNode = strawberry.field(description="The offer as it is now.")


@strawberry.type(description="An event of one application.")
class ApplicationEvent:
    kind: ApplicationEventKind = strawberry.field(description="What changed.")
    application: ApplicationNode = strawberry.field(description="The application as it is now.")


@strawberry.type(description="An event of a group's seats, in commit order.")
class VacancyEvent:
    cursor: str = strawberry.field(
        description="Its place in commit order: reconnect with `after` set to the last one seen to replay what was "
        "missed."
    )
    kind: VacancyEventKind = strawberry.field(description="What happened.")
    kindergarten: KindergartenNode | None = strawberry.field(description="The kindergarten.")
    group: GroupNode | None = strawberry.field(description="The group.")
    free_seats: int | None = strawberry.field(description="The group's free seats just after the change.")
    at: dt.datetime = strawberry.field(description="When it was committed.")


def _fresh(info: I) -> None:
    info.context.loaders = Loaders(info.context.services.reader)


async def _live(info: I, sub: Subscriber, after_id: int, shape: Hashable) -> AsyncGenerator[StoredEvent, None]:
    """`shape` is what the subscription chose when it started (its filter): only alike ones are shared."""
    broker = info.context.services.broker
    last = after_id
    try:
        while True:
            if sub.overflowed and sub.queue.empty():
                raise api_error("SLOW_SUBSCRIBER", "events arrived faster than they were read; resubscribe")
            if hand_over(info, max(last, sub.since), shape, complete=not sub.overflowed):
                return
            event = await sub.queue.get()
            if event is None:
                return
            if event.id <= last:
                continue
            last = event.id
            taken(info, last)
            yield event
    finally:
        broker.unsubscribe(sub)


@strawberry.subscription(description="Citizens: events of offers to their own children.")
async def seat_offers(info: I) -> AsyncGenerator[OfferEvent, None]:
    actor = require_role(info, Role.CITIZEN)
    children = set(await info.context.services.queue.my_children(actor))
    sub = info.context.services.broker.subscribe(lambda e: e.stream == "offer" and e.child_iin in children)
    async for event in _live(info, sub, 0, ("offers", tuple(sorted(children)))):
        _fresh(info)
        offer = await info.context.loaders.offer_by_id.load(event.offer_id or 0)
        if offer is not None:
            yield OfferEvent(kind=OfferEventKind(event.kind), offer=OfferNode(m=offer))


@strawberry.subscription(
    description="The owner, or an operator of the application's area: the application's events, each sent after its "
    "change committed."
)
async def application_updates(
    info: I, application_id: Annotated[strawberry.ID, strawberry.argument(description="The application.")]
) -> AsyncGenerator[ApplicationEvent, None]:
    require_role(info, Role.CITIZEN, Role.AKIMAT_OPERATOR)
    app_id = int(application_id) if application_id.isdigit() and int(application_id) < 2**63 else 0
    app = await info.context.loaders.application_by_id.load(app_id) if app_id else None
    if app is None or not await can_see_application(info, app):
        raise not_found("application")
    sub = info.context.services.broker.subscribe(lambda e: e.stream == "application" and e.application_id == app_id)
    async for event in _live(info, sub, 0, ("application", app_id)):
        _fresh(info)
        current = await info.context.loaders.application_by_id.load(app_id)
        if current is not None:
            yield ApplicationEvent(kind=ApplicationEventKind(event.kind), application=ApplicationNode(m=current))


@strawberry.subscription(
    description="Operators (their own area by default) and the ministry (the whole country by default): seat events "
    "in commit order. `after` replays what a client missed, oldest first, then the live stream; events are kept 7 days "
    "(CURSOR_EXPIRED for an older cursor)."
)
async def vacancy_updates(
    info: I,
    region_code: Annotated[str | None, strawberry.argument(description="Only this region's events.")] = None,
    district_code: Annotated[str | None, strawberry.argument(description="Only this district's events.")] = None,
    kindergarten_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="Only this kindergarten's events.")
    ] = None,
    after: Annotated[
        str | None, strawberry.argument(description="The cursor of the last event seen: the missed ones come first.")
    ] = None,
) -> AsyncGenerator[VacancyEvent, None]:
    actor = require_role(info, Role.AKIMAT_OPERATOR, Role.MINISTRY)
    kg_id = None
    if kindergarten_id is not None:
        kg = await info.context.loaders.kindergarten_by_id.load(
            int(kindergarten_id) if kindergarten_id.isdigit() and int(kindergarten_id) < 2**63 else 0
        )
        if kg is None or (
            actor.role == Role.AKIMAT_OPERATOR and not access.in_area(actor, kg.region_code, kg.district_code)
        ):
            raise not_found("kindergarten")
        kg_id = kg.id
    if actor.role == Role.AKIMAT_OPERATOR:
        # An operator watches their own area: a region-wide one may narrow it to a district.
        region_code = region_code or actor.region_code
        district_code = district_code or actor.district_code
        if not access.in_area(actor, region_code, district_code):
            raise not_found("area")
    after_id = await _check_cursor(info, after)
    accept = _vacancy_filter(region_code, district_code, kg_id)
    sub = info.context.services.broker.subscribe(accept)
    last = after_id
    if after is not None:
        feed = info.context.services.feed
        while True:
            backlog = await feed.after(last)
            for event in backlog:
                last = event.id
                if accept(event):
                    yield await _vacancy(info, event)
            if len(backlog) < 500:
                break
    async for event in _live(info, sub, last, ("vacancy", region_code, district_code, kg_id)):
        yield await _vacancy(info, event)


def _vacancy_filter(region: str | None, district: str | None, kg_id: int | None) -> Callable[[StoredEvent], bool]:
    def accept(e: StoredEvent) -> bool:
        return (
            e.stream == "vacancy"
            and (region is None or e.region_code == region)
            and (district is None or e.district_code == district)
            and (kg_id is None or e.kindergarten_id == kg_id)
        )

    return accept


async def _check_cursor(info: I, after: str | None) -> int:
    if after is None:
        return 0
    try:
        value = decode_cursor(after)
    except ValueError:
        raise api_error("INVALID_INPUT", "malformed cursor") from None
    if type(value) is not int or not 0 <= value < 2**63:
        raise api_error("INVALID_INPUT", "malformed cursor")
    feed = info.context.services.feed
    oldest = await feed.oldest_kept()
    now = dt.datetime.now(dt.UTC)
    expired = (oldest is not None and value < oldest[0] - 1) or (
        (event := await feed.event(value)) is not None and event.at < now - RETENTION
    )
    if expired:
        raise api_error("CURSOR_EXPIRED", "events after this cursor are no longer kept; re-read and subscribe afresh")
    return value


async def _vacancy(info: I, event: StoredEvent) -> VacancyEvent:
    _fresh(info)
    kg, group = await info.context.services.broker.memo.get(("vacancy", event.id), lambda: _places(info, event))
    return VacancyEvent(
        cursor=encode_cursor(event.id),
        kind=VacancyEventKind(event.kind),
        kindergarten=KindergartenNode(m=kg) if kg else None,
        group=GroupNode(m=group) if group else None,
        free_seats=event.free_seats,
        at=event.at,
    )


async def _places(info: I, event: StoredEvent) -> tuple[Kindergarten | None, Group | None]:
    """An event's kindergarten and group, read once for every subscription that hears of it."""
    reader = info.context.services.reader
    kg_id, group_id = event.kindergarten_id, event.group_id
    kg = (await reader.kindergartens([kg_id])).get(kg_id) if kg_id else None
    group = (await reader.groups([group_id])).get(group_id) if group_id else None
    return kg, group
