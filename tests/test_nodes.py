"""Node types (graph/nodes.py): each field declared once, copied from the domain object when the node is built."""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry

from domain import model
from graph.applications.types import ApplicationNode, ChoiceNode
from graph.nodes import Node, derived, node_type
from graph.people.types import ChildNode


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


def test_the_project_node_types_copy_their_domain_objects() -> None:
    """Any object with the domain's attribute names will do: the nodes read nothing else when built."""
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    choices = [SimpleNamespace(application_id=5, rank=r, kindergarten_id=10 + r) for r in (2, 1)]
    app: Any = SimpleNamespace(
        id=5,
        number="A-5",
        status=model.ApplicationStatus.QUEUED,
        queue_date=now,
        channel="egov",
        tier=model.PriorityTier.GENERAL,
        language=model.Language.RU,
        group_type=model.GroupType.GENERAL,
        desired_start_date=now.date(),
        notification_language=model.Language.KK,
        sibling_group_id=9,
        choices=choices,
    )
    node = ApplicationNode(m=app)
    assert (node.id, node.number, node.sibling_group_id, node.notification_language) == ("5", "A-5", "9", "KK")
    assert [c.rank for c in node.choices] == [1, 2] and all(isinstance(c, ChoiceNode) for c in node.choices)
    person: Any = SimpleNamespace(iin="230101500017", full_name="Бала", birth_date=now.date())
    child = ChildNode(m=person, own=True)
    assert (child.iin, child.full_name, child.birth_date, child.own) == (person.iin, "Бала", now.date(), True)
