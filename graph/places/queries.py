"""Queries of places: regions, kindergartens (search and one), and a kindergarten's public queue."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.inputs import object_id
from graph.common import GroupType, I, Language
from graph.errors import api_error, not_found
from graph.pages import AFTER, FIRST, PageInfo, cursor, id_cursor, page_size
from graph.places.types import (
    KindergartenConnection,
    KindergartenEdge,
    KindergartenNode,
    QueueEntryConnection,
    QueueEntryEdge,
    QueueEntryNode,
    RegionNode,
    load_kindergarten,
)


def check_year(year: int) -> None:
    if not 2000 <= year <= 2100:
        raise api_error("INVALID_INPUT", "birthYear must be a year between 2000 and 2100")


@strawberry.input(
    description="What the kindergartens must have. language, birthYear, groupType and hasFreeSeats must all hold for "
    "one and the same group: filtered by an application's birth year, language and group type together, the "
    "directory lists the kindergartens that suit it."
)
class KindergartenFilter:
    region_code: str | None = strawberry.field(default=None, description="Only the kindergartens of this region.")
    district_code: str | None = strawberry.field(
        default=None, description="Only the kindergartens of this district or town."
    )
    language: Language | None = strawberry.field(default=None, description="A group teaching in this language.")
    birth_year: int | None = strawberry.field(default=None, description="A group taking this birth year (2000–2100).")
    has_free_seats: bool | None = strawberry.field(
        default=None, description="true: a group with a free seat now; false: a group without one; left out: either."
    )
    search: str | None = strawberry.field(
        default=None, description="Matches the names, the address or the externalId; the first 100 characters are used."
    )
    group_type: GroupType | None = strawberry.field(default=None, description="A group of this type.")


@strawberry.field(description="Every region with its districts (public).")
async def regions(info: I) -> list[RegionNode]:
    return [RegionNode(m=r, of_districts=ds) for r, ds in await info.context.services.reader.regions()]


@strawberry.field(description="The kindergarten directory, a page at a time, in id order (public).")
async def kindergartens(
    info: I,
    filter: Annotated[
        KindergartenFilter | None, strawberry.argument(description="What they must have; all of them when left out.")
    ] = None,
    first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
    after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
) -> KindergartenConnection:
    f = filter or KindergartenFilter()
    if f.birth_year is not None:
        check_year(f.birth_year)
    after_id = id_cursor(after)
    page = await info.context.services.reader.search_kindergartens(
        region=f.region_code,
        district=f.district_code,
        language=f.language,
        birth_year=f.birth_year,
        has_free_seats=f.has_free_seats,
        group_type=f.group_type,
        search=(f.search or "").strip()[:100] or None,
        first=page_size(first),
        after=after_id,
    )
    return KindergartenConnection(
        edges=[
            KindergartenEdge(node=KindergartenNode(m=k), cursor=c)
            for k, c in zip(page.items, page.cursors, strict=True)
        ],
        page_info=PageInfo.of(page, after=after),
    )


@strawberry.field(description="One kindergarten (public); NOT_FOUND when none has the id.")
async def kindergarten(
    info: I, id: Annotated[strawberry.ID, strawberry.argument(description="Kezek's id of the kindergarten.")]
) -> KindergartenNode | None:
    node = await load_kindergarten(info, object_id(id))
    if node is None:
        raise not_found("kindergarten")
    return node


@strawberry.field(
    description="One queue, anonymised, in queue order (public): no names, no IINs. A queue is a kindergarten, a "
    "birth year, a language and a group type; a family finds its place by its application number."
)
async def public_queue(
    info: I,
    kindergarten_id: Annotated[strawberry.ID, strawberry.argument(description="The queue's kindergarten.")],
    birth_year: Annotated[int, strawberry.argument(description="The queue's birth year (2000–2100).")],
    language: Annotated[Language, strawberry.argument(description="The queue's language.")],
    group_type: Annotated[GroupType, strawberry.argument(description="The queue's group type.")] = GroupType.GENERAL,
    first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
    after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
) -> QueueEntryConnection:
    kg = await load_kindergarten(info, object_id(kindergarten_id))
    if kg is None:
        raise not_found("kindergarten")
    check_year(birth_year)
    after_key = cursor(after)
    if after_key is not None and not (
        isinstance(after_key, list)
        and len(after_key) == 5
        and all(type(after_key[i]) is int and 0 <= after_key[i] < 2**63 for i in (0, 1, 2, 4))
        and isinstance(after_key[3], str)
    ):
        raise api_error("INVALID_INPUT", "malformed cursor")
    try:
        page = await info.context.services.reader.public_queue(
            kg.m.id, birth_year, language, group_type, page_size(first), after_key
        )
    except (TypeError, ValueError):
        raise api_error("INVALID_INPUT", "malformed cursor") from None
    return QueueEntryConnection(
        edges=[QueueEntryEdge(node=QueueEntryNode(m=q), cursor=q.cursor) for q in page.items],
        page_info=PageInfo.of(page, after=after),
    )
