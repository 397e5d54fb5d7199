"""Bounds on what one request may ask (docs/quality.md §4): a query cost limit and rate limits.

The cost map is documented in docs/security.md. graphql-core has no cost analysis and Strawberry's
extensions cover depth, tokens and aliases only, so the cost rule is written here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    is_leaf_type,
    is_list_type,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

from graph.pages import DEFAULT_PAGE_SIZE, MAX_PAGE

# The cost model (docs/security.md, "Cost map"), calibrated on the client corpus in bench/queries/: a field
# costs what it makes Kezek read, once for each time its parent may be resolved.
MAX_COST = 10_000
DEFAULT_PAGE = DEFAULT_PAGE_SIZE  # a connection without `first`
VARIABLE_PAGE = MAX_PAGE  # `first: $n` is priced at the largest page it may ask for
LIST_SIZE = 10  # a list field without an expected size below
# Expected sizes of list fields, by "Type.field": bounds where the API has one, typical figures elsewhere.
LIST_SIZES: Mapping[str, int] = {
    "Application.choices": 4,  # at most four kindergartens
    "Application.history": 50,  # the latest 50 audit events
    "Choice.positionChanges": 5,  # the latest five
    "Kindergarten.groups": 20,
    "Query.regions": 20,  # 17 regions and 3 cities of republican significance
    "Region.districts": 25,
    "AreaStats.waitingByBirthYear": 21,  # seven birth years, three tiers
}


def _page(node: FieldNode) -> int:
    for arg in node.arguments or ():
        if arg.name.value == "first":
            if isinstance(arg.value, IntValueNode):
                return max(int(arg.value.value), 1)
            if isinstance(arg.value, VariableNode):
                return VARIABLE_PAGE
    return DEFAULT_PAGE


def computed(field: GraphQLField) -> bool:
    """A scalar with a resolver of its own (a queue position, a queue length): it reads the database."""
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return getattr(definition, "base_resolver", None) is not None


def selection_cost(
    parent: GraphQLNamedType | None,
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    schema_types: Mapping[str, GraphQLNamedType],
    multiplier: int,
    seen: frozenset[str] = frozenset(),
    page: int | None = None,
) -> int:
    """What the selection costs when its parent is resolved `multiplier` times.

    A plain scalar or enum costs 0 (it comes with its object); a computed one 1. A field of object type costs 1,
    a list of objects its expected size (LIST_SIZES, else LIST_SIZE), and what is selected below either is
    multiplied by that. A connection (a field with `first`) costs 1 and sizes the list of its own type, `edges`,
    by its page: `first`, DEFAULT_PAGE when absent, VARIABLE_PAGE when given as a variable. `page` is that page
    while pricing the connection's own fields. Fragments are priced where they are spread.
    """
    cost = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            if name.startswith("__") or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                continue
            field = parent.fields.get(name)
            if field is None:
                continue
            named = get_named_type(field.type)
            if selection.selection_set is None or is_leaf_type(named):
                cost += multiplier if computed(field) else 0
                continue
            inner_page = None
            if "first" in field.args:
                size, inner_page = 1, _page(selection)
            elif is_list_type(field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type):
                size = page if page is not None else LIST_SIZES.get(f"{parent.name}.{name}", LIST_SIZE)
            else:
                size = 1
            cost += multiplier * size
            cost += selection_cost(
                named, selection.selection_set, fragments, schema_types, multiplier * size, seen, inner_page
            )
        elif isinstance(selection, InlineFragmentNode):
            target = schema_types.get(selection.type_condition.name.value) if selection.type_condition else parent
            cost += selection_cost(target, selection.selection_set, fragments, schema_types, multiplier, seen, page)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue
            target = schema_types.get(fragment.type_condition.name.value)
            cost += selection_cost(
                target, fragment.selection_set, fragments, schema_types, multiplier, seen | {name}, page
            )
    return cost


def operation_cost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode) -> int:
    """The cost of one operation of a document, as the cost rule prices it."""
    root = schema.get_root_type(operation.operation)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return selection_cost(root, operation.selection_set, fragments, schema.type_map, 1)


class CostLimitRule(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
        cost = operation_cost(self.context.schema, self.context.document, node)
        if cost > MAX_COST:
            self.report_error(
                GraphQLError(
                    f"query cost {cost} exceeds the limit of {MAX_COST}",
                    node,
                    extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": MAX_COST},
                )
            )


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets in this process: `rate` requests a second with bursts of `burst`.

    Per process on purpose: several processes share the load, so each enforces its share; a shared
    limiter would put a database write on every read.
    """

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._max_keys = max_keys

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed; otherwise the seconds to wait before the next request."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._buckets.clear()  # crude bound on memory; a cleared bucket starts full
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


def retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))
