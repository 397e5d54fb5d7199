"""WebSocket bounds (issue 4): the connection_init timeout and the subscriptions per connection."""

from __future__ import annotations

import json

from websockets.asyncio.client import connect

from tests.conftest import OFFERS_POLICY, Kezek
from tests.test_subscriptions import PROTOCOL, WAIT, closed_with, connected, receive, serve

VACANCIES = "subscription { vacancyUpdates { cursor kind } }"


async def test_a_socket_without_connection_init_is_closed(db_url: str) -> None:
    env = {"KEZEK_CONNECTION_INIT_TIMEOUT": "1"}
    async with (
        serve(db_url, OFFERS_POLICY, extra_env=env) as (base,),
        connect(f"ws://{base}/graphql", subprotocols=PROTOCOL) as ws,
    ):
        assert await closed_with(ws, WAIT) == 4408  # a bound for a server that never closes it


async def test_subscriptions_per_connection_are_bounded(db_url: str) -> None:
    env = {"KEZEK_MAX_SUBSCRIPTIONS_PER_CONNECTION": "2"}
    async with serve(db_url, OFFERS_POLICY, extra_env=env) as (base,), connected(base, Kezek.operator()) as ws:
        for n in (1, 2, 3):
            await ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": {"query": VACANCIES}}))
        refused = await receive(ws)
        assert refused["type"] == "error" and refused["id"] == "3"
        assert "limit" in refused["payload"][0]["message"].lower()
