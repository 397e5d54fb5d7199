"""Priority claims (docs/product.md §3): found at submission, verified, rejected, revoked and expired by hand or
by the worker; every change is audited and tells the parent in their language (docs/product.md §7-8)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from domain.messages import MessageKind, MessageParams, render
from domain.model import Language, PriorityCategory
from tests import data
from tests.conftest import Kezek
from tests.test_offers import working_days_end

APP = """query($id: ID!) { application(id: $id) {
  id number tier queueDate status
  claims { id category tier status evidenceId manualDeadline }
  choices { rank kindergarten { externalId } position positionChanges { delta reason } }
  history { at action actorRole channel reason }
} }"""

TO_VERIFY = """query { priorityClaimsToVerify(first: 50) { edges { node {
  id category status application { number } } } pageInfo { hasNextPage } } }"""

VERIFY = """mutation($input: VerifyPriorityClaimInput!) { verifyPriorityClaim(input: $input) {
  claim { id status category tier application { tier } } errors { code field message } } }"""

REVOKE = """mutation($input: RevokePriorityClaimInput!) { revokePriorityClaim(input: $input) {
  claim { id status category tier application { tier } } errors { code field message } } }"""

ALMATY = ZoneInfo("Asia/Almaty")
SHAKHTINSK_OPERATOR = Kezek.operator(data.KARAGANDA_REGION, data.SHAKHTINSK)
REGION_OPERATOR = Kezek.operator(data.KARAGANDA_REGION)


async def _app(kezek: Kezek, app_id: str) -> Any:
    result = (await kezek.gql(APP, {"id": app_id}, REGION_OPERATOR))["application"]
    assert result is not None
    return result


async def _verify(kezek: Kezek, claim_id: str, approve: bool, note: str | None = None, token: str = "") -> Any:
    body = {"claimId": claim_id, "approve": approve, "note": note}
    result = await kezek.gql(VERIFY, {"input": body}, token or SHAKHTINSK_OPERATOR)
    return result["verifyPriorityClaim"]


async def _revoke(kezek: Kezek, claim_id: str, note: str, token: str = "") -> Any:
    result = await kezek.gql(REVOKE, {"input": {"claimId": claim_id, "note": note}}, token or SHAKHTINSK_OPERATOR)
    return result["revokePriorityClaim"]


def _positions(app: Any) -> list[int | None]:
    return [c["position"] for c in app["choices"]]


async def _outbox(kezek: Kezek, app_id: str) -> list[Any]:
    return await kezek.sql(
        "SELECT kind, language, text, recipient FROM outbox WHERE application_id = $1 ORDER BY id", int(app_id)
    )


async def _claim_audit(kezek: Kezek, claim_id: str) -> list[Any]:
    return await kezek.sql(
        """SELECT action, actor_role, actor_subject, channel, before, after, reason FROM audit_log
        WHERE entity_type = 'claim' AND entity_id = $1 ORDER BY id""",
        claim_id,
    )


def _text(kind: MessageKind, language: Language, number: str, category: PriorityCategory) -> str:
    return render(kind, language, MessageParams(application_number=number, category=category))


async def _queue_two_general(kezek: Kezek) -> tuple[str, str]:
    """Two GENERAL 2023-born children queued at SHA-1 and SHA-2 before the priority child arrives."""
    first = await kezek.submit(data.OTHER.parents[0], data.OTHER.children[0], ["SHA-1", "SHA-2"])
    second = await kezek.submit(data.PLAIN.parents[0], data.PLAIN.children[1], ["SHA-1", "SHA-2"])
    assert first["errors"] == [] and second["errors"] == []
    return first["application"]["id"], second["application"]["id"]


# --- submission ----------------------------------------------------------------------------------


async def test_closed_category_is_pending_and_does_not_count(kezek: Kezek) -> None:
    await _queue_two_general(kezek)
    result = await kezek.submit(data.MILITARY.parents[0], data.MILITARY.children[0], ["SHA-1", "SHA-2"])
    assert result["errors"] == []
    app = result["application"]
    [claim] = app["claims"]
    assert (claim["category"], claim["tier"], claim["status"]) == ("MILITARY", "EXTRAORDINARY", "PENDING_MANUAL")
    assert claim["evidenceId"]
    assert app["tier"] == "GENERAL"
    assert _positions(app) == [3, 3]  # behind both earlier GENERAL applicants

    full = await _app(kezek, app["id"])
    deadline = dt.datetime.fromisoformat(full["claims"][0]["manualDeadline"])
    queued = dt.datetime.fromisoformat(full["queueDate"])
    # Five working days (PRODUCT §3, national default): 23:59:59 in Almaty on the fifth working day after the
    # day of submission, by the holiday calendar.
    assert deadline == working_days_end(full["queueDate"], 5)
    assert deadline.astimezone(ALMATY).time() == dt.time(23, 59, 59)
    assert dt.timedelta(days=5) < deadline - queued
    audit = await _claim_audit(kezek, claim["id"])
    assert [(a["action"], a["actor_role"], a["channel"]) for a in audit] == [("CLAIM_FOUND", "citizen", "egov")]
    assert json.loads(audit[0]["after"])["status"] == "PENDING_MANUAL"


async def test_open_categories_are_verified_at_once(kezek: Kezek) -> None:
    await _queue_two_general(kezek)
    large = await kezek.submit(data.LARGE.parents[1], data.LARGE.children[1], ["SHA-1"])
    disabled = await kezek.submit(data.DISABLED.parents[0], data.DISABLED.children[0], ["SHA-1"])
    assert large["errors"] == [] and disabled["errors"] == []
    for result, category in ((large, "LARGE_FAMILY"), (disabled, "DISABLED_CHILD")):
        app = result["application"]
        assert [(c["category"], c["tier"], c["status"]) for c in app["claims"]] == [(category, "PRIMARY", "VERIFIED")]
        assert app["tier"] == "PRIMARY"
        # Nothing for an operator to decide: no manual deadline.
        assert [c["manualDeadline"] for c in (await _app(kezek, app["id"]))["claims"]] == [None]
    # PRIMARY children go ahead of earlier GENERAL ones; among themselves, by queue date.
    assert _positions(large["application"]) == [1]
    assert _positions(disabled["application"]) == [2]
    assert [
        e["node"] for e in (await kezek.gql(TO_VERIFY, token=REGION_OPERATOR))["priorityClaimsToVerify"]["edges"]
    ] == []


async def test_pending_claims_are_listed_for_the_area_operators_only(kezek: Kezek) -> None:
    military = await kezek.submit(data.MILITARY.parents[0], data.MILITARY.children[0], ["SHA-1"])
    await kezek.submit(data.LARGE.parents[0], data.LARGE.children[1], ["SHA-1"])  # verified: not listed
    claim_id = military["application"]["claims"][0]["id"]
    number = military["application"]["number"]

    for token in (REGION_OPERATOR, SHAKHTINSK_OPERATOR):
        page = (await kezek.gql(TO_VERIFY, token=token))["priorityClaimsToVerify"]
        nodes = [e["node"] for e in page["edges"]]
        assert nodes == [
            {"id": claim_id, "category": "MILITARY", "status": "PENDING_MANUAL", "application": {"number": number}}
        ]
        assert page["pageInfo"]["hasNextPage"] is False
    for token in (
        Kezek.operator(data.SKO_REGION),
        Kezek.operator(data.SKO_REGION, data.PETROPAVLOVSK),
        Kezek.operator(data.KARAGANDA_REGION, data.KARAGANDA_CITY),
    ):
        page = (await kezek.gql(TO_VERIFY, token=token))["priorityClaimsToVerify"]
        assert page["edges"] == []
    # Another area's operator cannot decide it either, and a citizen may not even ask.
    other = await _verify(kezek, claim_id, True, token=Kezek.operator(data.SKO_REGION))
    assert [e["code"] for e in other["errors"]] == ["NOT_FOUND"] and other["claim"] is None
    body = await kezek.post(
        VERIFY, {"input": {"claimId": claim_id, "approve": True}}, kezek.citizen(data.PLAIN.parents[0])
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await _app(kezek, military["application"]["id"]))["claims"][0]["status"] == "PENDING_MANUAL"


# --- verification --------------------------------------------------------------------------------


async def test_approving_a_pending_claim_moves_the_child_ahead(kezek: Kezek) -> None:
    first_id, second_id = await _queue_two_general(kezek)
    submitted = await kezek.submit(
        data.MILITARY.parents[0], data.MILITARY.children[0], ["SHA-1", "SHA-2"], notificationLanguage="KK"
    )
    app = submitted["application"]
    claim_id = app["claims"][0]["id"]

    # The operator decides two days later (within the manual window): the history tells when.
    kezek.clock.advance(dt.timedelta(days=2))
    asked = kezek.clock.now()
    result = await _verify(kezek, claim_id, True, "справка в/ч 1234")
    answered = kezek.clock.now()
    assert result["errors"] == []
    assert result["claim"] == {
        "id": claim_id,
        "status": "VERIFIED",
        "category": "MILITARY",
        "tier": "EXTRAORDINARY",
        "application": {"tier": "EXTRAORDINARY"},
    }
    after = await _app(kezek, app["id"])
    assert after["tier"] == "EXTRAORDINARY"
    assert after["queueDate"] == app["queueDate"]
    assert _positions(after) == [1, 1]
    own = after["choices"][0]["positionChanges"]
    assert own[0] == {"delta": -2, "reason": "TIER_CHANGED"}
    first, second = await _app(kezek, first_id), await _app(kezek, second_id)
    assert _positions(first) == [2, 2] and _positions(second) == [3, 3]
    assert first["choices"][0]["positionChanges"][0] == {"delta": 1, "reason": "PRIORITY_JOINED"}
    assert await kezek.gql(TO_VERIFY, token=REGION_OPERATOR) == {
        "priorityClaimsToVerify": {"edges": [], "pageInfo": {"hasNextPage": False}}
    }

    # Audited: the operator, their channel, the note, before and after.
    audit = await _claim_audit(kezek, claim_id)
    assert [a["action"] for a in audit] == ["CLAIM_FOUND", "CLAIM_VERIFIED"]
    verified = audit[1]
    assert (verified["actor_role"], verified["actor_subject"], verified["channel"], verified["reason"]) == (
        "akimat_operator",
        "operator-1",
        "akimat-karaganda",
        "справка в/ч 1234",
    )
    assert json.loads(verified["before"])["status"] == "PENDING_MANUAL"
    assert json.loads(verified["after"])["status"] == "VERIFIED"

    # The parent is told in Kazakh, as asked at submission.
    messages = await _outbox(kezek, app["id"])
    assert [m["kind"] for m in messages] == ["POSITIONS_ASSIGNED", "CLAIM_VERIFIED"]
    assert messages[1]["language"] == "KK"
    assert messages[1]["text"] == _text(
        MessageKind.CLAIM_VERIFIED, Language.KK, app["number"], PriorityCategory.MILITARY
    )
    assert messages[1]["recipient"] == data.MILITARY.phones[data.MILITARY.parents[0]]

    # History, newest first, as the parent reads it.
    mine = await kezek.gql(APP, {"id": app["id"]}, kezek.citizen(data.MILITARY.parents[0]))
    history = mine["application"]["history"]
    assert [h["action"] for h in history] == ["TIER_CHANGED", "CLAIM_VERIFIED", "SUBMITTED", "CLAIM_FOUND"]
    verified_at = dt.datetime.fromisoformat(history[1].pop("at"))
    assert history[1] == {
        "action": "CLAIM_VERIFIED",
        "actorRole": "akimat_operator",
        "channel": "akimat-karaganda",
        "reason": "справка в/ч 1234",
    }
    # Each entry carries the moment of its change: the decision's, and the submission's (its queue date).
    assert asked <= verified_at <= answered
    assert dt.datetime.fromisoformat(history[0]["at"]) == verified_at  # the tier changed in the same decision
    assert dt.datetime.fromisoformat(history[2]["at"]) == dt.datetime.fromisoformat(app["queueDate"])
    assert (history[2]["actorRole"], history[2]["channel"], history[2]["reason"]) == ("citizen", "egov", None)


async def test_rejecting_a_pending_claim(kezek: Kezek) -> None:
    await _queue_two_general(kezek)
    submitted = await kezek.submit(
        data.MILITARY.parents[0], data.MILITARY.children[0], ["SHA-1", "SHA-2"], notificationLanguage="EN"
    )
    app = submitted["application"]
    claim_id = app["claims"][0]["id"]

    result = await _verify(kezek, claim_id, False, "no such unit")
    assert result["errors"] == []
    assert result["claim"]["status"] == "REJECTED"
    assert result["claim"]["application"] == {"tier": "GENERAL"}
    after = await _app(kezek, app["id"])
    assert _positions(after) == [3, 3]
    assert after["history"][0]["action"] == "CLAIM_REJECTED"
    assert after["history"][0]["reason"] == "no such unit"
    messages = await _outbox(kezek, app["id"])
    assert [(m["kind"], m["language"]) for m in messages] == [("POSITIONS_ASSIGNED", "EN"), ("CLAIM_REJECTED", "EN")]
    assert messages[1]["text"] == _text(
        MessageKind.CLAIM_REJECTED, Language.EN, app["number"], PriorityCategory.MILITARY
    )

    # A decided claim cannot be decided again, either way.
    for approve in (True, False):
        again = await _verify(kezek, claim_id, approve)
        assert [(e["code"], e["field"]) for e in again["errors"]] == [("INVALID_STATE", "claimId")]
    assert (await _app(kezek, app["id"]))["claims"][0]["status"] == "REJECTED"
    assert len(await _outbox(kezek, app["id"])) == 2
    assert [a["action"] for a in await _claim_audit(kezek, claim_id)] == ["CLAIM_FOUND", "CLAIM_REJECTED"]


async def test_verifying_an_already_verified_claim_is_invalid_state(kezek: Kezek) -> None:
    large = await kezek.submit(data.LARGE.parents[0], data.LARGE.children[1], ["SHA-1"])
    claim_id = large["application"]["claims"][0]["id"]
    result = await _verify(kezek, claim_id, True)
    assert [e["code"] for e in result["errors"]] == ["INVALID_STATE"]
    assert result["claim"] is None
    assert [a["action"] for a in await _claim_audit(kezek, claim_id)] == ["CLAIM_FOUND"]


# --- revocation ----------------------------------------------------------------------------------


async def test_revoking_a_verified_claim_recomputes_the_tier(kezek: Kezek) -> None:
    first_id, second_id = await _queue_two_general(kezek)
    submitted = await kezek.submit(data.LARGE.parents[0], data.LARGE.children[1], ["SHA-1", "SHA-2"])
    app = submitted["application"]
    claim_id = app["claims"][0]["id"]
    assert app["tier"] == "PRIMARY" and _positions(app) == [1, 1]

    for note in ("", "   "):
        refused = await _revoke(kezek, claim_id, note)
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", "note")]
    assert (await _app(kezek, app["id"]))["claims"][0]["status"] == "VERIFIED"

    result = await _revoke(kezek, claim_id, "the family has fewer than four children")
    assert result["errors"] == []
    assert result["claim"]["status"] == "REVOKED"
    assert result["claim"]["application"] == {"tier": "GENERAL"}
    after = await _app(kezek, app["id"])
    assert after["tier"] == "GENERAL"
    assert after["queueDate"] == app["queueDate"]
    assert _positions(after) == [3, 3]  # back behind the earlier GENERAL applicants
    assert after["choices"][0]["positionChanges"][0] == {"delta": 2, "reason": "TIER_CHANGED"}
    first = await _app(kezek, first_id)
    assert _positions(first) == [1, 1]
    assert first["choices"][0]["positionChanges"][0] == {"delta": -1, "reason": "TIER_CHANGED"}
    assert _positions(await _app(kezek, second_id)) == [2, 2]

    assert [h["action"] for h in after["history"][:2]] == ["TIER_CHANGED", "CLAIM_REVOKED"]
    assert after["history"][1]["reason"] == "the family has fewer than four children"
    messages = await _outbox(kezek, app["id"])
    assert [m["kind"] for m in messages] == ["POSITIONS_ASSIGNED", "CLAIM_REVOKED"]
    assert messages[1]["text"] == _text(
        MessageKind.CLAIM_REVOKED, Language.RU, app["number"], PriorityCategory.LARGE_FAMILY
    )

    # Once revoked it cannot be revoked again.
    again = await _revoke(kezek, claim_id, "twice")
    assert [e["code"] for e in again["errors"]] == ["INVALID_STATE"]
    assert [a["action"] for a in await _claim_audit(kezek, claim_id)] == ["CLAIM_FOUND", "CLAIM_REVOKED"]


async def test_revoking_a_pending_claim_is_invalid_state(kezek: Kezek) -> None:
    military = await kezek.submit(data.MILITARY.parents[0], data.MILITARY.children[0], ["SHA-1"])
    claim_id = military["application"]["claims"][0]["id"]
    result = await _revoke(kezek, claim_id, "not verified yet")
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("INVALID_STATE", "claimId")]
    assert (await _app(kezek, military["application"]["id"]))["claims"][0]["status"] == "PENDING_MANUAL"
    # A rejected claim is not revocable either.
    await _verify(kezek, claim_id, False, "no")
    result = await _revoke(kezek, claim_id, "still no")
    assert [e["code"] for e in result["errors"]] == ["INVALID_STATE"]


# --- the manual window ---------------------------------------------------------------------------


async def test_unverified_claim_expires_after_the_manual_window_and_can_be_reopened(kezek: Kezek) -> None:
    await _queue_two_general(kezek)
    submitted = await kezek.submit(data.MILITARY.parents[0], data.MILITARY.children[0], ["SHA-1", "SHA-2"])
    app = submitted["application"]
    claim_id = app["claims"][0]["id"]
    deadline = dt.datetime.fromisoformat((await _app(kezek, app["id"]))["claims"][0]["manualDeadline"])

    # Within the window nothing happens.
    kezek.clock.advance(dt.timedelta(days=1))
    assert (await kezek.worker_pass())["claims_expired"] == 0
    assert (await _app(kezek, app["id"]))["claims"][0]["status"] == "PENDING_MANUAL"

    kezek.clock.advance(max(dt.timedelta(days=7), deadline - kezek.clock.now() + dt.timedelta(minutes=1)))
    done = await kezek.worker_pass()
    assert done["claims_expired"] == 1
    after = await _app(kezek, app["id"])
    assert after["claims"][0]["status"] == "EXPIRED"
    assert after["tier"] == "GENERAL"
    assert after["history"][0]["action"] == "CLAIM_EXPIRED"
    assert after["history"][0]["actorRole"] == "system"
    assert [m["kind"] for m in await _outbox(kezek, app["id"])] == ["POSITIONS_ASSIGNED", "CLAIM_EXPIRED"]
    assert (await kezek.gql(TO_VERIFY, token=REGION_OPERATOR))["priorityClaimsToVerify"]["edges"] == []
    # A second pass finds nothing more to expire.
    assert (await kezek.worker_pass())["claims_expired"] == 0

    # An operator may still re-open it.
    result = await _verify(kezek, claim_id, True, "documents arrived late")
    assert result["errors"] == []
    assert result["claim"]["status"] == "VERIFIED"
    reopened = await _app(kezek, app["id"])
    assert reopened["tier"] == "EXTRAORDINARY"
    assert reopened["queueDate"] == app["queueDate"]
    assert _positions(reopened) == [1, 1]
    assert [a["action"] for a in await _claim_audit(kezek, claim_id)] == [
        "CLAIM_FOUND",
        "CLAIM_EXPIRED",
        "CLAIM_VERIFIED",
    ]
    assert [m["kind"] for m in await _outbox(kezek, app["id"])] == [
        "POSITIONS_ASSIGNED",
        "CLAIM_EXPIRED",
        "CLAIM_VERIFIED",
    ]
