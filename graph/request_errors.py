"""Errors raised before execution carry `extensions.code`, as Apollo's clients expect (docs/api.md §1):
GRAPHQL_PARSE_FAILED for a document that does not parse (the token limit included), GRAPHQL_VALIDATION_FAILED
for one that does not validate (the depth and alias limits and introspection in production included;
QUERY_TOO_COSTLY keeps its own code), BAD_USER_INPUT for variables that do not fit their declared types.

Parse and validation errors are coded by a schema extension when its parse and validation steps end;
variable errors where graphql-core makes them, in the executor that Strawberry builds for every operation
(queries and mutations over HTTP or a WebSocket, and subscriptions alike).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, VariableDefinitionNode, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
OPERATION_RESOLUTION_FAILED = "OPERATION_RESOLUTION_FAILURE"  # no operation of that name (api/http.py)
# The codes of errors raised before execution: answered without a `data` entry (api/http.py).
REQUEST_ERROR_CODES = frozenset(
    {PARSE_FAILED, VALIDATION_FAILED, BAD_USER_INPUT, OPERATION_RESOLUTION_FAILED, "QUERY_TOO_COSTLY"}
)


def coded(errors: Iterable[GraphQLError] | None, code: str) -> None:
    """Gives each error the code unless it has one of its own."""
    for error in errors or ():
        if not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), "code": code}


class RequestErrorCodes(SchemaExtension):
    def on_parse(self) -> Iterator[None]:
        yield
        if self.execution_context.graphql_document is None:
            coded(self.execution_context.pre_execution_errors, PARSE_FAILED)

    def on_validate(self) -> Iterator[None]:
        yield
        coded(self.execution_context.pre_execution_errors, VALIDATION_FAILED)


@functools.lru_cache(maxsize=512)
def _parse(query: str, max_tokens: int | None) -> DocumentNode | None:
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None


class CachedParser(SchemaExtension):
    """Strawberry's ParserCache, except that a document that does not parse is left to Strawberry's own parse,
    which answers with the syntax error as a GraphQL error (ParserCache raises it outside Strawberry's error
    path, and a WebSocket subscription then ended with a bare `complete`). Parses are kept for 512 documents;
    one that fails is parsed once more, by Strawberry, to make its error."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if isinstance(context.query, str):
            context.graphql_document = _parse(context.query, context.parse_options.get("max_tokens"))
        yield


def _is_variable_error(error: GraphQLError) -> bool:
    return len(error.nodes or ()) == 1 and isinstance((error.nodes or [])[0], VariableDefinitionNode)


class CodedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor; the variable coercion errors of `build` (each names its variable's definition)
    get BAD_USER_INPUT."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        built = super().build(*args, **kwargs)
        if isinstance(built, list):
            coded((e for e in built if _is_variable_error(e)), BAD_USER_INPUT)
        return built
