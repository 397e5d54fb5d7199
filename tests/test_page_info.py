"""Relay's PageInfo (docs/api.md §3): every connection fills hasNextPage, hasPreviousPage, startCursor and
endCursor, and the schema declares them as the Relay compiler requires."""

from __future__ import annotations

from typing import Any

from tests import data
from tests.conftest import Kezek

PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
KINDERGARTENS = f"""query($first: Int, $after: String) {{ kindergartens(first: $first, after: $after) {{
  edges {{ cursor }} {PAGE_INFO} }} }}"""
PUBLIC_QUEUE = f"""query($kg: ID!, $first: Int, $after: String) {{
  publicQueue(kindergartenId: $kg, birthYear: 2023, language: RU, first: $first, after: $after) {{
  edges {{ cursor }} {PAGE_INFO} }} }}"""
CLAIMS = f"""query($first: Int, $after: String) {{ priorityClaimsToVerify(first: $first, after: $after) {{
  edges {{ cursor }} {PAGE_INFO} }} }}"""
PAGE_INFO_TYPE = """{ __type(name: "PageInfo") { fields { name type { kind name ofType { name } } } } }"""


def _check(first: dict[str, Any], second: dict[str, Any]) -> None:
    """A first page of two and the page after it."""
    info = first["pageInfo"]
    cursors = [e["cursor"] for e in first["edges"]]
    assert len(cursors) == 2, first
    assert info == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": cursors[0],
        "endCursor": cursors[-1],
    }
    info = second["pageInfo"]
    cursors = [e["cursor"] for e in second["edges"]]
    assert cursors and info["hasPreviousPage"] is True, second
    assert (info["startCursor"], info["endCursor"]) == (cursors[0], cursors[-1])


async def _pages(kezek: Kezek, query: str, field: str, token: str | None = None, **variables: Any) -> None:
    first = (await kezek.gql(query, {**variables, "first": 2}, token))[field]
    after = first["pageInfo"]["endCursor"]
    second = (await kezek.gql(query, {**variables, "first": 2, "after": after}, token))[field]
    _check(first, second)
    empty = (await kezek.gql(query, {**variables, "first": 0}, token))[field]
    assert empty["edges"] == [] and empty["pageInfo"]["startCursor"] is None and empty["pageInfo"]["endCursor"] is None


async def test_every_connection_fills_the_four_relay_fields(kezek: Kezek) -> None:
    for family in data.POOL[:7]:  # families 0, 3 and 6 claim MILITARY: three claims to verify by hand
        result = await kezek.submit(family.parents[0], family.children[0], ["SHA-1"])
        assert result["errors"] == [], result
    await _pages(kezek, KINDERGARTENS, "kindergartens")
    await _pages(kezek, PUBLIC_QUEUE, "publicQueue", kg=await kezek.kg("SHA-1"))
    await _pages(kezek, CLAIMS, "priorityClaimsToVerify", kezek.operator())


async def test_page_info_is_declared_as_relay_requires(kezek: Kezek) -> None:
    fields = (await kezek.gql(PAGE_INFO_TYPE))["__type"]["fields"]
    declared = {f["name"]: (f["type"]["kind"], f["type"]["name"] or f["type"]["ofType"]["name"]) for f in fields}
    assert declared == {
        "hasNextPage": ("NON_NULL", "Boolean"),
        "hasPreviousPage": ("NON_NULL", "Boolean"),
        "startCursor": ("SCALAR", "String"),
        "endCursor": ("SCALAR", "String"),
    }
