"""Schema-driven fuzzing (issue 4): random valid queries and mutations from the SDL, sent with a token of
each role to the production profile. No 5xx, and never a masked internal error ("Unexpected error.").

Bounded for `make test`; KEZEK_FUZZ_EXAMPLES=2000 runs a longer campaign (docs/security.md)."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema, nodes

from api.settings import DEV_DIR
from tests import data
from tests.conftest import Kezek, open_kezek

ROOT = Path(__file__).parent.parent
SDL = (ROOT / "schema.graphql").read_text()
EXAMPLES = int(os.environ.get("KEZEK_FUZZ_EXAMPLES", "60"))
SCALARS = {
    "Date": st.dates(dt.date(2015, 1, 1), dt.date(2032, 12, 31)).map(lambda d: nodes.String(d.isoformat())),
    "DateTime": st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC)).map(
        lambda d: nodes.String(d.isoformat())
    ),
}
OPERATIONS = from_schema(SDL, custom_scalars=SCALARS)
ROLES = ["public", "citizen", "staff", "operator", "ministry"]


def _production_channels(tmp: Path) -> Path:
    channels = json.loads((DEV_DIR / "channels.json").read_text())
    for channel in channels:
        channel["development"] = False
    path = tmp / "channels.json"
    path.write_text(json.dumps(channels))
    return path


@pytest.fixture
async def production(db_url: str, tmp_path: Path) -> AsyncIterator[Kezek]:
    async with open_kezek(
        db_url,
        profile="production",
        channels_file=_production_channels(tmp_path),
        rate_person_burst=1e6,
        rate_channel_burst=1e6,
        rate_public_burst=1e6,
    ) as kezek:
        # Something to find: an application with a pending claim and a waiting child.
        await kezek.submit(data.MILITARY.parents[0], data.MILITARY.children[0], ["SHA-1", "SHA-2"])
        yield kezek


def _token(kezek: Kezek, role: str) -> str | None:
    return {
        "public": None,
        "citizen": kezek.citizen(data.MILITARY.parents[0]),
        "staff": kezek.staff("SHA-1"),
        "operator": kezek.operator(),
        "ministry": kezek.ministry(),
    }[role]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=OPERATIONS, role=st.sampled_from(ROLES))
async def test_no_server_errors_for_any_generated_operation(production: Kezek, document: str, role: str) -> None:
    token = _token(production, role)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await production.client.post("/graphql", json={"query": document}, headers=headers)
    assert response.status_code < 500, (response.status_code, document)
    body = response.json()
    for error in body.get("errors") or []:
        assert error["message"] != "Unexpected error.", (role, document, body)
