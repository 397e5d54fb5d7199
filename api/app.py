"""The Starlette application: /graphql (HTTP and graphql-transport-ws), /healthz, /readyz."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from api import worker
from api.auth import Unauthenticated
from api.container import Container
from domain.model import Actor
from graph.context import Context
from graph.schema import build_schema
from persistence.db import ready

log = logging.getLogger("kezek.api")
PUBLIC = Actor(role=None, subject=None, channel=None)


class KezekGraphQL(GraphQL[Context, None]):
    def __init__(self, container: Container) -> None:
        dev = container.settings.development
        super().__init__(
            build_schema(production=not dev),
            graphql_ide="graphiql" if dev else None,
            allow_queries_via_get=True,
        )
        self.container = container

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        # The token was checked in __call__; a WebSocket is public until its connection_init.
        actor = request.scope.get("kezek.actor", PUBLIC)
        context = Context(actor=actor, services=self.container.services, request_id=str(uuid.uuid4()))
        if isinstance(request, WebSocket):
            context.websocket = request
        return context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                identity = await self.container.authenticator.authenticate(Headers(scope=scope).get("authorization"))
            except Unauthenticated as exc:
                log.info("token refused: %s", exc)
                refusal = JSONResponse(
                    {
                        "data": None,
                        "errors": [{"message": "invalid token", "extensions": {"code": "UNAUTHENTICATED"}}],
                    }
                )
                await refusal(scope, receive, send)
                return
            scope["kezek.actor"] = identity.actor if identity else PUBLIC
        await super().__call__(scope, receive, send)

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """The token travels in connection_init; a bad one closes the socket with 4403 (API.md §1)."""
        params = context.connection_params or {}
        header = params.get("authorization") or params.get("Authorization")
        try:
            identity = await self.container.authenticator.authenticate(header if isinstance(header, str) else None)
        except Unauthenticated as exc:
            log.info("websocket token refused: %s", exc)
            raise ConnectionRejectionError() from None
        if identity is not None:
            context.actor = identity.actor
            delay = (identity.expires_at - dt.datetime.now(dt.UTC)).total_seconds()
            task = asyncio.create_task(_close_at_expiry(context.websocket, max(delay, 0.0)))
            _EXPIRY_TASKS.add(task)
            task.add_done_callback(_EXPIRY_TASKS.discard)
        return None


_EXPIRY_TASKS: set[asyncio.Task[None]] = set()


async def _close_at_expiry(websocket: WebSocket | None, delay: float) -> None:
    await asyncio.sleep(delay)
    if websocket is not None and websocket.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code=4403, reason="token expired")


def create_app(container: Container, *, run_worker: bool = False) -> Starlette:
    graphql = KezekGraphQL(container)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        ok, reason = await ready(container.engine)
        return JSONResponse({"status": "ok" if ok else "unavailable", "reason": reason}, status_code=200 if ok else 503)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await container.broker.start()
        stop = asyncio.Event()
        task = (
            asyncio.create_task(worker.run_forever(container, container.settings.worker_interval, stop))
            if run_worker
            else None
        )
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task
            await container.broker.stop()
            for pending in list(_EXPIRY_TASKS):
                pending.cancel()
            await container.aclose()

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
        ],
        lifespan=lifespan,
    )


__all__ = ["ConnectionRejectionError", "create_app"]
