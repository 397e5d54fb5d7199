"""Refusals answered outside the schema: the reason a refused token closes a WebSocket with 4403
(docs/api.md §1)."""

from __future__ import annotations

from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter

from api.auth import Unauthenticated

CLOSE_REASON = "kezek.close_reason"  # in a WebSocket's scope: the reason its 4403 close gives


def refuse_socket(websocket: WebSocket | None, exc: Unauthenticated) -> None:
    """The socket's connection_init is refused: its 4403 close will say why."""
    if websocket is not None:
        websocket.scope[CLOSE_REASON] = exc.reason.value


class ReasonedWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry closes a refused connection_init with 4403 "Forbidden"; this one gives the token's reason."""

    async def close(self, code: int, reason: str) -> None:
        if code == 4403:
            reason = self.ws.scope.get(CLOSE_REASON, reason)
        await super().close(code, reason)
