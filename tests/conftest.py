"""Test harness: a real PostgreSQL (embedded 16, or KEZEK_TEST_DATABASE_URL), a migrated template
database cloned per test, and the real Starlette app called over HTTP (httpx's ASGI transport)."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.auth import mint
from api.config_files import load_channels, parse_places, parse_sandbox
from api.container import Container, build_container
from api.embedded import start_embedded
from api.settings import DEV_DIR, Settings
from api.worker import run_once
from domain.model import Role
from persistence.db import drop_database, migrate, raw_connect, recreate_database, with_database
from tests import data

TEMPLATE = "kezek_template"
CHANNELS = {c.id: c for c in load_channels(DEV_DIR / "channels.json")}


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = os.environ.get("KEZEK_TEST_DATABASE_URL")
    if url:
        yield url
        return
    tmp = Path(tempfile.mkdtemp(prefix="kezek-test-"))
    server, url = start_embedded(tmp)
    try:
        yield url
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


async def _build_template(pg: str) -> str:
    from api.cli import _import

    url = await recreate_database(pg, TEMPLATE)
    await asyncio.to_thread(migrate, url)
    await _import(url, places=parse_places(data.PLACES), sandbox=parse_sandbox(data.SANDBOX))
    return url


@pytest.fixture(scope="session")
def template_url(pg_url: str) -> Iterator[str]:
    url = asyncio.run(_build_template(pg_url))
    try:
        yield url
    finally:  # on a shared test server (KEZEK_TEST_DATABASE_URL) nothing the suite made is left behind
        asyncio.run(drop_database(pg_url, TEMPLATE))


@contextlib.asynccontextmanager
async def cloned_database(pg_url: str) -> AsyncIterator[str]:
    """A fresh database copied from the migrated template; dropped afterwards, whatever the test did."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    conn = await raw_connect(pg_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    finally:
        await conn.close()
    try:
        yield with_database(pg_url, name)
    finally:
        await drop_database(pg_url, name)


@pytest.fixture
async def db_url(pg_url: str, template_url: str) -> AsyncIterator[str]:
    async with cloned_database(pg_url) as url:
        yield url


class MovableClock:
    """Real time plus an offset that tests move forward instead of sleeping (docs/quality.md §2)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, delta: dt.timedelta) -> None:
        self.offset += delta


class Kezek:
    """A client of the running app, with tokens for each role."""

    def __init__(self, container: Container, client: httpx.AsyncClient, clock: MovableClock) -> None:
        self.container = container
        self.client = client
        self.clock = clock
        self._kg_ids: dict[str, str] = {}

    async def post(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def gql(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        """The data of a request that must not fail at the GraphQL level."""
        body = await self.post(query, variables, token)
        assert "errors" not in body, body
        return body["data"]

    @staticmethod
    def citizen(iin: str, channel: str = "egov") -> str:
        return mint(CHANNELS[channel], Role.CITIZEN, iin)

    @staticmethod
    def operator(region: str = data.KARAGANDA_REGION, district: str | None = None, channel: str | None = None) -> str:
        channel = channel or ("akimat-sko" if region == data.SKO_REGION else "akimat-karaganda")
        return mint(CHANNELS[channel], Role.AKIMAT_OPERATOR, "operator-1", region=region, district=district)

    @staticmethod
    def staff(kindergarten: str, channel: str = "akimat-karaganda") -> str:
        return mint(CHANNELS[channel], Role.KINDERGARTEN_STAFF, "staff-1", kindergarten=kindergarten)

    @staticmethod
    def ministry() -> str:
        return mint(CHANNELS["ministry"], Role.MINISTRY, "analyst-1")

    async def kg(self, external_id: str) -> str:
        if external_id not in self._kg_ids:
            rows = await self.container.services.reader.kindergarten_ids_by_external([external_id])
            self._kg_ids[external_id] = str(rows[0])
        return self._kg_ids[external_id]

    async def kgs(self, *external_ids: str) -> list[str]:
        return [await self.kg(e) for e in external_ids]

    async def submit(self, parent: str, child: str, kindergartens: list[str], **extra: Any) -> Any:
        variables = {
            "input": {
                "childIin": child,
                "kindergartenIds": await self.kgs(*kindergartens),
                "language": "RU",
                **extra,
            }
        }
        data_ = await self.gql(SUBMIT, variables, self.citizen(parent))
        return data_["submitApplication"]

    async def worker_pass(self) -> dict[str, int]:
        return await run_once(self.container)

    def count_statements(self) -> contextlib.AbstractContextManager[list[str]]:
        return self.container.statements()

    async def sql(self, statement: str, *args: Any) -> list[asyncpg.Record]:
        """Direct reads (and set-up writes) against the test database, outside the app."""
        conn = await raw_connect(self.db_url)
        try:
            return list(await conn.fetch(statement, *args))
        finally:
            await conn.close()

    db_url: str = ""
    app: Any = None  # the Starlette app (its state: subscriptions, metrics)


APPLICATION_FIELDS = """id number status queueDate tier channel language groupType desiredStartDate
    claims { id category tier status evidenceId }
    choices { rank kindergarten { id externalId } position positionChanges { delta reason } }"""

SUBMIT = f"""mutation($input: SubmitApplicationInput!) {{
  submitApplication(input: $input) {{ application {{ {APPLICATION_FIELDS} }} errors {{ code message field }} }}
}}"""


def _policy_file(name: str, policy: dict[str, Any]) -> Path:
    path = Path(tempfile.gettempdir()) / f"kezek-test-policy-{name}-{os.getpid()}.json"
    path.write_text(json.dumps(policy))
    atexit.register(path.unlink, missing_ok=True)  # servers the tests start read it until the session ends
    return path


# Stage-1 tests look at queues alone: no child is old enough for an offer, so free seats stay free.
QUEUE_ONLY_POLICY = _policy_file("queue-only", {"default": {"minAdmissionAgeMonths": 120}})
# Stage-2 tests: national defaults, except a shorter restore window for one region to test policy lookup.
OFFERS_POLICY = _policy_file("offers", {"default": {}, "regions": {"590000000": {"declineEffect": "ANNUL"}}})


def make_settings(**overrides: Any) -> Settings:
    overrides.setdefault("policy_file", QUEUE_ONLY_POLICY)
    overrides.setdefault("profile", "development")
    return Settings(data_dir=Path(tempfile.gettempdir()), **overrides)


@contextlib.asynccontextmanager
async def open_kezek(db_url: str, **settings: Any) -> AsyncIterator[Kezek]:
    """The real app on a database, called over HTTP through httpx's ASGI transport."""
    clock = MovableClock()
    container = build_container(make_settings(**settings), db_url, clock=clock)
    app = create_app(container)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://kezek.test") as client:
            k = Kezek(container, client, clock)
            k.db_url = db_url
            k.app = app
            yield k
    finally:
        await container.aclose()


@pytest.fixture
async def kezek(db_url: str) -> AsyncIterator[Kezek]:
    async with open_kezek(db_url) as k:
        yield k
