"""GraphQL over HTTP (docs/api.md §1): the media type a client accepts and its status codes, Kezek's own
refusals (rate limit, bad token, untrusted document) in the same form, a mutation by GET, malformed requests,
and the size limit. The real app over httpx's ASGI transport; tests/test_conformance.py runs graphql-http's
audits against a served process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.http import GRAPHQL_RESPONSE_JSON, JSON, MAX_BODY_BYTES, MAX_QUERY_STRING_BYTES, negotiate
from tests import data
from tests.conftest import Kezek, open_kezek
from tests.test_bounds import _trusted_channels

GRJ = GRAPHQL_RESPONSE_JSON
APOLLO_KOTLIN = "multipart/mixed;deferSpec=20220824, application/graphql-response+json, application/json"
APOLLO_IOS = "multipart/mixed;deferSpec=20220824;q=1.0,application/graphql-response+json;q=0.9,application/json;q=0.8"


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, JSON),
        ("", JSON),
        ("application/json", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("text/html", JSON),
        (GRJ, GRJ),
        (f"{GRJ}, {JSON}", GRJ),
        (f"{JSON}, {GRJ}", GRJ),  # equal q: the specification's own type
        (f"{JSON}, {GRJ};q=0.5", JSON),
        (f"{GRJ};q=0, {JSON}", JSON),
        (f"{GRJ};q=oops, */*", JSON),
        (f"{GRJ};q=0.5, */*;q=0.1", GRJ),
        (f"{GRJ.upper()}; charset=utf-8", GRJ),
        (APOLLO_KOTLIN, GRJ),
        (APOLLO_IOS, GRJ),
        ("application/graphql-response+json;q=0.9, application/json", JSON),
    ],
)
def test_media_type_negotiation(accept: str | None, media: str) -> None:
    assert negotiate(accept) == media


async def _post(kezek: Kezek, body: Any, accept: str | None = None, **headers: str) -> httpx.Response:
    if accept is not None:
        headers["accept"] = accept
    return await kezek.client.post("/graphql", json=body, headers=headers)


REQUEST_ERRORS = {
    "parse": ({"query": "{ regions { code }"}, "GRAPHQL_PARSE_FAILED"),
    "validation": ({"query": "{ regions { nope } }"}, "GRAPHQL_VALIDATION_FAILED"),
    "variables": ({"query": "query($id: ID!) { kindergarten(id: $id) { id } }", "variables": {}}, "BAD_USER_INPUT"),
    "operation name": ({"query": "query A { viewer { role } }", "operationName": "B"}, "OPERATION_RESOLUTION_FAILURE"),
}


async def test_request_errors_by_media_type(kezek: Kezek) -> None:
    for name, (body, code) in REQUEST_ERRORS.items():
        # application/graphql-response+json: 400 and no data entry.
        answer = await _post(kezek, body, GRJ)
        assert (answer.status_code, answer.headers["content-type"]) == (400, GRJ), (name, answer.text)
        assert "data" not in answer.json() and answer.json()["errors"][0]["extensions"]["code"] == code, name
        # application/json (also without Accept): 200 and "data": null, as Kezek always answered.
        for accept in (JSON, None):
            answer = await _post(kezek, body, accept)
            assert (answer.status_code, answer.headers["content-type"]) == (200, JSON), (name, answer.text)
            assert answer.json()["data"] is None and answer.json()["errors"][0]["extensions"]["code"] == code, name


async def test_responses_with_data_are_200_in_both_media_types(kezek: Kezek) -> None:
    for accept in (GRJ, JSON):
        answer = await _post(kezek, {"query": "{ regions { code } }"}, accept)
        assert (answer.status_code, answer.headers["content-type"]) == (200, accept)
        assert answer.json()["data"]["regions"]
        # A field error (data present, an error on the field) is no request error.
        missing = {"query": '{ kindergarten(id: "987654") { id } }'}
        answer = await _post(kezek, missing, accept)
        assert answer.status_code == 200 and answer.json()["data"] == {"kindergarten": None}
        assert answer.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_the_rate_limit_answers_429_in_the_media_type_asked_for(db_url: str) -> None:
    async with open_kezek(db_url, rate_person_per_second=0.01, rate_person_burst=1) as kezek:
        headers = {"Authorization": f"Bearer {kezek.citizen(data.PLAIN.parents[0])}"}
        query = {"query": "{ viewer { role } }"}
        assert (await _post(kezek, query, GRJ, **headers)).status_code == 200
        for accept, media in ((APOLLO_KOTLIN, GRJ), (APOLLO_IOS, GRJ), (JSON, JSON), (None, JSON)):
            refused = await _post(kezek, query, accept, **headers)
            assert (refused.status_code, refused.headers["content-type"]) == (429, media), accept
            assert int(refused.headers["Retry-After"]) >= 1
            error = refused.json()["errors"][0]
            assert error["extensions"]["code"] == "RATE_LIMITED" and error["extensions"]["retryAfter"] >= 1
            assert ("data" in refused.json()) == (media == JSON)


async def test_refusals_before_execution_follow_the_media_type(db_url: str, tmp_path: Path) -> None:
    async with open_kezek(db_url, channels_file=_trusted_channels(tmp_path)) as kezek:
        cases: list[tuple[str, dict[str, Any], dict[str, str], int]] = [
            ("UNAUTHENTICATED", {"query": "{ viewer { role } }"}, {"Authorization": "Bearer not-a-jwt"}, 401),
            (
                "DOCUMENT_NOT_TRUSTED",
                {"query": "{ viewer { role } }"},
                {"Authorization": f"Bearer {kezek.citizen(data.PLAIN.parents[0], channel='kaspi')}"},
                403,
            ),
            ("INVALID_INPUT", {"query": '{ applicationByNumber(number: "a\\u0000") { id } }'}, {}, 400),
        ]
        for code, body, headers, status in cases:
            strict = await _post(kezek, body, GRJ, **headers)
            assert (strict.status_code, strict.headers["content-type"]) == (status, GRJ), (code, strict.text)
            reason = {"reason": "malformed"} if code == "UNAUTHENTICATED" else {}  # what the channel's team must fix
            assert strict.json() == {
                "errors": [{"message": strict.json()["errors"][0]["message"], "extensions": {"code": code, **reason}}]
            }
            legacy = await _post(kezek, body, None, **headers)
            assert (legacy.status_code, legacy.headers["content-type"]) == (200, JSON), code
            assert legacy.json()["data"] is None and legacy.json()["errors"][0]["extensions"]["code"] == code
        strict = await _post(kezek, cases[0][1], GRJ, **cases[0][2])
        assert strict.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_mutation_by_get_is_405_with_allow(kezek: Kezek) -> None:
    mutation = 'mutation { withdrawApplication(input: {applicationId: "1"}) { errors { code } } }'
    for accept, media in ((None, JSON), (GRJ, GRJ)):
        headers = {"accept": accept} if accept else {}
        answer = await kezek.client.get("/graphql", params={"query": mutation}, headers=headers)
        assert (answer.status_code, answer.headers["allow"], answer.headers["content-type"]) == (405, "POST", media)
        assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # The same mutation by POST runs; a query by GET runs.
    assert (await _post(kezek, {"query": mutation})).status_code == 200
    assert (await kezek.client.get("/graphql", params={"query": "{ regions { code } }"})).status_code == 200


async def test_malformed_requests_are_400_with_a_graphql_error(kezek: Kezek) -> None:
    raw = {
        "not JSON": ("{ not json", "application/json"),
        "no content type": (json.dumps({"query": "{ regions { code } }"}), "text/plain"),
        "no query": (json.dumps({"qeury": "{ regions { code } }"}), "application/json"),
        "query not a string": (json.dumps({"query": 5}), "application/json"),
        "variables not a map": (json.dumps({"query": "{ regions { code } }", "variables": "x"}), "application/json"),
        "operationName not a string": (
            json.dumps({"query": "{ regions { code } }", "operationName": {"a": 1}}),
            "application/json",
        ),
    }
    for name, (content, content_type) in raw.items():
        for accept in (JSON, GRJ):
            answer = await kezek.client.post(
                "/graphql", content=content, headers={"content-type": content_type, "accept": accept}
            )
            assert (answer.status_code, answer.headers["content-type"]) == (400, accept), (name, answer.text)
            assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST", name
    # A subscription belongs on the WebSocket.
    answer = await _post(kezek, {"query": "subscription { seatOffers { kind } }"}, GRJ)
    assert answer.status_code == 400 and "WebSocket" in answer.json()["errors"][0]["message"]


def _padded(size: int) -> bytes:
    """A valid request body of exactly `size` bytes (a comment pads the document)."""
    body = json.dumps({"query": "{ regions { code } }\n#"}).encode()
    return body[:-2] + b"x" * (size - len(body)) + body[-2:]


async def test_request_bodies_and_query_strings_are_limited(kezek: Kezek) -> None:
    at_limit = _padded(MAX_BODY_BYTES)
    assert len(at_limit) == MAX_BODY_BYTES
    headers = {"content-type": "application/json"}
    answer = await kezek.client.post("/graphql", content=at_limit, headers=headers)
    assert answer.status_code == 200 and answer.json()["data"]["regions"], answer.text
    over = _padded(MAX_BODY_BYTES + 1)
    for accept in (JSON, GRJ):
        answer = await kezek.client.post("/graphql", content=over, headers={**headers, "accept": accept})
        assert (answer.status_code, answer.headers["content-type"]) == (413, accept)
        error = answer.json()["errors"][0]
        assert error["extensions"]["code"] == "REQUEST_TOO_LARGE" and str(MAX_BODY_BYTES) in error["message"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(over), 4096):
            yield over[start : start + 4096]

    answer = await kezek.client.post("/graphql", content=chunks(), headers=headers)
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413 and answer.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    # A GET's query string has a limit of its own: such a long operation goes by POST.
    query = "query=%7B%20regions%20%7B%20code%20%7D%20%7D%0A%23"
    for size, status in ((MAX_QUERY_STRING_BYTES, 200), (MAX_QUERY_STRING_BYTES + 1, 414)):
        padded = query + "x" * (size - len(query))
        answer = await kezek.client.get(f"/graphql?{padded}")
        assert (answer.status_code, len(answer.request.url.query)) == (status, size), answer.text
    assert answer.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert "POST" in answer.json()["errors"][0]["message"]
