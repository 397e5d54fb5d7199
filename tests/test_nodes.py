"""Node types (graph/nodes.py): each field declared once, copied from the domain object when the node is built."""

from __future__ import annotations

import dataclasses

import pytest
import strawberry

from graph.nodes import Node, derived, node_type


@dataclasses.dataclass
class Thing:
    id: int
    name: str
    parent_id: int | None
    sizes: list[int]


def _double(thing: Thing) -> list[int]:
    return [s * 2 for s in thing.sizes]


@node_type("Thing")
class ThingNode(Node[Thing]):
    id: strawberry.ID
    name: str = strawberry.field(description="Described, still copied.")
    parent_id: strawberry.ID | None
    doubled: list[int] = derived(_double)
    seen: strawberry.Private[bool] = False

    @strawberry.field
    def shout(self) -> str:
        return self.m.name.upper()


@strawberry.type
class Query:
    @strawberry.field
    def thing(self) -> ThingNode:
        return ThingNode(m=Thing(7, "seven", None, [1, 2]))


def test_plain_fields_are_copied_by_name_ids_as_strings() -> None:
    thing = Thing(7, "seven", 3, [1, 2])
    node = ThingNode(m=thing)
    assert node.m is thing
    assert (node.id, node.name, node.parent_id, node.doubled, node.seen) == ("7", "seven", "3", [2, 4], False)
    assert ThingNode(m=dataclasses.replace(thing, parent_id=None), seen=True).parent_id is None
    assert ThingNode(m=thing, seen=True).seen is True
    # Plain attributes, set in the instance: graphql-core reads them without a resolver.
    assert set(vars(node)) == {"m", "seen", "id", "name", "parent_id", "doubled"}


def test_the_node_answers_like_a_hand_built_type() -> None:
    schema = strawberry.Schema(query=Query)
    result = schema.execute_sync("{ thing { id name parentId doubled shout } }")
    assert result.errors is None
    assert result.data == {"thing": {"id": "7", "name": "seven", "parentId": None, "doubled": [2, 4], "shout": "SEVEN"}}
    assert "seen" not in schema.as_str()


def test_only_known_keywords_are_accepted() -> None:
    # The type checker lets unknown keywords by (Private fields are keywords of any node); the node does not.
    with pytest.raises(TypeError):
        ThingNode(m=Thing(1, "a", None, []), unknown=True)
    with pytest.raises(TypeError):
        ThingNode(Thing(1, "a", None, []), True)  # type: ignore[call-arg]  # Private fields by keyword only


def test_a_field_of_object_type_must_be_built_by_a_resolver() -> None:
    with pytest.raises(TypeError, match="resolver, or derived"):

        @node_type("Bad")
        class BadNode(Node[Thing]):
            things: list[ThingNode]


def test_a_private_field_needs_a_default() -> None:
    with pytest.raises(TypeError, match="needs a default"):

        @node_type("Bad")
        class BadNode(Node[Thing]):
            flag: strawberry.Private[bool]
