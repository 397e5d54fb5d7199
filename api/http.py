"""GraphQL over HTTP (docs/api.md §1): the media type of an answer, its status code, and Kezek's own refusals
(a bad token, the rate limit, a body over the limit, …) in the same form as Strawberry's answers.

A client that accepts `application/graphql-response+json` (named explicitly, with a q no lower than that of
`application/json`) gets it, with the status codes of the GraphQL-over-HTTP specification: 200 for a
response with `data`, and 4xx (or 5xx) and no `data` entry for a request error (a document that does not
parse or validate, variables that do not fit, a refusal before execution). Any other client gets
`application/json` as Kezek always answered: HTTP 200 with `"data": null` for request errors, except
the refusals that have a status of their own (429 rate limit, 413 body too large, 414 query string too
long, 405 a mutation by GET, 400 a request that is not GraphQL-over-HTTP at all). docs/decisions.md has
the reasons.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from graph.context import Context
from graph.persisted import PersistedQueries, PersistedQueryError, Registration
from graph.request_errors import OPERATION_RESOLUTION_FAILED, REQUEST_ERROR_CODES

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
MAX_BODY_BYTES = 64 * 1024  # a POST body (docs/security.md)
# A GET's query string: below what uvicorn's HTTP parser takes in a request line, so that the refusal is
# Kezek's own (414, a GraphQL error) and says to send the operation by POST.
MAX_QUERY_STRING_BYTES = 32 * 1024

# Status codes for application/graphql-response+json, by error code, where the refusal's own status (for
# application/json) is 200.
_STATUS = {
    "UNAUTHENTICATED": 401,
    "DOCUMENT_NOT_TRUSTED": 403,
    "PERSISTED_QUERY_NOT_FOUND": 404,
}


def _ranges(accept: str) -> list[tuple[str, float]]:
    """The media ranges of an Accept header with their q (1 when absent, 0 when malformed)."""
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        if media:
            ranges.append((media.lower(), q))
    return ranges


def negotiate(accept: str | None) -> str:
    """application/graphql-response+json when the client names it with a q no lower than application/json's;
    otherwise application/json, also for an Accept header that names neither (`*/*`, `text/html`, none)."""
    if not accept:
        return JSON
    ranges = _ranges(accept)
    explicit = [q for media, q in ranges if media == GRAPHQL_RESPONSE_JSON]
    preferred = max(explicit, default=0.0)
    if preferred <= 0:
        return JSON
    # application/json's q is that of its most specific range: itself, then application/*, then */*.
    for candidate in (JSON, "application/*", "*/*"):
        qs = [q for media, q in ranges if media == candidate]
        if qs:
            return GRAPHQL_RESPONSE_JSON if preferred >= max(qs) else JSON
    return GRAPHQL_RESPONSE_JSON


def media_type(scope: Scope) -> str:
    return negotiate(Headers(scope=scope).get("accept"))


def is_request_error(result: ExecutionResult) -> bool:
    """No execution took place: no data, and no error names a field (execution errors have a path)."""
    return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors or ())


def shape(body: GraphQLHTTPResponse, result: ExecutionResult, media: str) -> int:
    """The status of an answer made by Strawberry, and its body adjusted to the media type."""
    if media != GRAPHQL_RESPONSE_JSON or not is_request_error(result):
        return 200
    body.pop("data", None)
    codes = {(e.extensions or {}).get("code") for e in result.errors or ()}
    return 400 if codes <= REQUEST_ERROR_CODES else 500


class Refusal(Response):
    """A request refused before it runs: one GraphQL error with `extensions.code`, in the media type the client
    accepts (decided when it is sent). `status` is the answer's status as application/json; for
    application/graphql-response+json a 200 becomes the refusal's 4xx."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 200,
        extensions: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, headers=headers)
        self.error: dict[str, Any] = {"message": message, "extensions": {"code": code, **(extensions or {})}}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        media = media_type(scope)
        body: dict[str, Any] = {"errors": [self.error]}
        if media == JSON:
            body = {"data": None, **body}
        elif self.status_code < 400:
            self.status_code = _STATUS.get(self.error["extensions"]["code"], 400)
        if self.status_code == 401:
            self.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        self.body = json.dumps(body, separators=(",", ":")).encode()
        self.headers["content-type"] = media
        self.headers["content-length"] = str(len(self.body))
        await super().__call__(scope, receive, send)


