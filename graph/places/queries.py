"""Queries of places: regions, kindergartens (search and one), and a kindergarten's public queue."""

from __future__ import annotations

import strawberry

from domain.inputs import object_id
from graph.common import GroupType, I, Language
from graph.errors import api_error, not_found
from graph.pages import PageInfo, cursor, id_cursor, page_size
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


@strawberry.input
class KindergartenFilter:
    region_code: str | None = None
    district_code: str | None = None
    language: Language | None = None
    birth_year: int | None = None
    has_free_seats: bool | None = None
    search: str | None = None
    group_type: GroupType | None = None


@strawberry.field
async def regions(info: I) -> list[RegionNode]:
    return [RegionNode(m=r, of_districts=ds) for r, ds in await info.context.services.reader.regions()]


@strawberry.field
async def kindergartens(
    info: I,
    filter: KindergartenFilter | None = None,
    first: int | None = 20,
    after: str | None = None,
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


@strawberry.field
async def kindergarten(info: I, id: strawberry.ID) -> KindergartenNode | None:
    node = await load_kindergarten(info, object_id(id))
    if node is None:
        raise not_found("kindergarten")
    return node


@strawberry.field(description="Anonymised queue in queue order: no names, no IINs.")
async def public_queue(
    info: I,
    kindergarten_id: strawberry.ID,
    birth_year: int,
    language: Language,
    group_type: GroupType = GroupType.GENERAL,
    first: int | None = 20,
    after: str | None = None,
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
