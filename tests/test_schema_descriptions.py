"""Every type, field, argument, input field and enum value of the schema has a description: the SDL
(schema.graphql) is what other teams read. GraphQL's built-in scalars and the introspection types are the
specification's, not ours."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import pytest
import strawberry
from graphql import get_introspection_query

from graph.common import enum_type
from graph.schema import build_schema

BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def undescribed(schema: strawberry.Schema) -> list[str]:
    """What has no description, read through introspection as a client reads it: `Type`, `Type.field`,
    `Type.field(argument)`, `Input.field`, `Enum.VALUE`."""
    result = schema.execute_sync(get_introspection_query(descriptions=True, input_value_deprecation=True))
    assert result.errors is None and result.data is not None, result.errors
    missing: list[str] = []

    def lacks(item: dict[str, Any]) -> bool:
        return not (item.get("description") or "").strip()

    for t in result.data["__schema"]["types"]:
        name = t["name"]
        if name.startswith("__") or name in BUILT_IN:
            continue
        missing += [name] if lacks(t) else []
        for f in t.get("fields") or []:
            missing += [f"{name}.{f['name']}"] if lacks(f) else []
            missing += [f"{name}.{f['name']}({a['name']})" for a in f["args"] if lacks(a)]
        missing += [f"{name}.{f['name']}" for f in t.get("inputFields") or [] if lacks(f)]
        missing += [f"{name}.{v['name']}" for v in t.get("enumValues") or [] if lacks(v)]
    return missing


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    assert undescribed(build_schema(production=False)) == []


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


strawberry.enum(Colour)


@strawberry.input
class Paint:
    colour: Colour
    shade: int = strawberry.field(default=0, description="How dark.")


@strawberry.type
class PaintQuery:
    @strawberry.field
    def plain(self, paint: Paint, coats: Annotated[int, strawberry.argument(description="How many.")]) -> str:
        return ""

    said: str = strawberry.field(default="", description="Said.")


def test_the_walk_names_whatever_lacks_a_description() -> None:
    """A schema with one of each part undescribed, and one of each described: the walk lists the first."""
    assert sorted(undescribed(strawberry.Schema(query=PaintQuery))) == [
        "Colour",
        "Colour.BLUE",
        "Colour.RED",
        "Paint",
        "Paint.colour",
        "PaintQuery",
        "PaintQuery.plain",
        "PaintQuery.plain(paint)",
    ]


class Shape(enum.Enum):
    ROUND = "ROUND"
    SQUARE = "SQUARE"


class Size(enum.Enum):
    SMALL = "SMALL"


enum_type(Size, "A size.", {"SMALL": "Small."})


@strawberry.type(description="Sizes.")
class SizeQuery:
    size: Size = strawberry.field(default=Size.SMALL, description="The size.")


def test_a_domain_enum_needs_a_description_for_each_value() -> None:
    with pytest.raises(TypeError, match="SQUARE"):
        enum_type(Shape, "A shape.", {"ROUND": "Round."})
    schema = strawberry.Schema(query=SizeQuery)
    assert undescribed(schema) == []
    assert '"""Small."""' in schema.as_str()
