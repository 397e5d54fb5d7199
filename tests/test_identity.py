"""Identity (docs/api.md §1): channel-signed tokens checked over the HTTP endpoint, and the profiles."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from api.app import create_app
from api.auth import AUDIENCE, mint
from api.container import Container, build_container
from api.settings import DEV_DIR, Profile, Settings
from domain.model import Role
from tests import data
from tests.conftest import CHANNELS, Kezek, MovableClock

VIEWER = "{ viewer { role channel subject regionCode districtCode kindergarten { externalId } } }"
PUBLIC_QUERY = "{ regions { code } }"
CITIZEN = data.PLAIN.parents[0]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims: dict[str, Any] = {
        "iss": "egov",
        "aud": AUDIENCE,
        "sub": CITIZEN,
        "role": "citizen",
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _secret(channel: str, kid: str | None = None) -> str:
    key = next(k for k in CHANNELS[channel].keys if kid is None or k.kid == kid)
    assert key.secret is not None
    return key.secret


def _hand_made(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT built by hand, for headers PyJWT refuses to produce (alg none, HMAC keyed with a public key)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


async def _refused(kezek: Kezek, token: str, query: str = PUBLIC_QUERY) -> None:
    body = await kezek.post(query, token=token)
    assert body["data"] is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"], body


async def _raw_refused(kezek: Kezek, header: str) -> None:
    response = await kezek.client.post("/graphql", json={"query": PUBLIC_QUERY}, headers={"Authorization": header})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- viewer ---------------------------------------------------------------------------------------


async def test_viewer_of_the_public_is_all_nulls(kezek: Kezek) -> None:
    viewer = (await kezek.gql(VIEWER))["viewer"]
    assert viewer == {
        "role": None,
        "channel": None,
        "subject": None,
        "regionCode": None,
        "districtCode": None,
        "kindergarten": None,
    }


async def test_viewer_of_a_citizen(kezek: Kezek) -> None:
    viewer = (await kezek.gql(VIEWER, token=kezek.citizen(CITIZEN)))["viewer"]
    assert viewer == {
        "role": "CITIZEN",
        "channel": "egov",
        "subject": CITIZEN,
        "regionCode": None,
        "districtCode": None,
        "kindergarten": None,
    }


async def test_viewer_of_operators(kezek: Kezek) -> None:
    region_wide = (await kezek.gql(VIEWER, token=kezek.operator()))["viewer"]
    assert region_wide == {
        "role": "AKIMAT_OPERATOR",
        "channel": "akimat-karaganda",
        "subject": "operator-1",
        "regionCode": data.KARAGANDA_REGION,
        "districtCode": None,
        "kindergarten": None,
    }
    district = (await kezek.gql(VIEWER, token=kezek.operator(district=data.SHAKHTINSK)))["viewer"]
    assert (district["regionCode"], district["districtCode"]) == (data.KARAGANDA_REGION, data.SHAKHTINSK)
    north = (await kezek.gql(VIEWER, token=kezek.operator(data.SKO_REGION)))["viewer"]
    assert (north["channel"], north["regionCode"]) == ("akimat-sko", data.SKO_REGION)


async def test_viewer_of_staff_names_the_kindergarten(kezek: Kezek) -> None:
    viewer = (await kezek.gql(VIEWER, token=kezek.staff("SHA-1")))["viewer"]
    assert viewer == {
        "role": "KINDERGARTEN_STAFF",
        "channel": "akimat-karaganda",
        "subject": "staff-1",
        "regionCode": None,
        "districtCode": None,
        "kindergarten": {"externalId": "SHA-1"},
    }
    north = (await kezek.gql(VIEWER, token=kezek.staff("PET-1", channel="akimat-sko")))["viewer"]
    assert (north["channel"], north["kindergarten"]) == ("akimat-sko", {"externalId": "PET-1"})


async def test_viewer_of_the_ministry(kezek: Kezek) -> None:
    viewer = (await kezek.gql(VIEWER, token=kezek.ministry()))["viewer"]
    assert viewer == {
        "role": "MINISTRY",
        "channel": "ministry",
        "subject": "analyst-1",
        "regionCode": None,
        "districtCode": None,
        "kindergarten": None,
    }


# --- tokens refused, even on public queries -----------------------------------------------------


async def test_expired_token_is_refused(kezek: Kezek) -> None:
    now = dt.datetime.now(dt.UTC)
    expired = mint(
        CHANNELS["egov"], Role.CITIZEN, CITIZEN, now=now - dt.timedelta(hours=2), lifetime=dt.timedelta(hours=1)
    )
    await _refused(kezek, expired)
    await _refused(kezek, expired, VIEWER)
    # The same token minted now is accepted: only the expiry differs.
    fresh = mint(CHANNELS["egov"], Role.CITIZEN, CITIZEN, now=now, lifetime=dt.timedelta(hours=1))
    assert (await kezek.gql(VIEWER, token=fresh))["viewer"]["subject"] == CITIZEN


async def test_wrong_audience_is_refused(kezek: Kezek) -> None:
    secret = _secret("egov", "2026-1")
    await _refused(kezek, jwt.encode(_claims(aud="other-service"), secret, "HS256", headers={"kid": "2026-1"}))
    await _refused(kezek, jwt.encode(_claims(aud=None), secret, "HS256", headers={"kid": "2026-1"}))
    good = jwt.encode(_claims(), secret, "HS256", headers={"kid": "2026-1"})
    assert (await kezek.gql(VIEWER, token=good))["viewer"]["role"] == "CITIZEN"


async def test_unknown_issuer_is_refused(kezek: Kezek) -> None:
    secret = _secret("egov", "2026-1")
    await _refused(kezek, jwt.encode(_claims(iss="some-bank"), secret, "HS256", headers={"kid": "2026-1"}))
    await _refused(kezek, jwt.encode(_claims(iss=None), secret, "HS256", headers={"kid": "2026-1"}))


async def test_unknown_or_missing_kid_on_a_multi_key_channel_is_refused(kezek: Kezek) -> None:
    secret = _secret("egov", "2026-1")
    await _refused(kezek, jwt.encode(_claims(), secret, "HS256", headers={"kid": "2026-9"}))
    # egov has two keys: a token must say which one signed it.
    await _refused(kezek, jwt.encode(_claims(), secret, "HS256"))


async def test_bad_signature_is_refused(kezek: Kezek) -> None:
    forged = jwt.encode(_claims(), "x" * 48, "HS256", headers={"kid": "2026-1"})
    await _refused(kezek, forged)
    # Signed by egov's other key while naming the first one.
    swapped = jwt.encode(_claims(), _secret("egov", "2026-2"), "HS256", headers={"kid": "2026-1"})
    await _refused(kezek, swapped)
    # A valid token with its payload altered (another person) keeps the old signature.
    good = kezek.citizen(CITIZEN)
    header, _, signature = good.split(".")
    tampered = f"{header}.{_b64(json.dumps(_claims(sub=data.OTHER.parents[0])).encode())}.{signature}"
    await _refused(kezek, tampered)


async def test_alg_none_and_mismatched_algorithms_are_refused(kezek: Kezek) -> None:
    await _refused(kezek, _hand_made({"alg": "none", "typ": "JWT", "kid": "2026-1"}, _claims(), None))
    await _refused(kezek, _hand_made({"alg": "none", "typ": "JWT", "kid": "k1"}, _claims(iss="kaspi"), None))
    # The classic confusion: HS256 keyed with the bank's published ES256 public key.
    public = CHANNELS["kaspi"].keys[0].public_key
    assert public is not None
    confused = _hand_made({"alg": "HS256", "typ": "JWT", "kid": "k1"}, _claims(iss="kaspi"), public.encode())
    await _refused(kezek, confused)
    # A correctly signed token whose algorithm is not the channel key's.
    await _refused(kezek, jwt.encode(_claims(), _secret("egov", "2026-1"), "HS384", headers={"kid": "2026-1"}))


async def test_malformed_headers_and_tokens_are_refused(kezek: Kezek) -> None:
    await _raw_refused(kezek, "Bearer not-a-jwt")
    await _raw_refused(kezek, "Basic dXNlcjpwYXNz")
    await _raw_refused(kezek, f"Token {kezek.citizen(CITIZEN)}")
    await _raw_refused(kezek, "Bearer ")


async def test_token_without_expiry_or_subject_is_refused(kezek: Kezek) -> None:
    secret = _secret("egov", "2026-1")
    await _refused(kezek, jwt.encode(_claims(exp=None), secret, "HS256", headers={"kid": "2026-1"}))
    await _refused(kezek, jwt.encode(_claims(sub=None), secret, "HS256", headers={"kid": "2026-1"}))
    await _refused(kezek, jwt.encode(_claims(role="admin"), secret, "HS256", headers={"kid": "2026-1"}))


async def test_a_channel_may_only_use_its_roles(kezek: Kezek) -> None:
    await _refused(kezek, mint(CHANNELS["egov"], Role.AKIMAT_OPERATOR, "operator-1", region=data.KARAGANDA_REGION))
    await _refused(kezek, mint(CHANNELS["kaspi"], Role.MINISTRY, "analyst-1"))
    await _refused(kezek, mint(CHANNELS["akimat-karaganda"], Role.CITIZEN, CITIZEN))
    await _refused(kezek, mint(CHANNELS["ministry"], Role.KINDERGARTEN_STAFF, "staff-1", kindergarten="SHA-1"))


async def test_operator_area_must_lie_within_the_channel_regions(kezek: Kezek) -> None:
    await _refused(kezek, kezek.operator(data.SKO_REGION, channel="akimat-karaganda"))
    await _refused(kezek, kezek.operator(data.SKO_REGION, district=data.PETROPAVLOVSK, channel="akimat-karaganda"))
    await _refused(kezek, kezek.operator(data.KARAGANDA_REGION, channel="akimat-sko"))
    # A district of another region under a region of the channel.
    await _refused(kezek, kezek.operator(data.KARAGANDA_REGION, district=data.PETROPAVLOVSK))


async def test_operator_token_without_region_is_refused(kezek: Kezek) -> None:
    await _refused(kezek, mint(CHANNELS["akimat-karaganda"], Role.AKIMAT_OPERATOR, "operator-1"))
    await _refused(
        kezek, mint(CHANNELS["akimat-karaganda"], Role.AKIMAT_OPERATOR, "operator-1", district=data.SHAKHTINSK)
    )


async def test_staff_kindergarten_must_lie_within_the_channel_regions(kezek: Kezek) -> None:
    await _refused(kezek, kezek.staff("PET-1", channel="akimat-karaganda"))
    await _refused(kezek, kezek.staff("SHA-1", channel="akimat-sko"))
    await _refused(kezek, kezek.staff("NO-SUCH-KINDERGARTEN"))
    await _refused(kezek, mint(CHANNELS["akimat-karaganda"], Role.KINDERGARTEN_STAFF, "staff-1"))


async def test_refused_token_is_refused_on_every_operation(kezek: Kezek) -> None:
    expired = mint(
        CHANNELS["egov"],
        Role.CITIZEN,
        CITIZEN,
        now=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
        lifetime=dt.timedelta(minutes=5),
    )
    kg = await kezek.kg("SHA-1")
    await _refused(kezek, expired, f'{{ kindergarten(id: "{kg}") {{ externalId }} }}')
    await _refused(kezek, expired, "{ myChildren { iin } }")
    await _refused(
        kezek,
        expired,
        f'mutation {{ submitApplication(input: {{childIin: "{data.PLAIN.children[0]}", kindergartenIds: ["{kg}"],'
        " language: RU}) { application { id } errors { code } } }",
    )
    assert await kezek.sql("SELECT id FROM applications") == []


# --- keys and algorithms accepted ------------------------------------------------------------------


async def test_both_egov_keys_are_accepted_during_rotation(kezek: Kezek) -> None:
    for kid in ("2026-1", "2026-2"):
        token = mint(CHANNELS["egov"], Role.CITIZEN, CITIZEN, kid=kid)
        assert jwt.get_unverified_header(token)["kid"] == kid
        viewer = (await kezek.gql(VIEWER, token=token))["viewer"]
        assert (viewer["channel"], viewer["subject"]) == ("egov", CITIZEN)


async def test_es256_and_rs256_bank_tokens_work(kezek: Kezek) -> None:
    kaspi = kezek.citizen(CITIZEN, channel="kaspi")
    halyk = kezek.citizen(CITIZEN, channel="halyk")
    assert jwt.get_unverified_header(kaspi)["alg"] == "ES256"
    assert jwt.get_unverified_header(halyk)["alg"] == "RS256"
    assert (await kezek.gql(VIEWER, token=kaspi))["viewer"]["channel"] == "kaspi"
    assert (await kezek.gql(VIEWER, token=halyk))["viewer"]["channel"] == "halyk"
    # A single-key channel does not need a kid.
    private = CHANNELS["kaspi"].keys[0].private_key
    assert private is not None
    no_kid = jwt.encode(_claims(iss="kaspi"), private, "ES256")
    assert (await kezek.gql(VIEWER, token=no_kid))["viewer"]["channel"] == "kaspi"


async def test_application_from_one_channel_is_seen_from_another(kezek: Kezek) -> None:
    family = data.PLAIN
    variables = {
        "input": {"childIin": family.children[0], "kindergartenIds": [await kezek.kg("SHA-1")], "language": "RU"}
    }
    submitted = await kezek.gql(
        "mutation($input: SubmitApplicationInput!) { submitApplication(input: $input) {"
        " application { id channel } errors { code } } }",
        variables,
        kezek.citizen(family.parents[0], channel="halyk"),
    )
    app = submitted["submitApplication"]["application"]
    assert app["channel"] == "halyk"
    seen = await kezek.gql(
        "query($id: ID!) { application(id: $id) { id channel } }",
        {"id": app["id"]},
        kezek.citizen(family.parents[1], channel="kaspi"),
    )
    assert seen["application"] == app


# --- profiles ------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _served(db_url: str, profile: Profile) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    settings = Settings(profile=profile, channels_file=DEV_DIR / "channels.json", data_dir=Path(tempfile.gettempdir()))
    container = build_container(settings, db_url, clock=MovableClock())
    transport = httpx.ASGITransport(app=create_app(container))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://kezek.test") as client:
            yield container, client
    finally:
        await container.aclose()


async def _post(client: httpx.AsyncClient, query: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


INTROSPECTION = "{ __schema { types { name } } }"


async def test_production_refuses_development_channels(db_url: str) -> None:
    async with _served(db_url, Profile.PRODUCTION) as (_, client):
        for token in (
            Kezek.citizen(CITIZEN),
            Kezek.citizen(CITIZEN, channel="kaspi"),
            Kezek.operator(),
            Kezek.staff("SHA-1"),
            Kezek.ministry(),
        ):
            body = await _post(client, PUBLIC_QUERY, token)
            assert body["data"] is None
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        # The public is still served.
        public = await _post(client, PUBLIC_QUERY)
        assert "errors" not in public
        assert {r["code"] for r in public["data"]["regions"]} == {data.KARAGANDA_REGION, data.SKO_REGION}
    # The same tokens work in the development profile, with the same file.
    async with _served(db_url, Profile.DEVELOPMENT) as (_, client):
        body = await _post(client, VIEWER, Kezek.citizen(CITIZEN))
        assert body["data"]["viewer"]["subject"] == CITIZEN


async def test_production_has_introspection_off(db_url: str) -> None:
    async with _served(db_url, Profile.PRODUCTION) as (_, client):
        body = await _post(client, INTROSPECTION)
        assert body.get("errors"), body
        assert not (body.get("data") or {}).get("__schema")
        typename = await _post(client, '{ __type(name: "Application") { name } }')
        assert typename.get("errors"), typename


async def test_development_allows_introspection(kezek: Kezek) -> None:
    schema = (await kezek.gql(INTROSPECTION))["__schema"]
    names = {t["name"] for t in schema["types"]}
    assert {"Application", "Kindergarten", "Viewer", "ErrorCode"} <= names


async def test_graphiql_only_in_development(db_url: str) -> None:
    async with _served(db_url, Profile.DEVELOPMENT) as (_, client):
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
    async with _served(db_url, Profile.PRODUCTION) as (_, client):
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()


async def test_production_masks_internal_errors_but_keeps_codes(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("connection to 10.0.0.7 failed: password authentication for kezek_secret")

    async with _served(db_url, Profile.PRODUCTION) as (container, client):
        monkeypatch.setattr(container.services.reader, "regions", broken)
        body = await _post(client, PUBLIC_QUERY)
        assert body["data"] is None
        text = json.dumps(body)
        assert "kezek_secret" not in text and "10.0.0.7" not in text and "RuntimeError" not in text
        assert len(body["errors"]) == 1
        # Expected failures keep their stable code and message.
        missing = await _post(client, '{ kindergarten(id: "999999") { id } }')
        assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert missing["errors"][0]["message"] == "Не найдено: детский сад."
