"""GraphQL-facing errors: stable `extensions.code` values (docs/api.md §1), their messages in the caller's
language (domain/error_messages.py), and how they are logged (docs/operations.md "Logs").

An error with a code is an expected refusal: logged at INFO without a traceback, its message replaced by the
code's text in the caller's language (the English message given where it is raised stays in the log). Any
other exception is a fault: logged at ERROR with its traceback (and masked in production, graph/schema.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from domain.error_messages import render
from domain.errors import DomainError
from domain.model import Language
from graph.context import Context

log = logging.getLogger("kezek.graphql")

DEFAULT_LANGUAGE = Language.RU
_LANGUAGES = {"kk": Language.KK, "ru": Language.RU, "en": Language.EN}
_RANGE = re.compile(r"^(\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$")
_QUALITY = re.compile(r"^q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$", re.IGNORECASE)


class CodedError(GraphQLError):
    """A GraphQL error with `extensions.code`; `params` fill the code's texts and are not sent."""

    def __init__(self, code: str, message: str, **params: str | int) -> None:
        super().__init__(message, extensions={"code": code})
        self.params = params


def api_error(code: str, message: str, **params: str | int) -> GraphQLError:
    return CodedError(code, message, **params)


def not_found(what: str = "object") -> GraphQLError:
    # The same answer for missing and invisible objects: no hint of existence.
    return api_error("NOT_FOUND", f"{what} not found", what=what)


def forbidden() -> GraphQLError:
    return api_error("FORBIDDEN", "this operation is not available to the caller's role")


def unauthenticated() -> GraphQLError:
    return api_error("UNAUTHENTICATED", "a valid token is required")


def should_mask(error: GraphQLError) -> bool:
    """Mask unexpected exceptions only; our coded errors and validation errors pass through."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError | DomainError)


def accepted_language(header: str | None) -> Language:
    """The language of an Accept-Language header (RFC 9110 §12.5.4): the supported one with the highest
    q-value, earlier ranges first among equals; `*` and anything unsupported or malformed count as no choice."""
    best: tuple[float, Language] | None = None
    for item in (header or "").split(","):
        tag, *parameters = (part.strip() for part in item.split(";"))
        if not _RANGE.match(tag):
            continue
        quality = 1.0
        for parameter in parameters:
            matched = _QUALITY.match(parameter.replace(" ", ""))
            if matched is None:
                quality = -1.0  # a malformed weight: the range is ignored
                break
            quality = float(matched.group(1))
        language = _LANGUAGES.get(tag.split("-")[0].lower())
        if language is None or quality <= 0:
            continue
        if best is None or quality > best[0]:  # among equal weights, the first range stands
            best = (quality, language)
    return best[1] if best is not None else DEFAULT_LANGUAGE


def code_of(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else None


def _params(error: GraphQLError) -> dict[str, object]:
    params: dict[str, object] = {k: v for k, v in (error.extensions or {}).items() if k != "code"}
    for source in (error, error.original_error):
        if isinstance(source, CodedError | DomainError):
            params.update(source.params)
        if isinstance(source, DomainError) and source.field:
            params.setdefault("field", source.field)
    return params


def translate(error: GraphQLError, language: Language) -> GraphQLError:
    """The error with its message in `language`, when it has a code with texts (a copy: validation errors are
    cached and shared by requests in other languages)."""
    code = code_of(error)
    message = render(code, language, _params(error)) if code else None
    if message is None or message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


class LocalizedErrors(SchemaExtension):
    """Coded errors' messages in the language of the request's context (Accept-Language)."""

    def _language(self) -> Language:
        context = self.execution_context.context
        return context.language if isinstance(context, Context) else DEFAULT_LANGUAGE

    def _apply(self, result: Any) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            language = self._language()
            result.errors = [translate(e, language) for e in errors]

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        self._apply(getattr(result, "initial_result", result))

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._apply(result)
        yield None


def report_errors(errors: list[GraphQLError], execution_context: ExecutionContext | None) -> None:
    """Strawberry's `process_errors` for Kezek: refusals at INFO, faults at ERROR with their traceback; each
    counted by code (api/metrics.py)."""
    context = execution_context.context if execution_context is not None else None
    operation = execution_context.operation_name if execution_context is not None else None
    for error in errors:
        where = ".".join(str(p) for p in error.path) if error.path else (operation or "document")
        original = error.original_error
        code = code_of(error)
        if code is None and isinstance(original, DomainError):
            code = original.code.value
            log.info("refused %s: %s %s", where, code, error.message)
        elif code is None and original is not None and not isinstance(original, GraphQLError):
            code = "INTERNAL"
            log.error("fault at %s: %s", where, error.message, exc_info=original)
        elif code is None:
            code = "INVALID_DOCUMENT"
            log.info("refused %s: %s", where, error.message)
        else:
            log.info("refused %s: %s %s", where, code, error.message)
        if isinstance(context, Context):
            context.services.observer.error(code, "top_level")


__all__ = [
    "CodedError",
    "LocalizedErrors",
    "accepted_language",
    "api_error",
    "forbidden",
    "not_found",
    "report_errors",
    "should_mask",
    "translate",
    "unauthenticated",
]
