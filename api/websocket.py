"""Subscriptions over graphql-transport-ws (docs/api.md §1), as its protocol (graphql-ws's PROTOCOL.md) says:

- a handshake that does not offer the `graphql-transport-ws` subprotocol (the legacy `graphql-ws` of
  subscriptions-transport-ws, or none) is refused before the socket opens: HTTP 400 naming the one to use;
- a message that is not one of the protocol's (not a JSON object, no string `type`, an `id` that is not a
  string, a `subscribe` whose payload is not a map with a string `query`, …) closes the socket with 4400
  and says what was wrong, as does a message over MAX_MESSAGE_BYTES;
- a subscription refused before it runs (a document that does not parse or validate, an operation that
  cannot be picked out of it) gets an `error` message with its GraphQL errors; the socket stays open.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from json import JSONDecodeError

from graphql import GraphQLError
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message
from strawberry.types.execution import PreExecutionError

from graph.context import Context
from graph.request_errors import OPERATION_RESOLUTION_FAILED, coded

SUBPROTOCOL = GRAPHQL_TRANSPORT_WS_PROTOCOL
MAX_MESSAGE_BYTES = 64 * 1024
SUBPROTOCOL_REFUSAL = (
    f"Kezek speaks the {SUBPROTOCOL} subprotocol only (offer Sec-WebSocket-Protocol: {SUBPROTOCOL}); "
    "the legacy graphql-ws protocol of subscriptions-transport-ws is not served"
)
_OPTIONAL_MAPS = ("variables", "extensions")


async def refuse_other_subprotocols(scope: Scope, receive: Receive, send: Send) -> bool:
    """True when the handshake did not offer graphql-transport-ws and has been refused (HTTP 400 with the
    reason, where the server can answer a handshake with a response; 403 otherwise)."""
    if SUBPROTOCOL in scope.get("subprotocols", ()):
        return False
    websocket = WebSocket(scope, receive, send)
    await websocket.receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await websocket.send_denial_response(PlainTextResponse(SUBPROTOCOL_REFUSAL, status_code=400))
    else:
        await websocket.close(code=1002, reason=SUBPROTOCOL_REFUSAL[:120])
    return True


def malformed(message: object) -> str | None:
    """What makes a client's message no graphql-transport-ws message; None for a well-formed one."""
    if not isinstance(message, dict):
        return "a message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "a message must have a string `type`"
    if kind in ("subscribe", "complete") and not (isinstance(message.get("id"), str) and message["id"]):
        return f"a `{kind}` message must have a non-empty string `id`"
    payload = message.get("payload")
    if kind in ("connection_init", "ping", "pong") and not isinstance(payload, dict | None):
        return f"the payload of a `{kind}` message must be an object or null"
    if kind != "subscribe":
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return "a `subscribe` message must have a payload with a string `query`"
    if not isinstance(payload.get("operationName"), str | None):
        return "`operationName` must be a string or null"
    for name in _OPTIONAL_MAPS:
        if not isinstance(payload.get(name), dict | None):
            return f"`{name}` must be an object or null"
    return None


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def handle_message(self, message: Message) -> None:
        problem = malformed(message)
        if problem is not None:
            await self.handle_invalid_message(f"Invalid message received: {problem}")
            return
        if message["type"] == "connection_init" and message.get("payload") is None:
            message = {"type": "connection_init", "payload": {}}  # the protocol allows a null payload
        await super().handle_message(message)

    async def _handle_pre_execution_error(self, operation: Operation[Context, None], result: PreExecutionError) -> None:
        # An operation that cannot be picked out of the document gets the code HTTP gives it (api/http.py).
        unpicked = [e for e in result.errors or () if isinstance(e.original_error, CannotGetOperationTypeError)]
        coded(unpicked, OPERATION_RESOLUTION_FAILED)
        await super()._handle_pre_execution_error(operation, result)

    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        """Strawberry closes the socket (4400) for a syntax error or an operation it cannot pick; the protocol
        answers a subscribe refused before execution with an `error` message, and so does Kezek."""
        return None


class LimitedWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter, closing the socket with 4400 when a message exceeds MAX_MESSAGE_BYTES."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                try:
                    text = await self.ws.receive_text()
                except KeyError as exc:  # a binary message
                    raise NonTextMessageReceived from exc
                if len(text) > MAX_MESSAGE_BYTES or len(text.encode()) > MAX_MESSAGE_BYTES:
                    await self.close(4400, f"a message must not exceed {MAX_MESSAGE_BYTES} bytes")
                    return
                try:
                    decoded = self.view.decode_json(text)
                except JSONDecodeError as exc:
                    if ignore_parsing_errors:
                        continue
                    raise NonJsonMessageReceived from exc
                yield decoded
        except WebSocketDisconnect:
            pass
