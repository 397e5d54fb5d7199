"""Automatic persisted queries, Apollo's APQ protocol (docs/api.md §1, graph/persisted.py): a hash alone runs a
known document or answers PERSISTED_QUERY_NOT_FOUND, as Apollo's clients expect; a hash with its query is
checked, run and remembered; by POST and by GET. Trusted-documents-only channels keep their own rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from api.http import GRAPHQL_RESPONSE_JSON, JSON
from graph.persisted import PersistedQueries, Registration
from persistence.documents import document_sha256
from tests import data
from tests.conftest import Kezek, open_kezek
from tests.test_bounds import STATUS_QUERY, _trusted_channels

QUERY = "query Areas($id: ID!) { kindergarten(id: $id) { externalId } regions { code } viewer { role } }"
HASH = document_sha256(QUERY)


def _apq(sha256: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256}}


async def _post(kezek: Kezek, body: dict[str, Any], accept: str = JSON, token: str | None = None) -> httpx.Response:
    headers = {"accept": accept, **({"Authorization": f"Bearer {token}"} if token else {})}
    return await kezek.client.post("/graphql", json=body, headers=headers)


async def _get(kezek: Kezek, params: dict[str, Any], accept: str = "*/*") -> httpx.Response:
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return await kezek.client.get("/graphql", params=encoded, headers={"accept": accept})


def _not_found(answer: httpx.Response, status: int = 200) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["errors"] == [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
    assert answer.headers["cache-control"] == "no-store"


async def test_a_hash_alone_is_not_found_then_registered_with_its_query(kezek: Kezek) -> None:
    # The client's first try: the hash alone. Unknown, by POST and by GET, in either media type.
    _not_found(await _post(kezek, {"extensions": _apq(HASH)}))
    _not_found(await _get(kezek, {"extensions": _apq(HASH)}))
    strict = await _post(kezek, {"extensions": _apq(HASH)}, GRAPHQL_RESPONSE_JSON)
    _not_found(strict, 404)
    assert "data" not in strict.json() and strict.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    # The retry with the text runs it and registers it …
    sha1, sha2 = await kezek.kgs("SHA-1", "SHA-2")
    body = {"query": QUERY, "operationName": "Areas", "variables": {"id": sha1}, "extensions": _apq(HASH)}
    ran = await _post(kezek, body)
    assert ran.status_code == 200 and "errors" not in ran.json(), ran.text
    expected = ran.json()["data"]
    assert expected["regions"] and expected["kindergarten"] == {"externalId": "SHA-1"}
    # … and from then on the hash alone runs it, with its own variables and operation name, by POST and by GET.
    token = kezek.citizen(data.PLAIN.parents[0])
    again = await _post(
        kezek, {"extensions": _apq(HASH), "operationName": "Areas", "variables": {"id": sha2}}, token=token
    )
    assert again.json()["data"] == {**expected, "kindergarten": {"externalId": "SHA-2"}, "viewer": {"role": "CITIZEN"}}
    got = await _get(kezek, {"extensions": _apq(HASH), "variables": {"id": sha1}})
    assert got.status_code == 200 and got.json()["data"] == expected, got.text
    got = await _get(kezek, {"extensions": _apq(HASH), "variables": {"id": sha1}}, GRAPHQL_RESPONSE_JSON)
    assert got.headers["content-type"] == GRAPHQL_RESPONSE_JSON and got.json()["data"] == expected


async def test_a_hash_that_does_not_match_its_query_is_refused(kezek: Kezek) -> None:
    other = "{ regions { code } }"
    for accept in (JSON, GRAPHQL_RESPONSE_JSON):
        answer = await _post(kezek, {"query": other, "extensions": _apq(HASH)}, accept)
        assert answer.status_code == 400, answer.text
        error = answer.json()["errors"][0]
        assert error["message"] == "provided sha does not match query"
        assert error["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    # Neither ran nor registered under the hash it claimed.
    _not_found(await _post(kezek, {"extensions": _apq(HASH)}))
    _not_found(await _post(kezek, {"extensions": _apq(document_sha256(other))}))


async def test_only_valid_documents_are_registered(kezek: Kezek) -> None:
    for document, code in (("{ regions { code }", "GRAPHQL_PARSE_FAILED"), ("{ nope }", "GRAPHQL_VALIDATION_FAILED")):
        sha256 = document_sha256(document)
        answer = await _post(kezek, {"query": document, "extensions": _apq(sha256)})
        assert answer.json()["errors"][0]["extensions"]["code"] == code
        _not_found(await _post(kezek, {"extensions": _apq(sha256)}))
    # A field error is no request error: the document is valid and registered.
    missing = '{ kindergarten(id: "987654") { id } }'
    answer = await _post(kezek, {"query": missing, "extensions": _apq(document_sha256(missing))})
    assert answer.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    again = await _post(kezek, {"extensions": _apq(document_sha256(missing))})
    assert again.json()["data"] == {"kindergarten": None}


async def test_malformed_persisted_query_extensions_are_400(kezek: Kezek) -> None:
    for extensions in (
        _apq(HASH, version=2),
        {"persistedQuery": "x"},
        _apq(HASH.upper()),
        _apq("sha256:" + HASH),
        {"persistedQuery": {"version": 1}},
    ):
        answer = await _post(kezek, {"query": QUERY, "extensions": extensions})
        assert answer.status_code == 400, (extensions, answer.text)
        assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_trusted_documents_only_channels_keep_their_rules(db_url: str, tmp_path: Path) -> None:
    async with open_kezek(db_url, channels_file=_trusted_channels(tmp_path)) as kezek:
        bank = kezek.citizen(data.PLAIN.parents[0], channel="kaspi")
        # Registered by an ordinary channel through APQ …
        regions = "{ regions { code } }"
        apq = _apq(document_sha256(regions))
        assert "errors" not in (await _post(kezek, {"query": regions, "extensions": apq})).json()
        assert "errors" not in (await _post(kezek, {"extensions": apq})).json()
        # … the document is still not one the bank's channel may run, by hash or with its text.
        for body in ({"extensions": apq}, {"query": regions, "extensions": apq}):
            refused = await _post(kezek, body, token=bank)
            assert refused.json()["errors"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED", body
        # A registered document runs by its hash in extensions.persistedQuery, as before.
        digest = await kezek.container.documents.add(STATUS_QUERY, "status")
        served = await _post(kezek, {"extensions": _apq(digest)}, token=bank)
        assert "errors" not in served.json() and len(served.json()["data"]["myChildren"]) == 2


def test_the_store_is_bounded() -> None:
    store = PersistedQueries(max_documents=3, max_characters=100)
    docs = [Registration(document_sha256(f"{{ a{n} }}"), f"{{ a{n} }}") for n in range(5)]
    for doc in docs[:3]:
        store.put(doc)
    assert store.get(docs[0].sha256) == docs[0].query  # now the most recently used
    store.put(docs[3])
    assert len(store) == 3 and store.get(docs[1].sha256) is None and store.get(docs[0].sha256) is not None
    big = Registration(document_sha256("#" * 95), "#" * 95)
    store.put(big)  # 95 characters: the others (6 each) leave, oldest first, until it fits
    assert len(store) == 1 and store.get(big.sha256) == big.query
    store.put(Registration(document_sha256("#" * 101), "#" * 101))  # larger than the whole store: not kept
    assert len(store) == 1 and store.get(big.sha256) == big.query
