"""Logs of errors (docs/operations.md "Logs"): expected refusals at INFO without a traceback, real faults at ERROR
with one, IINs masked in both, through the HTTP endpoint."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from api.logging_setup import JsonFormatter
from tests import data
from tests.conftest import Kezek

SET_CAPACITY = """mutation($input: SetGroupCapacityInput!) { setGroupCapacity(input: $input) {
  group { id } errors { code field } } }"""
CHILD = "query($iin: String!) { child(iin: $iin) { iin } }"


def _formatted(records: list[logging.LogRecord]) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in records]


async def test_expected_refusals_are_logged_at_info_without_a_traceback(
    kezek: Kezek, caplog: pytest.LogCaptureFixture
) -> None:
    hidden = data.OTHER.children[0]  # a child the caller may not see: NOT_FOUND, with its IIN in the request
    group = (await kezek.sql("SELECT id FROM groups ORDER BY id LIMIT 1"))[0]["id"]
    with caplog.at_level(logging.INFO):
        assert (await kezek.post('{ kindergarten(id: "999999") { id } }'))["errors"][0]["extensions"]["code"] == (
            "NOT_FOUND"
        )
        body = await kezek.post(CHILD, {"iin": hidden}, Kezek.citizen(data.PLAIN.parents[0]))
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert (await kezek.post("{ myChildren { iin } }"))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        payload = await kezek.gql(SET_CAPACITY, {"input": {"groupId": str(group), "capacity": -1}}, kezek.operator())
        assert payload["setGroupCapacity"]["errors"] == [{"code": "INVALID_INPUT", "field": "capacity"}]
        assert (await kezek.post("{ viewer { role } }", token="not-a-jwt"))["errors"][0]["extensions"]["code"] == (
            "UNAUTHENTICATED"
        )
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert all(r.exc_info is None for r in caplog.records)
    refusals = [e["message"] for e in _formatted(caplog.records) if e["message"].startswith("refused")]
    assert refusals == [
        "refused kindergarten: NOT_FOUND kindergarten not found",
        "refused child: NOT_FOUND child not found",
        "refused myChildren: UNAUTHENTICATED a valid token is required",
        "refused setGroupCapacity: INVALID_INPUT (capacity) capacity must be between 0 and 1000",
    ]
    token = [e for e in _formatted(caplog.records) if "token refused" in e["message"]]
    assert [(e["level"], e["message"]) for e in token] == [("INFO", "token refused: malformed: not a JWT: DecodeError")]
    assert all("error" not in e for e in _formatted(caplog.records))  # no traceback written anywhere


async def test_a_fault_is_logged_at_error_with_its_traceback_and_iins_masked(
    kezek: Kezek, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    iin = data.PLAIN.parents[0]

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"the reader broke while reading {iin}")

    monkeypatch.setattr(kezek.container.services.reader, "regions", broken)
    with caplog.at_level(logging.INFO):
        body = await kezek.post("{ regions { code } }")
    assert body["data"] is None and len(body["errors"]) == 1
    faults = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(faults) == 1, [r.getMessage() for r in caplog.records]
    assert faults[0].name == "kezek.graphql" and faults[0].exc_info is not None
    (entry,) = _formatted(faults)
    assert entry["level"] == "ERROR"
    assert entry["message"] == f"fault at regions: the reader broke while reading {iin[:2]}*********{iin[-1]}"
    assert "Traceback" in entry["error"] and "RuntimeError" in entry["error"] and "broken" in entry["error"]
    assert iin not in json.dumps(entry, ensure_ascii=False)
    assert f"{iin[:2]}*********{iin[-1]}" in entry["error"]
