"""Refusals answered before a request reaches the schema (a refused token, the rate limit, NUL characters,
untrusted documents): the GraphQL error body in the caller's language, counted by code; and the reason a
refused token closes a WebSocket with 4403 (docs/api.md §1)."""

from __future__ import annotations

from starlette.websockets import WebSocket

from api.auth import Unauthenticated
from api.http import Refusal
from api.metrics import OBSERVER
from api.websocket import LimitedWebSocketAdapter
from domain.error_messages import render
from domain.model import Language

CLOSE_REASON = "kezek.close_reason"  # in a WebSocket's scope: the reason its 4403 close gives


def refusal(code: str, message: str, status: int, language: Language, **extensions: object) -> Refusal:
    """`message` is the English detail, used only for a code without texts."""
    OBSERVER.error(code, "top_level")
    return Refusal(code, render(code, language, extensions) or message, status, extensions)


def refuse_socket(websocket: WebSocket | None, exc: Unauthenticated) -> None:
    """The socket's connection_init is refused: its 4403 close will say why."""
    OBSERVER.error("UNAUTHENTICATED", "top_level")
    if websocket is not None:
        websocket.scope[CLOSE_REASON] = exc.reason.value


class ReasonedWebSocketAdapter(LimitedWebSocketAdapter):
    """Strawberry closes a refused connection_init with 4403 "Forbidden"; this one gives the token's reason (and
    keeps the size limits of api/websocket.py)."""

    async def close(self, code: int, reason: str) -> None:
        if code == 4403:
            reason = self.ws.scope.get(CLOSE_REASON, reason)
        await super().close(code, reason)
