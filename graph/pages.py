"""Cursor pagination (docs/api.md §3): `first` and `after` checked alike by every connection."""

from __future__ import annotations

from typing import Any

import strawberry

from graph.errors import api_error
from persistence.readers import Page, decode_cursor

MAX_PAGE = 100
DEFAULT_PAGE_SIZE = 20
# The arguments every connection takes.
FIRST = "How many items: 20 when left out, at most 100 (more answers INVALID_INPUT)."
AFTER = "The cursor of the last item already read (`pageInfo.endCursor`); left out for the first page."


@strawberry.type(description="Where a page of a connection ends.")
class PageInfo:
    """Relay's four fields. Connections page forward only (`first`, `after`): `hasPreviousPage` is true when
    the page was asked for `after` a cursor (the cursor's own item comes before it), false for a first page."""

    has_next_page: bool = strawberry.field(description="Whether items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Whether items come before this page: true when it was asked for `after` a cursor."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the page's first item; null on an empty page."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last item, to pass as `after` for the next page; null on an empty page."
    )

    @staticmethod
    def of(page: Page[Any], *, after: str | None) -> PageInfo:
        return PageInfo(
            has_next_page=page.has_next,
            has_previous_page=after is not None,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        )


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0 or first > MAX_PAGE:
        raise api_error("INVALID_INPUT", f"first must be between 0 and {MAX_PAGE}")
    return first


def cursor(after: str | None) -> Any:
    try:
        return decode_cursor(after)
    except ValueError:
        raise api_error("INVALID_INPUT", "malformed cursor") from None


def id_cursor(after: str | None) -> int | None:
    """The cursor of an id-ordered connection: an id within bigint range, else INVALID_INPUT."""
    value = cursor(after)
    if value is not None and not (type(value) is int and 0 <= value < 2**63):
        raise api_error("INVALID_INPUT", "malformed cursor")
    return int(value) if value is not None else None
