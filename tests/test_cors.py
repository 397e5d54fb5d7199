"""Browsers (docs/configuration.md): CORS answers the web origins the channels file lists, and only those;
a malformed origin stops start-up naming the file and the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from api.settings import DEV_DIR, Profile
from tests import data
from tests.conftest import OFFERS_POLICY, open_kezek
from tests.served import clean_env
from tests.test_subscriptions import PROTOCOL, WAIT, receive, serve

ROOT = Path(__file__).parent.parent
EGOV_WEB = "https://egov.kz"
BANK_WEB = "https://app.kaspi.kz"
BANK_LOCAL = "http://localhost:3000"
ELSEWHERE = "https://evil.example"


def _channels(tmp_path: Path, **origins: list[str]) -> Path:
    """The development channels with `origins` added; `kaspi` also as a production channel."""
    channels: list[dict[str, Any]] = json.loads((DEV_DIR / "channels.json").read_text())
    for channel in channels:
        if channel["id"] in origins:
            channel["origins"] = origins[channel["id"]]
    path = tmp_path / "channels.json"
    path.write_text(json.dumps(channels))
    return path


def _preflight(origin: str, headers: str = "authorization, content-type") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": headers}


async def test_cors_answers_the_origins_channels_list(db_url: str, tmp_path: Path) -> None:
    channels = _channels(tmp_path, egov=[EGOV_WEB], kaspi=[BANK_WEB, BANK_LOCAL])
    async with open_kezek(db_url, channels_file=channels) as kezek:
        # Any channel's origin is answered; the token, not the origin, says who calls.
        for origin in (EGOV_WEB, BANK_WEB, BANK_LOCAL):
            allowed = await kezek.client.options("/graphql", headers=_preflight(origin))
            assert allowed.status_code == 200, (origin, allowed.text)
            assert allowed.headers["access-control-allow-origin"] == origin
            assert {"GET", "POST"} <= set(allowed.headers["access-control-allow-methods"].split(", "))
            allowed_headers = {h.lower() for h in allowed.headers["access-control-allow-headers"].split(", ")}
            assert {"authorization", "content-type"} <= allowed_headers
            assert allowed.headers["access-control-max-age"] == "600"
            assert "access-control-allow-credentials" not in allowed.headers
            token = kezek.citizen(data.PLAIN.parents[0], channel="kaspi")
            headers = {"Origin": origin, "Authorization": f"Bearer {token}"}
            answer = await kezek.client.post("/graphql", json={"query": "{ viewer { channel } }"}, headers=headers)
            assert answer.json()["data"]["viewer"]["channel"] == "kaspi"
            assert answer.headers["access-control-allow-origin"] == origin
            assert "Retry-After" in answer.headers["access-control-expose-headers"]
            assert "origin" in answer.headers["vary"].lower()
        # Anything else gets no CORS header: a browser keeps the answer from the page.
        for origin in (ELSEWHERE, "https://egov.kz.evil.example", "http://egov.kz", "null"):
            refused = await kezek.client.options("/graphql", headers=_preflight(origin))
            assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers, origin
            answer = await kezek.client.post(
                "/graphql", json={"query": "{ regions { code } }"}, headers={"Origin": origin}
            )
            assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers, origin
        # A listed origin asking for a header Kezek does not take is refused too.
        odd = await kezek.client.options("/graphql", headers=_preflight(EGOV_WEB, "x-something-else"))
        assert odd.status_code == 400
        # Requests without Origin (apps, servers) are as ever.
        plain = await kezek.client.post("/graphql", json={"query": "{ regions { code } }"})
        assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


async def test_production_ignores_the_origins_of_development_channels(db_url: str, tmp_path: Path) -> None:
    channels = _channels(tmp_path, egov=[EGOV_WEB])
    async with open_kezek(db_url, profile=Profile.PRODUCTION, channels_file=channels) as kezek:
        refused = await kezek.client.options("/graphql", headers=_preflight(EGOV_WEB))
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers


async def test_websockets_from_listed_origins_only(db_url: str, tmp_path: Path) -> None:
    channels = _channels(tmp_path, kaspi=[BANK_WEB])
    async with serve(db_url, OFFERS_POLICY, extra_env={"KEZEK_CHANNELS_FILE": str(channels)}) as (base,):
        async with connect(
            f"ws://{base}/graphql", subprotocols=PROTOCOL, origin=Origin(BANK_WEB), open_timeout=WAIT
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert (await receive(ws))["type"] == "connection_ack"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://{base}/graphql", subprotocols=PROTOCOL, origin=Origin(ELSEWHERE)):
                pass
        assert refused.value.response.status_code == 403


@pytest.mark.parametrize(
    ("origins", "field"),
    [
        (["https://app.kaspi.kz", "https://App.kaspi.kz"], "channels.1.origins.1"),
        (["https://app.kaspi.kz/"], "channels.1.origins.0"),
        (["app.kaspi.kz"], "channels.1.origins.0"),
        (["*"], "channels.1.origins.0"),
        (["https://app.kaspi.kz:443"], "channels.1.origins.0"),
        ("https://app.kaspi.kz", "channels.1.origins"),
    ],
)
def test_a_malformed_origin_stops_start_up_naming_file_and_field(tmp_path: Path, origins: Any, field: str) -> None:
    path = _channels(tmp_path, kaspi=origins)
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve"],
        env=clean_env(KEZEK_CHANNELS_FILE=str(path), KEZEK_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert str(path) in result.stderr and field in result.stderr, result.stderr
