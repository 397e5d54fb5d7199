"""Why a token is refused (docs/api.md §1): `extensions.reason` over HTTP, the 4403 close reason over WebSocket,
for every reason, so that a channel's team can fix its side."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from typing import Any

import jwt
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from api.app import create_app
from api.auth import AUDIENCE, Reason, mint
from api.container import build_container
from domain.model import Role
from tests import data
from tests.conftest import CHANNELS, Kezek, make_settings
from tests.local_server import serve_in_thread

EGOV = CHANNELS["egov"]
EGOV_KEY = EGOV.keys[0]
PARENT = data.PLAIN.parents[0]
WAIT = 8.0


def _signed(claims: dict[str, Any], *, secret: str | None = None, headers: dict[str, Any] | None = None) -> str:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    body = {"iss": "egov", "aud": AUDIENCE, "sub": PARENT, "role": "citizen", "iat": now, "exp": now + 600, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    key = secret or EGOV_KEY.secret
    assert key is not None
    return jwt.encode(body, key, algorithm="HS256", headers={"kid": EGOV_KEY.kid, **(headers or {})})


def refused_tokens() -> dict[str, tuple[Reason, str]]:
    """(expected reason, Authorization header) by what is wrong."""
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    expired = mint(EGOV, Role.CITIZEN, PARENT, now=long_ago, lifetime=dt.timedelta(hours=1))
    good = mint(EGOV, Role.CITIZEN, PARENT)
    head, payload, signature = good.split(".")
    tampered = f"{head}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"
    unsigned = jwt.encode(
        {"iss": "egov", "aud": AUDIENCE, "sub": PARENT}, "", algorithm="none", headers={"kid": EGOV_KEY.kid}
    )
    bearer = "Bearer "
    return {
        "expired": (Reason.EXPIRED, bearer + expired),
        "signed with another secret": (Reason.BAD_SIGNATURE, bearer + _signed({}, secret="x" * 40)),
        "signature altered": (Reason.BAD_SIGNATURE, bearer + tampered),
        "alg none": (Reason.BAD_SIGNATURE, bearer + unsigned),
        "unknown kid": (Reason.UNKNOWN_KEY, bearer + _signed({}, headers={"kid": "no-such-key"})),
        "unknown issuer": (Reason.UNKNOWN_KEY, bearer + _signed({"iss": "no-such-bank"})),
        "no kid, several keys": (
            Reason.UNKNOWN_KEY,
            bearer + jwt.encode({"iss": "egov", "sub": PARENT}, EGOV_KEY.secret or "", algorithm="HS256"),
        ),
        "wrong audience": (Reason.WRONG_AUDIENCE, bearer + _signed({"aud": "another-service"})),
        "role the channel may not use": (
            Reason.ROLE_NOT_ALLOWED,
            bearer + mint(EGOV, Role.AKIMAT_OPERATOR, "op-1", region=data.KARAGANDA_REGION),
        ),
        "no such role": (Reason.ROLE_NOT_ALLOWED, bearer + _signed({"role": "superuser"})),
        "region outside the channel": (
            Reason.OUTSIDE_CHANNEL_LIMITS,
            bearer + mint(CHANNELS["akimat-sko"], Role.AKIMAT_OPERATOR, "op-1", region=data.KARAGANDA_REGION),
        ),
        "not a JWT": (Reason.MALFORMED, bearer + "not-a-jwt"),
        "not a Bearer token": (Reason.MALFORMED, "Basic dXNlcjpwYXNz"),
        "no sub": (Reason.MALFORMED, bearer + _signed({"sub": None})),
        "issued in the future": (
            Reason.MALFORMED,
            bearer + _signed({"iat": int(dt.datetime.now(dt.UTC).timestamp()) + 3600}),
        ),
        "operator without a region": (
            Reason.MALFORMED,
            bearer + mint(CHANNELS["akimat-karaganda"], Role.AKIMAT_OPERATOR, "op-1"),
        ),
    }


async def test_every_reason_over_http(kezek: Kezek) -> None:
    cases = refused_tokens()
    # A staff token naming a kindergarten outside the channel's regions is looked up in the database.
    sha1_by_sko = mint(CHANNELS["akimat-sko"], Role.KINDERGARTEN_STAFF, "staff-1", kindergarten="SHA-1")
    cases["kindergarten outside the channel"] = (Reason.OUTSIDE_CHANNEL_LIMITS, f"Bearer {sha1_by_sko}")
    assert {reason for reason, _ in cases.values()} == set(Reason)
    for why, (reason, header) in cases.items():
        response = await kezek.client.post(
            "/graphql", json={"query": "{ regions { code } }"}, headers={"Authorization": header}
        )
        assert response.status_code == 200, why
        body = response.json()
        assert body["data"] is None, why
        assert [e["extensions"] for e in body["errors"]] == [{"code": "UNAUTHENTICATED", "reason": reason.value}], why
    # The same channel's good tokens pass: staff of its own region, a citizen of egov.
    own = mint(CHANNELS["akimat-sko"], Role.KINDERGARTEN_STAFF, "staff-1", kindergarten="PET-1")
    assert (await kezek.gql("{ viewer { role } }", token=own))["viewer"]["role"] == "KINDERGARTEN_STAFF"
    assert (await kezek.gql("{ viewer { role } }", token=Kezek.citizen(PARENT)))["viewer"]["role"] == "CITIZEN"


async def test_every_reason_over_websocket(db_url: str) -> None:
    """A refused connection_init closes the socket with 4403 and the reason as the close reason text."""
    container = build_container(make_settings(), db_url)
    try:
        with serve_in_thread(create_app(container)) as base:
            url = base.replace("http://", "ws://") + "/graphql"
            cases = refused_tokens()
            assert {reason for reason, _ in cases.values()} == set(Reason)
            for why, (reason, header) in cases.items():
                async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=WAIT) as ws:
                    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": header}}))
                    with contextlib.suppress(ConnectionClosed):
                        while True:
                            await asyncio.wait_for(ws.recv(), WAIT)
                    assert (ws.close_code, ws.close_reason) == (4403, reason.value), why
            good = f"Bearer {Kezek.citizen(PARENT)}"
            async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=WAIT) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": good}}))
                assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "connection_ack"
    finally:
        await container.aclose()
