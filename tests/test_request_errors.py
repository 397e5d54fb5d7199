"""Errors raised before execution carry extensions.code (docs/api.md §1), as Apollo's clients expect:
GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT; in both profiles, by POST and by GET."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.settings import DEV_DIR, Profile
from graph.schema import MAX_TOKENS
from tests.conftest import Kezek, open_kezek

KG = "query($id: ID!) { kindergarten(id: $id) { id } }"
CASES: dict[str, tuple[str, dict[str, Any], str]] = {
    "syntax": ("{ regions { code }", {}, "GRAPHQL_PARSE_FAILED"),
    "tokens": ("{ " + " ".join("regions { code }" for _ in range(MAX_TOKENS // 4)) + " }", {}, "GRAPHQL_PARSE_FAILED"),
    "unknown field": ("{ regions { nope } }", {}, "GRAPHQL_VALIDATION_FAILED"),
    "unused variable": ("query($x: Int) { regions { code } }", {}, "GRAPHQL_VALIDATION_FAILED"),
    "null for ID!": (KG, {"id": None}, "BAD_USER_INPUT"),
    "missing ID!": (KG, {}, "BAD_USER_INPUT"),
    "object for ID": (KG, {"id": {"a": 1}}, "BAD_USER_INPUT"),
}


async def _codes(kezek: Kezek, query: str, variables: dict[str, Any], method: str) -> list[str]:
    if method == "POST":
        response = await kezek.client.post("/graphql", json={"query": query, "variables": variables})
    else:
        params = {"query": query, "variables": json.dumps(variables)}
        response = await kezek.client.get("/graphql", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None, body
    return [e.get("extensions", {}).get("code") for e in body["errors"]]


@pytest.mark.parametrize("profile", [Profile.DEVELOPMENT, Profile.PRODUCTION])
async def test_errors_before_execution_carry_a_code(db_url: str, profile: Profile) -> None:
    async with open_kezek(db_url, profile=profile, channels_file=DEV_DIR / "channels.json") as kezek:
        for name, (query, variables, code) in CASES.items():
            for method in ("POST", "GET"):
                codes = await _codes(kezek, query, variables, method)
                assert codes and set(codes) == {code}, (name, method, codes)
        # Codes of Kezek's own rules are kept: the cost limit is a validation error with its own code.
        costly = "{ kindergartens(first: 100) { edges { node { groups { kindergarten { groups { id } } } } } } }"
        assert await _codes(kezek, costly, {}, "POST") == ["QUERY_TOO_COSTLY"]
        # A document that failed is answered alike the second time (no cache keeps a half-made answer).
        assert await _codes(kezek, "{ regions { code }", {}, "POST") == ["GRAPHQL_PARSE_FAILED"]
        # Errors raised while executing are not request errors and keep their own codes.
        body = (await kezek.client.post("/graphql", json={"query": KG, "variables": {"id": "999999"}})).json()
        assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