class TooLarge(Exception):
    pass


async def read_body(receive: Receive, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole request body; TooLarge as soon as it exceeds `limit` bytes (the rest is not read)."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def too_large(scope: Scope) -> Refusal | None:
    """The refusal of a request whose query string or declared body is over its limit, before reading."""
    if scope["method"] == "GET" and len(scope["query_string"]) > MAX_QUERY_STRING_BYTES:
        message = f"the query string exceeds {MAX_QUERY_STRING_BYTES} bytes: send the operation by POST"
        return Refusal("REQUEST_TOO_LARGE", message, 414)
    declared = Headers(scope=scope).get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return body_too_large()
    return None


def body_too_large() -> Refusal:
    return Refusal("REQUEST_TOO_LARGE", f"the request body exceeds {MAX_BODY_BYTES} bytes", 413)


class ScopedRequestAdapter(StarletteRequestAdapter):
    """Strawberry's request adapter, with the request's ASGI scope (where Kezek keeps its per-request state)."""

    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.scope = request.scope


class HTTPView(GraphQL[Context, None]):
    """Strawberry's ASGI view with the answers above: the negotiated media type and status code, and
    Strawberry's own refusals of malformed requests (text/plain) turned into GraphQL errors; automatic
    persisted queries (graph/persisted.py)."""

    request_adapter_class = ScopedRequestAdapter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.persisted = PersistedQueries()  # this process's (this app's) documents

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """Only for a browser asking for a page: a GET with neither `query` nor `extensions` (an APQ request by
        GET has no query) whose Accept names text/html (Strawberry's `*/*` would catch every curl)."""
        params = request.query_params
        return (
            request.method == "GET"
            and params.get("query") is None
            and params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub = await super().get_sub_response(request)
        sub.media_type = media_type(request.scope)
        request.scope["kezek.response"] = sub
        return sub

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        body = await super().process_result(request, result)
        sub: Response = request.scope["kezek.response"]
        status = shape(body, result, sub.media_type or JSON)
        if status != 200:
            sub.status_code = status
        registration: Registration | None = request.scope.get("kezek.persist")
        if registration is not None and not is_request_error(result):
            self.persisted.put(registration)  # it parsed and validated
        return body

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = sub_response.media_type or JSON
        return response

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item.operation_name, str | None):
                # Strawberry checks query, variables and extensions alike, but not this one.
                raise HTTPException(
                    400, "The GraphQL operation's `operationName` must be a string or null, if provided."
                )
        if isinstance(request, ScopedRequestAdapter) and isinstance(data, GraphQLRequestData):
            # A trusted-documents-only channel's request comes here with its registered document (api/app.py).
            data.query, request.scope["kezek.persist"] = self.persisted.resolve(data.query, data.extensions)
        return data

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:  # Strawberry's own __call__ answers these as text/plain
            response = refusal_of(exc, request.method)
        except PersistedQueryError as exc:
            response = Refusal(exc.code, exc.message, exc.status, headers={"Cache-Control": "no-store"})
        await response(scope, receive, send)


def refusal_of(exc: HTTPException, method: str) -> Refusal:
    """Strawberry's refusal of a request as a GraphQL error: a mutation by GET is 405 with `Allow: POST`, an
    operation that cannot be picked out of the document a request error (200 as application/json)."""
    cause = exc.__cause__
    if isinstance(cause, InvalidOperationTypeError):
        if cause.operation_type == OperationType.SUBSCRIPTION:
            return Refusal("BAD_REQUEST", "subscriptions are served over a WebSocket (graphql-transport-ws)", 400)
        kind = {OperationType.QUERY: "queries", OperationType.MUTATION: "mutations"}[cause.operation_type]
        return Refusal("BAD_REQUEST", f"{kind} are sent by POST", 405, headers={"Allow": "POST"})
    if isinstance(cause, CannotGetOperationTypeError):
        return Refusal(OPERATION_RESOLUTION_FAILED, cause.as_http_error_reason())
    if exc.status_code == 405:
        return Refusal("BAD_REQUEST", exc.reason, 405, headers={"Allow": "GET, POST"})
    return Refusal("BAD_REQUEST", exc.reason, exc.status_code)
