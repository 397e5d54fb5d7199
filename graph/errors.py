"""GraphQL-facing errors: stable `extensions.code` values (docs/api.md §1)."""

from __future__ import annotations

from graphql import GraphQLError

from domain.errors import DomainError


def api_error(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def not_found(what: str = "object") -> GraphQLError:
    # The same answer for missing and invisible objects: no hint of existence.
    return api_error("NOT_FOUND", f"{what} not found")


def forbidden() -> GraphQLError:
    return api_error("FORBIDDEN", "this operation is not available to the caller's role")


def unauthenticated() -> GraphQLError:
    return api_error("UNAUTHENTICATED", "a valid token is required")


def should_mask(error: GraphQLError) -> bool:
    """Mask unexpected exceptions only; our coded errors and validation errors pass through."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError | DomainError)


__all__ = [
    "api_error",
    "forbidden",
    "not_found",
    "should_mask",
    "unauthenticated",
]
