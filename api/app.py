"""The Starlette application: /graphql (HTTP and graphql-transport-ws), /healthz, /readyz, /metrics; in
development, GraphiQL's assets under /graphql/ide/."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from strawberry.exceptions import ConnectionRejectionError

from api import graphiql, worker
from api.auth import Unauthenticated
from api.container import Container
from api.cors import allowed_origins, cors
from api.http import HTTPView, Refusal, TooLarge, body_too_large, read_body, too_large
from api.logging_setup import bind_context
from api.metrics import OBSERVER, MetricsEndpoint
from api.refusals import ReasonedWebSocketAdapter, refusal, refuse_socket
from api.websocket import SUBPROTOCOL, TransportWSHandler, refuse_other_subprotocols
from domain.model import Actor, Language
from graph.context import Context
from graph.errors import accepted_language
from graph.limits import RateLimiter, retry_after
from graph.schema import build_schema
from graph.shared import SharedSchema
from persistence.db import ready
from persistence.documents import document_sha256

log = logging.getLogger("kezek.api")
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
CHANNEL: contextvars.ContextVar[str | None] = contextvars.ContextVar("channel", default=None)
OPERATION: contextvars.ContextVar[str | None] = contextvars.ContextVar("operation", default=None)
LANGUAGE: contextvars.ContextVar[Language] = contextvars.ContextVar("language", default=Language.RU)
bind_context(request_id=REQUEST_ID, channel=CHANNEL, operation=OPERATION)


NUL_REFUSAL = "text must not contain NUL characters"


def _has_nul(text: str) -> bool:
    """PostgreSQL stores no NUL in text: such input is refused up front, as JSON or GraphQL escapes too."""
    return "\x00" in text or "\\u0000" in text.lower()


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


PUBLIC = Actor(role=None, subject=None, channel=None)


def _error(code: str, message: str, status: int = 200, **extensions: object) -> Refusal:
    """A refusal before execution, in the media type the client accepts (api/http.py) and the caller's language
    (api/refusals.py); `message` is the English fallback."""
    return refusal(code, message, status, LANGUAGE.get(), **extensions)


class KezekGraphQL(HTTPView):
    # graphql-transport-ws only, with its rules for malformed and oversized messages (api/websocket.py).
    graphql_transport_ws_handler_class = TransportWSHandler
    # Size limits, and a refused token's 4403 close saying why (api/refusals.py).
    websocket_adapter_class = ReasonedWebSocketAdapter  # type: ignore[assignment]  # as strawberry.asgi.GraphQL does

    def __init__(self, container: Container) -> None:
        dev = container.settings.development
        settings = container.settings
        schema = build_schema(production=not dev)
        assert isinstance(schema, SharedSchema)
        self.subscriptions = schema.hub  # shared subscription executions (graph/shared.py)
        super().__init__(
            schema,
            graphql_ide="graphiql" if dev else None,
            allow_queries_via_get=True,
            subscription_protocols=(SUBPROTOCOL,),
            # A browser page on another origin may open a WebSocket when a channel lists it (api/cors.py).
            allowed_origins=allowed_origins(container.authenticator.channels()),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            connection_init_wait_timeout=dt.timedelta(seconds=settings.connection_init_timeout),
        )
        self.container = container
        self.per_channel = RateLimiter(settings.rate_channel_per_second, settings.rate_channel_burst)
        self.per_person = RateLimiter(settings.rate_person_per_second, settings.rate_person_burst)
        self.per_address = RateLimiter(settings.rate_public_per_second, settings.rate_public_burst)

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL with its assets served by Kezek (api/graphiql.py), not Strawberry's CDN page."""
        return HTMLResponse(graphiql.page())

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        # The token was checked in __call__; a WebSocket is public until its connection_init.
        actor = request.scope.get("kezek.actor", PUBLIC)
        context = Context(
            actor=actor,
            services=self.container.services,
            request_id=REQUEST_ID.get() or str(uuid.uuid4()),
            language=accepted_language(request.headers.get("accept-language")),
            reader=request.scope.get("kezek.reader"),
        )
        if isinstance(request, WebSocket):
            context.websocket = request
        return context

    def _limited(self, actor: Actor, scope: Scope) -> float:
        if actor.channel is None:
            client = scope.get("client") or ("unknown", 0)
            return self.per_address.take(f"ip:{client[0]}")
        return max(
            self.per_channel.take(f"channel:{actor.channel}"),
            self.per_person.take(f"person:{actor.channel}:{actor.subject}"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket" and await refuse_other_subprotocols(scope, receive, send):
                return
            await super().__call__(scope, receive, send)
            return
        REQUEST_ID.set(str(uuid.uuid4()))
        headers = Headers(scope=scope)
        LANGUAGE.set(accepted_language(headers.get("accept-language")))
        if (oversized := too_large(scope)) is not None:
            await oversized(scope, receive, send)
            return
        try:
            identity = await self.container.authenticator.authenticate(headers.get("authorization"))
        except Unauthenticated as exc:
            log.info("token refused: %s", exc)
            await _error("UNAUTHENTICATED", "invalid token", reason=exc.reason.value)(scope, receive, send)
            return
        actor = identity.actor if identity else PUBLIC
        CHANNEL.set(actor.channel)
        scope["kezek.actor"] = actor
        wait = self._limited(actor, scope)
        if wait > 0:
            seconds = retry_after(wait)
            refusal = _error("RATE_LIMITED", "too many requests", 429, retryAfter=seconds)
            refusal.headers["Retry-After"] = str(seconds)
            await refusal(scope, receive, send)
            return
        channel = self.container.authenticator.channel(actor.channel) if actor.channel else None
        if scope["method"] == "GET" and _has_nul(QueryParams(scope["query_string"]).get("query", "")):
            await _error("INVALID_INPUT", NUL_REFUSAL)(scope, receive, send)
            return
        if scope["method"] == "POST":
            try:
                body = await read_body(receive)
            except TooLarge:
                await body_too_large()(scope, receive, send)
                return
            if _has_nul(body.decode("utf-8", "replace")):
                await _error("INVALID_INPUT", NUL_REFUSAL)(scope, receive, send)
                return
            operation, body, problem = await self._trusted(body, channel is not None and channel.trusted_documents_only)
            OPERATION.set(operation)
            if problem is not None:
                await _error("DOCUMENT_NOT_TRUSTED", problem)(scope, receive, send)
                return
            receive = _replay(body)
        elif channel is not None and channel.trusted_documents_only:
            await _error("DOCUMENT_NOT_TRUSTED", "this channel sends registered documents by POST")(
                scope, receive, send
            )
            return
        started = time.perf_counter()
        status: list[int] = []

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        reader = scope["kezek.reader"] = self.container.services.reader.for_request()
        try:
            await super().__call__(scope, receive, recording_send)
        finally:
            await reader.release()
        OBSERVER.request(OPERATION.get(), time.perf_counter() - started)
        log.info(
            "%s %s %s in %.1f ms",
            scope["method"],
            scope["path"],
            status[0] if status else "-",
            (time.perf_counter() - started) * 1000,
        )

    async def _trusted(self, body: bytes, trusted_only: bool) -> tuple[str | None, bytes, str | None]:
        """(operation name, body to pass on, refusal): a trusted-only channel runs registered documents only."""
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return None, body, None  # Strawberry answers malformed JSON itself
        if not isinstance(data, dict):
            return None, body, None
        operation = data.get("operationName") if isinstance(data.get("operationName"), str) else None
        if not trusted_only:
            return operation, body, None
        digest = data.get("documentId") or ((data.get("extensions") or {}).get("persistedQuery") or {}).get(
            "sha256Hash"
        )
        query = data.get("query")
        if isinstance(digest, str):
            digest = digest.removeprefix("sha256:")
        elif isinstance(query, str):
            digest = document_sha256(query)
        else:
            return operation, body, "send documentId: the SHA-256 of a registered document"
        document = await self.container.documents.get(digest)
        if document is None:
            return operation, body, "this document is not registered for trusted channels"
        data["query"] = document
        data.pop("documentId", None)
        return operation, json.dumps(data).encode(), None

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """The token travels in connection_init; a bad one closes the socket with 4403 (docs/api.md §1)."""
        params = context.connection_params or {}
        header = params.get("authorization") or params.get("Authorization")
        try:
            identity = await self.container.authenticator.authenticate(header if isinstance(header, str) else None)
        except Unauthenticated as exc:
            log.info("websocket token refused: %s", exc)
            refuse_socket(context.websocket, exc)
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
            await websocket.close(code=4403, reason="expired")


def create_app(container: Container, *, run_worker: bool = False) -> Starlette:
    graphql = KezekGraphQL(container)
    metrics = MetricsEndpoint(
        container.engine,
        container.pools,
        container.broker,
        graphql.subscriptions,
        container.services.admission,
        container.settings.metrics_token,
    )

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        ok, reason = await ready(container.engine)
        return JSONResponse({"status": "ok" if ok else "unavailable", "reason": reason}, status_code=200 if ok else 503)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await container.broker.start()
        stop = asyncio.Event()
        tasks = [asyncio.create_task(worker.dispatch_allocations(container, stop))]
        if run_worker:
            tasks.append(asyncio.create_task(worker.run_forever(container, container.settings.worker_interval, stop)))
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                await task
            await graphql.subscriptions.aclose()
            await container.broker.stop()
            for pending in list(_EXPIRY_TASKS):
                pending.cancel()
            await container.aclose()

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *(graphiql.routes() if container.settings.development else []),
        ],
        middleware=[cors(allowed_origins(container.authenticator.channels()))],
        lifespan=lifespan,
    )
    app.state.subscriptions = graphql.subscriptions  # for tests and diagnostics: executions and members
    app.state.metrics = metrics
    return app


__all__ = ["ConnectionRejectionError", "create_app"]
