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
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    is_list_type,
)

MAX_COST = 20_000
DEFAULT_PAGE = 20  # a connection without `first`
VARIABLE_PAGE = 100  # `first: $n` is priced at its maximum
LIST_FACTOR = 10  # a plain list field (myChildren, choices, groups, …)


def _factor(node: FieldNode, field: GraphQLField) -> int:
    if "first" in field.args:
        for arg in node.arguments or ():
            if arg.name.value == "first":
                if isinstance(arg.value, IntValueNode):
                    return max(int(arg.value.value), 1)
                if isinstance(arg.value, VariableNode):
                    return VARIABLE_PAGE
        return DEFAULT_PAGE
    field_type = field.type
    if is_list_type(field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type):
        return LIST_FACTOR
    return 1


def selection_cost(
    parent: GraphQLNamedType | None,
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    schema_types: Mapping[str, GraphQLNamedType],
    multiplier: int,
    seen: frozenset[str] = frozenset(),
) -> int:
    """Every field costs 1 for each time it may be resolved: lists multiply what is below them."""
    cost = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            cost += multiplier
            name = selection.name.value
            if name.startswith("__") or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                continue
            field = parent.fields.get(name)
            if field is None or selection.selection_set is None:
                continue
            factor = _factor(selection, field)
            cost += selection_cost(
                get_named_type(field.type), selection.selection_set, fragments, schema_types, multiplier * factor, seen
            )
        elif isinstance(selection, InlineFragmentNode):
            target = schema_types.get(selection.type_condition.name.value) if selection.type_condition else parent
            cost += selection_cost(target, selection.selection_set, fragments, schema_types, multiplier, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue
            target = schema_types.get(fragment.type_condition.name.value)
            cost += selection_cost(target, fragment.selection_set, fragments, schema_types, multiplier, seen | {name})
    return cost


class CostLimitRule(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
        schema = self.context.schema
        root = schema.get_root_type(node.operation)
        fragments = {
            d.name.value: d for d in self.context.document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        cost = selection_cost(root, node.selection_set, fragments, schema.type_map, 1)
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
