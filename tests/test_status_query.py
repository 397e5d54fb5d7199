"""The status query of bank apps: SQL statements per request do not grow with children or choices."""

from __future__ import annotations

from pathlib import Path

from tests import data
from tests.conftest import Kezek

STATUS_QUERY = (Path(__file__).parent.parent / "bench" / "queries" / "my_children.graphql").read_text()


async def _statements(kezek: Kezek, parent: str) -> tuple[int, dict[str, object]]:
    token = kezek.citizen(parent)
    await kezek.gql(STATUS_QUERY, token=token)  # warms the family snapshot (a daily registry refresh)
    with kezek.count_statements() as statements:
        result = await kezek.gql(STATUS_QUERY, token=token)
    return len(statements), result


async def test_statement_count_is_constant(kezek: Kezek) -> None:
    one = data.OTHER
    await kezek.submit(one.parents[0], one.children[0], ["SHA-1"])
    three = data.TWINS
    for child in three.children:
        result = await kezek.submit(three.parents[0], child, ["SHA-1", "SHA-2", "SHA-3", "SHA-4"])
        assert result["errors"] == []

    n_one, small = await _statements(kezek, one.parents[0])
    n_three, big = await _statements(kezek, three.parents[0])

    children = big["myChildren"]
    assert isinstance(children, list) and len(children) == 3
    assert all(len(c["application"]["choices"]) == 4 for c in children)
    assert all(ch["position"] is not None for c in children for ch in c["application"]["choices"])
    assert isinstance(small["myChildren"], list) and len(small["myChildren"]) == 1
    assert n_one == n_three, (n_one, n_three)
    assert n_three <= 12


async def test_positions_in_status_query_follow_submission_order(kezek: Kezek) -> None:
    family = data.TWINS
    for child in family.children:
        await kezek.submit(family.parents[0], child, ["SHA-1"])
    _, result = await _statements(kezek, family.parents[0])
    children = result["myChildren"]
    assert isinstance(children, list)
    positions = sorted(c["application"]["choices"][0]["position"] for c in children)
    assert positions == [1, 2, 3]


FRAGMENTED_QUERY = """
query Fragmented {
  myChildren {
    iin
    application { ...App }
  }
}
fragment App on Application {
  id
  choices { ... on Choice { rank kindergarten { nameRu } } ...Pos }
  offer { id }
}
fragment Pos on Choice { position estimate { basis } }
"""


async def test_fragments_need_no_more_statements(kezek: Kezek) -> None:
    family = data.TWINS
    for child in family.children:
        await kezek.submit(family.parents[0], child, ["SHA-1", "SHA-2"])
    n_plain, plain = await _statements(kezek, family.parents[0])
    token = kezek.citizen(family.parents[0])
    with kezek.count_statements() as statements:
        result = await kezek.gql(FRAGMENTED_QUERY, token=token)
    assert len(statements) == n_plain, statements
    children, expected = result["myChildren"], plain["myChildren"]
    assert isinstance(children, list) and isinstance(expected, list) and len(children) == 3
    for child, same in zip(children, expected, strict=True):
        choices = child["application"]["choices"]
        assert [c["position"] for c in choices] == [c["position"] for c in same["application"]["choices"]]
        assert all(c["kindergarten"]["nameRu"] for c in choices)
