"""graphql-transport-ws as its protocol says (docs/api.md §1, api/websocket.py), on a real `kezek serve`: only
that subprotocol, refused at the handshake otherwise; malformed and oversized messages close the socket with
4400, never with a server error; a subscription refused before it runs gets an `error` message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from api.websocket import MAX_MESSAGE_BYTES
from tests.conftest import OFFERS_POLICY, Kezek
from tests.test_subscriptions import PROTOCOL, WAIT, closed_with, connected, receive, serve

VACANCIES = "subscription { vacancyUpdates { cursor kind } }"


async def _refused(base: str, subprotocols: list[Subprotocol] | None) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"ws://{base}/graphql", subprotocols=subprotocols, open_timeout=WAIT):
            pass
    return refused.value


async def test_only_graphql_transport_ws_is_accepted(db_url: str) -> None:
    async with serve(db_url, OFFERS_POLICY) as (base,):
        for offered in ([Subprotocol("graphql-ws")], None, [Subprotocol("graphql-sse")]):
            refused = await _refused(base, offered)
            assert refused.response.status_code == 400, offered
            assert b"graphql-transport-ws" in refused.response.body, refused.response.body
            assert b"graphql-ws protocol of subscriptions-transport-ws is not served" in refused.response.body
        # A client offering both gets the one Kezek speaks.
        both = [Subprotocol("graphql-ws"), *PROTOCOL]
        async with connect(f"ws://{base}/graphql", subprotocols=both, open_timeout=WAIT) as ws:
            assert ws.subprotocol == "graphql-transport-ws"
            await ws.send(json.dumps({"type": "connection_init"}))  # a payload may be left out …
            assert (await receive(ws))["type"] == "connection_ack"
        async with connect(f"ws://{base}/graphql", subprotocols=PROTOCOL, open_timeout=WAIT) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": None}))  # … or null
            assert (await receive(ws))["type"] == "connection_ack"


QUERY = "{ regions { code } }"
MALFORMED: dict[str, Any] = {
    "an array": [],
    "a number": 42,
    "null": None,
    "a string": "subscribe",
    "no type": {"id": ["a"]},
    "a type that is no string": {"type": 5},
    "an unknown type": {"type": "start", "id": "1", "payload": {"query": QUERY}},
    "an id that is a list": {"type": "subscribe", "id": ["a"], "payload": {"query": QUERY}},
    "an empty id": {"type": "subscribe", "id": "", "payload": {"query": QUERY}},
    "no payload": {"type": "subscribe", "id": "1"},
    "a payload that is a string": {"type": "subscribe", "id": "1", "payload": "x"},
    "a query that is a number": {"type": "subscribe", "id": "1", "payload": {"query": 42}},
    "variables that are a string": {"type": "subscribe", "id": "1", "payload": {"query": QUERY, "variables": "x"}},
    "an operationName that is a map": {
        "type": "subscribe",
        "id": "1",
        "payload": {"query": QUERY, "operationName": {}},
    },
    "extensions that are a list": {"type": "subscribe", "id": "1", "payload": {"query": QUERY, "extensions": []}},
    "a complete whose id is a map": {"type": "complete", "id": {"a": 1}},
    "a ping whose payload is a list": {"type": "ping", "payload": []},
}


async def _closes_with_4400(ws: ClientConnection, frame: str | bytes) -> str:
    await ws.send(frame)
    assert await closed_with(ws) == 4400, frame
    assert ws.close_reason, frame
    return ws.close_reason


async def test_malformed_messages_close_the_socket_with_4400(db_url: str) -> None:
    async with serve(db_url, OFFERS_POLICY) as (base,):
        for name, message in MALFORMED.items():
            # Acknowledged or not yet, the answer is the same.
            async with connected(base, Kezek.operator()) as ws:
                reason = await _closes_with_4400(ws, json.dumps(message))
                assert reason.startswith("Invalid message received") or "Unknown message type" in reason, name
            async with connect(f"ws://{base}/graphql", subprotocols=PROTOCOL, open_timeout=WAIT) as ws:
                await _closes_with_4400(ws, json.dumps(message))
        frames: dict[str, str | bytes] = {"not JSON": "{", "binary": b"\x00\x01"}
        for name, frame in frames.items():
            async with connected(base, Kezek.operator()) as ws:
                assert await _closes_with_4400(ws, frame), name
        # A socket that kept to the protocol is served as ever.
        async with connected(base, Kezek.operator()) as ws:
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}))
            assert (await receive(ws))["type"] == "next"
            assert (await receive(ws)) == {"id": "1", "type": "complete"}


def _ping(size: int) -> str:
    """A ping of exactly `size` bytes."""
    empty = json.dumps({"type": "ping", "payload": {"pad": ""}})
    return json.dumps({"type": "ping", "payload": {"pad": "x" * (size - len(empty))}})


async def test_messages_are_limited_in_size(db_url: str) -> None:
    async with serve(db_url, OFFERS_POLICY) as (base,), connected(base, Kezek.operator()) as ws:
        at_limit = _ping(MAX_MESSAGE_BYTES)
        assert len(at_limit.encode()) == MAX_MESSAGE_BYTES
        await ws.send(at_limit)
        assert (await receive(ws))["type"] == "pong"
        # Counted in UTF-8 bytes: fewer characters than the limit, more bytes.
        wide = json.dumps({"type": "ping", "payload": {"pad": "қ" * (MAX_MESSAGE_BYTES // 2)}}, ensure_ascii=False)
        assert len(wide) < MAX_MESSAGE_BYTES < len(wide.encode())
        reason = await _closes_with_4400(ws, wide)
        assert str(MAX_MESSAGE_BYTES) in reason and "bytes" in reason


async def _error_of(ws: ClientConnection, payload: dict[str, Any]) -> list[dict[str, Any]]:
    await ws.send(json.dumps({"id": "e", "type": "subscribe", "payload": payload}))
    message = await receive(ws)
    assert message["type"] == "error" and message["id"] == "e", message
    errors = message["payload"]
    assert isinstance(errors, list)
    return errors


async def test_a_subscription_refused_before_it_runs_gets_an_error_message(db_url: str) -> None:
    cases: dict[str, dict[str, Any]] = {
        "GRAPHQL_PARSE_FAILED": {"query": "subscription { vacancyUpdates { cursor "},
        "GRAPHQL_VALIDATION_FAILED": {"query": "subscription { vacancyUpdates { nope } }"},
        "BAD_USER_INPUT": {
            "query": "subscription($after: String!) { vacancyUpdates(after: $after) { cursor } }",
            "variables": {"after": 5},
        },
        "OPERATION_RESOLUTION_FAILURE": {"query": VACANCIES, "operationName": "Other"},
    }
    async with serve(db_url, OFFERS_POLICY) as (base,), connected(base, Kezek.operator()) as ws:
        for code, payload in cases.items():
            errors = await _error_of(ws, payload)
            assert errors and {e["extensions"]["code"] for e in errors} == {code}, errors
        # The socket stays open, and the same id may be used again.
        await ws.send(json.dumps({"type": "ping"}))
        assert (await receive(ws))["type"] == "pong"
        await ws.send(json.dumps({"id": "e", "type": "subscribe", "payload": {"query": QUERY}}))
        assert (await receive(ws))["type"] == "next"
