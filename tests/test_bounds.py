"""Abuse bounds (docs/quality.md §4, issue 4): cost, rate limits, trusted documents, logs, idempotency races."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from api.logging_setup import JsonFormatter, mask_iins
from api.settings import DEV_DIR, Profile
from graph.limits import MAX_COST, RateLimiter
from graph.schema import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from persistence.documents import document_sha256
from tests import data
from tests.conftest import SUBMIT, Kezek, open_kezek

ROOT = Path(__file__).parent.parent
STATUS_QUERY = (ROOT / "bench" / "queries" / "my_children.graphql").read_text()


async def test_costly_query_is_refused(kezek: Kezek) -> None:
    costly = """{ kindergartens(first: 100) { edges { node { groups { id externalId birthYearFrom birthYearTo
        language groupType capacity enrolled held freeSeats queueLength
        kindergarten { id nameRu groups { id capacity } } } } } } }"""
    body = await kezek.post(costly)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert body["errors"][0]["extensions"]["cost"] > MAX_COST
    # Fragments are priced too: the same query through a fragment is refused alike.
    via_fragment = """{ kindergartens(first: 100) { edges { node { ...K } } } }
        fragment K on Kindergarten { groups { id externalId birthYearFrom birthYearTo language groupType capacity
        enrolled held freeSeats queueLength kindergarten { id nameRu groups { id capacity } } } }"""
    body = await kezek.post(via_fragment)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    # The status query of the bank apps is far below the limit.
    ok = await kezek.post(STATUS_QUERY, token=kezek.citizen(data.PLAIN.parents[0]))
    assert "errors" not in ok


async def test_depth_and_aliases_are_bounded(kezek: Kezek) -> None:
    inner = "id"
    for _ in range(8):
        inner = f"groups {{ kindergarten {{ {inner} }} }}"
    deep = f'{{ kindergarten(id: "1") {{ {inner} }} }}'
    body = await kezek.post(deep)
    assert any("depth" in e["message"] for e in body["errors"]), body
    aliases = "{ " + " ".join(f"a{i}: regions {{ code }}" for i in range(MAX_ALIASES + 5)) + " }"
    body = await kezek.post(aliases)
    assert "errors" in body and "alias" in body["errors"][0]["message"].lower()
    assert MAX_DEPTH >= 8


async def test_rate_limit_per_person_answers_429_with_retry_after(db_url: str) -> None:
    async with open_kezek(db_url, rate_person_per_second=0.5, rate_person_burst=2) as kezek:
        token = kezek.citizen(data.PLAIN.parents[0])
        headers = {"Authorization": f"Bearer {token}"}
        answers = [
            await kezek.client.post("/graphql", json={"query": "{ viewer { role } }"}, headers=headers)
            for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [200, 200, 429]
        refused = answers[2]
        assert int(refused.headers["Retry-After"]) >= 1
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED" and error["extensions"]["retryAfter"] >= 1
        # Another person of the same channel is not affected.
        other = await kezek.client.post(
            "/graphql",
            json={"query": "{ viewer { role } }"},
            headers={"Authorization": f"Bearer {kezek.citizen(data.OTHER.parents[0])}"},
        )
        assert other.status_code == 200


async def test_rate_limit_per_channel_and_public(db_url: str) -> None:
    async with open_kezek(
        db_url, rate_channel_per_second=0.5, rate_channel_burst=2, rate_public_burst=1, rate_public_per_second=0.1
    ) as kezek:
        statuses = []
        for family in (data.PLAIN, data.OTHER, data.LARGE):
            token = kezek.citizen(family.parents[0])
            r = await kezek.client.post(
                "/graphql", json={"query": "{ viewer { role } }"}, headers={"Authorization": f"Bearer {token}"}
            )
            statuses.append(r.status_code)
        assert statuses == [200, 200, 429]
        public = [await kezek.client.post("/graphql", json={"query": "{ regions { code } }"}) for _ in range(2)]
        assert [p.status_code for p in public] == [200, 429]


def test_token_bucket_refills() -> None:
    limiter = RateLimiter(rate=2, burst=1)
    assert limiter.take("k", now=0.0) == 0
    assert limiter.take("k", now=0.1) > 0
    assert limiter.take("k", now=0.6) == 0


def _trusted_channels(tmp_path: Path) -> Path:
    channels = json.loads((DEV_DIR / "channels.json").read_text())
    for channel in channels:
        if channel["id"] == "kaspi":
            channel["trustedDocumentsOnly"] = True
    path = tmp_path / "channels.json"
    path.write_text(json.dumps(channels))
    return path


async def test_trusted_documents_only_channel(db_url: str, tmp_path: Path) -> None:
    document = tmp_path / "status.graphql"
    document.write_text(STATUS_QUERY)
    env = {"KEZEK_DATABASE_URL": db_url, "KEZEK_PROFILE": "development", "PATH": "/usr/bin:/bin"}
    added = subprocess.run(
        [sys.executable, "-m", "api.cli", "documents", "add", str(document)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    digest = added.stdout.strip()
    assert digest == document_sha256(STATUS_QUERY)
    bad = tmp_path / "bad.graphql"
    bad.write_text("{ not graphql")
    refused = subprocess.run(
        [sys.executable, "-m", "api.cli", "documents", "add", str(bad)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0 and "bad.graphql" in refused.stderr

    async with open_kezek(db_url, channels_file=_trusted_channels(tmp_path)) as kezek:
        bank = kezek.citizen(data.PLAIN.parents[0], channel="kaspi")
        headers = {"Authorization": f"Bearer {bank}"}
        by_id = await kezek.client.post("/graphql", json={"documentId": f"sha256:{digest}"}, headers=headers)
        assert "errors" not in by_id.json() and len(by_id.json()["data"]["myChildren"]) == 2
        same_text = await kezek.client.post("/graphql", json={"query": STATUS_QUERY}, headers=headers)
        assert "errors" not in same_text.json()
        other = await kezek.client.post("/graphql", json={"query": "{ viewer { role } }"}, headers=headers)
        assert other.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"
        unknown = await kezek.client.post("/graphql", json={"documentId": "0" * 64}, headers=headers)
        assert unknown.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"
        # Channels without the flag send any query.
        egov = kezek.citizen(data.PLAIN.parents[0])
        free = await kezek.client.post(
            "/graphql", json={"query": "{ viewer { role } }"}, headers={"Authorization": f"Bearer {egov}"}
        )
        assert free.json()["data"]["viewer"]["role"] == "CITIZEN"


async def test_logs_carry_request_fields_and_mask_iins(kezek: Kezek, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kezek.api")
    token = kezek.citizen(data.PLAIN.parents[0])
    await kezek.client.post(
        "/graphql",
        json={"query": "query Mine { viewer { role } }", "operationName": "Mine"},
        headers={"Authorization": f"Bearer {token}"},
    )
    records = [r for r in caplog.records if r.name == "kezek.api" and "POST /graphql" in r.getMessage()]
    assert records, caplog.records
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["channel"] == "egov" and line["operation"] == "Mine" and len(line["request_id"]) == 36
    record = logging.LogRecord("kezek", logging.INFO, __file__, 1, "child %s refused", (data.PLAIN.children[0],), None)
    text = JsonFormatter().format(record)
    assert data.PLAIN.children[0] not in text and mask_iins(data.PLAIN.children[0]) in text


async def test_concurrent_retries_with_one_key_submit_once(db_url: str) -> None:
    async with open_kezek(db_url) as a, open_kezek(db_url) as b:
        family = data.OTHER
        ids = await a.kgs("SHA-1")
        variables = {
            "input": {
                "childIin": family.children[0],
                "kindergartenIds": ids,
                "language": "RU",
                "idempotencyKey": "retry-1",
            }
        }
        token = a.citizen(family.parents[0])
        first, second = await asyncio.gather(a.gql(SUBMIT, variables, token), b.gql(SUBMIT, variables, token))
        apps = {r["submitApplication"]["application"]["id"] for r in (first, second)}
        assert len(apps) == 1
        rows = await a.sql("SELECT count(*) AS n FROM applications")
        assert rows[0]["n"] == 1


def _deep_query(levels: int, kindergarten_id: str = "1") -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"groups {{ kindergarten {{ {inner} }} }}"
    return f'{{ kindergarten(id: "{kindergarten_id}") {{ {inner} }} }}'


COSTLY = """{ kindergartens(first: 100) { edges { node { groups { id externalId birthYearFrom birthYearTo
    language groupType capacity enrolled held freeSeats queueLength
    kindergarten { id nameRu groups { id capacity } } } } } } }"""


async def test_production_enforces_every_limit_and_only_development_allows_introspection(db_url: str) -> None:
    """The limits are part of the production schema, not of the development profile the other tests use: the
    same over-limit documents are refused by a production app, which also refuses introspection."""
    refusals: dict[str, list[str]] = {}
    async with open_kezek(db_url, profile=Profile.PRODUCTION, channels_file=DEV_DIR / "channels.json") as prod:
        cases = {
            # A kindergarten that does not exist: refused before it runs, and cheap if it ran.
            "depth": _deep_query(MAX_DEPTH, "987654321"),
            "aliases": "{ " + " ".join(f"a{i}: regions {{ code }}" for i in range(MAX_ALIASES + 1)) + " }",
            "tokens": "{ " + " ".join("regions { code }" for _ in range(MAX_TOKENS // 4)) + " }",
            "cost": COSTLY,
            "introspection": "{ __schema { queryType { name } } }",
        }
        for name, document in cases.items():
            body = await prod.post(document)
            assert body.get("data") is None, (name, body)
            refusals[name] = [e["message"].lower() for e in body["errors"]]
        assert any("depth" in m for m in refusals["depth"]), refusals
        assert any("alias" in m for m in refusals["aliases"]), refusals
        assert any("token" in m for m in refusals["tokens"]), refusals
        assert any("introspection" in m for m in refusals["introspection"]), refusals
        assert (await prod.post(COSTLY))["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
        # At the alias limit, and for ordinary documents, it serves.
        at_limit = "{ " + " ".join(f"a{i}: regions {{ code }}" for i in range(MAX_ALIASES)) + " }"
        assert len((await prod.gql(at_limit)).keys()) == MAX_ALIASES
        assert "errors" not in await prod.post(_deep_query(1))
    async with open_kezek(db_url) as dev:
        served = await dev.post(cases["introspection"])
        assert served["data"]["__schema"]["queryType"]["name"] == "Query", served
        for name in ("depth", "aliases", "tokens", "cost"):
            assert "errors" in await dev.post(cases[name]), name


async def test_token_limit(kezek: Kezek) -> None:
    huge = "{ " + " ".join("regions { code }" for _ in range(MAX_TOKENS // 4)) + " }"
    body = await kezek.post(huge)
    assert "errors" in body and "token" in body["errors"][0]["message"].lower()


async def test_idempotency_keys_expire_after_a_day(kezek: Kezek) -> None:
    family = data.OTHER
    token = kezek.citizen(family.parents[0])
    ids = await kezek.kgs("SHA-1")
    first = {"input": {"childIin": family.children[0], "kindergartenIds": ids, "language": "RU", "idempotencyKey": "k"}}
    done = await kezek.gql(SUBMIT, first, token)
    assert done["submitApplication"]["errors"] == []
    # Within the day, another input under the same key is refused …
    other = {"input": {**first["input"], "language": "KK"}}
    reused = await kezek.gql(SUBMIT, other, token)
    assert [e["code"] for e in reused["submitApplication"]["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    # … after it, the key is free again and the call runs (and meets the active application).
    await kezek.sql("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    again = await kezek.gql(SUBMIT, other, token)
    assert [e["code"] for e in again["submitApplication"]["errors"]] == ["DUPLICATE_APPLICATION"]
