"""submitApplication through the GraphQL endpoint: the application it makes, every error it can return
(each changing nothing), both parents as owners, idempotency, and the outside registries being down."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import socket
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from api.app import create_app
from api.container import build_container
from domain import iin as iin_rules
from integrations.sandbox import SandboxPopulationRegistry
from persistence.pg import Pools
from persistence.sandbox import SandboxStore
from tests import data
from tests.conftest import APPLICATION_FIELDS, SUBMIT, Kezek, MovableClock, make_settings

ALMATY = ZoneInfo("Asia/Almaty")
TABLES = (
    "persons",
    "representations",
    "applications",
    "choices",
    "priority_claims",
    "audit_log",
    "outbox",
    "queue_events",
    "idempotency_keys",
)
APPLICATION = f"query($id: ID!) {{ application(id: $id) {{ {APPLICATION_FIELDS} }} }}"
CHANGE = f"""mutation($input: ChangeChoicesInput!) {{
  changeChoices(input: $input) {{ application {{ {APPLICATION_FIELDS} }} errors {{ code message field }} }}
}}"""
# A valid IIN (check digit right) that the population registry does not know.
UNKNOWN_CHILD = iin_rules.make(dt.date(2023, 7, 15), True, 4321)


async def footprint(kezek: Kezek) -> dict[str, int]:
    """Row counts of every table a submission may write."""
    rows = await kezek.sql("SELECT " + ", ".join(f"(SELECT count(*) FROM {t}) AS {t}" for t in TABLES))
    return {k: int(v) for k, v in dict(rows[0]).items()}


def today_in_almaty(kezek: Kezek) -> dt.date:
    return kezek.clock.now().astimezone(ALMATY).date()


async def submit(
    kezek: Kezek,
    parent: str,
    child: str,
    kindergartens: list[str],
    *,
    channel: str = "egov",
    kindergarten_ids: list[str] | None = None,
    **extra: Any,
) -> Any:
    ids = kindergarten_ids if kindergarten_ids is not None else await kezek.kgs(*kindergartens)
    variables = {"input": {"childIin": child, "kindergartenIds": ids, "language": "RU", **extra}}
    return (await kezek.gql(SUBMIT, variables, kezek.citizen(parent, channel)))["submitApplication"]


async def refused(
    kezek: Kezek,
    code: str,
    field: str | None,
    parent: str,
    child: str,
    kindergartens: list[str],
    *,
    remembered: bool = False,
    **kw: Any,
) -> dict[str, Any]:
    """Submits, expects exactly one error with this code and field, and that no table changed
    (but for the remembered idempotency key of a call that gave one)."""
    before = await footprint(kezek)
    payload = await submit(kezek, parent, child, kindergartens, **kw)
    assert payload["application"] is None, payload
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], payload
    assert payload["errors"][0]["message"]
    before["idempotency_keys"] += 1 if remembered else 0
    assert await footprint(kezek) == before
    error: dict[str, Any] = payload["errors"][0]
    return error


# --- success ------------------------------------------------------------------------------------


async def test_submit_returns_queued_application_with_defaults(kezek: Kezek) -> None:
    parent, child = data.PLAIN.parents[0], data.PLAIN.children[1]
    started = kezek.clock.now()
    payload = await submit(kezek, parent, child, ["SHA-1", "SHA-2", "SHA-3", "SHA-4"])
    finished = kezek.clock.now()

    assert payload["errors"] == []
    app = payload["application"]
    today = today_in_almaty(kezek)
    assert re.fullmatch(rf"KZ-{today.year}-\d{{7}}", app["number"]), app["number"]
    assert app["status"] == "QUEUED"
    queue_date = dt.datetime.fromisoformat(app["queueDate"])
    assert queue_date.utcoffset() is not None
    assert started <= queue_date <= finished
    assert app["channel"] == "egov"
    assert app["tier"] == "GENERAL"
    assert app["claims"] == []
    assert app["language"] == "RU"
    assert app["groupType"] == "GENERAL"
    assert app["desiredStartDate"] == today.isoformat()
    assert [(c["rank"], c["kindergarten"]["externalId"]) for c in app["choices"]] == [
        (1, "SHA-1"),
        (2, "SHA-2"),
        (3, "SHA-3"),
        (4, "SHA-4"),
    ]
    assert [c["position"] for c in app["choices"]] == [1, 1, 1, 1]
    assert (await kezek.sql("SELECT count(*) FROM applications"))[0][0] == 1
    outbox = await kezek.sql("SELECT application_id, kind FROM outbox")
    assert [(r["application_id"], r["kind"]) for r in outbox] == [(int(app["id"]), "POSITIONS_ASSIGNED")]


async def test_default_start_date_is_the_day_in_almaty_not_utc(kezek: Kezek) -> None:
    # 21:00 UTC is already the next day in Asia/Almaty.
    now = kezek.clock.now()
    target = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(21, 0), dt.UTC)
    kezek.clock.advance(target - now)
    payload = await submit(kezek, data.OTHER.parents[0], data.OTHER.children[0], ["SHA-1"])
    assert payload["errors"] == []
    expected = target.astimezone(ALMATY).date()
    assert expected == target.date() + dt.timedelta(days=1)
    assert payload["application"]["desiredStartDate"] == expected.isoformat()
    assert dt.datetime.fromisoformat(payload["application"]["queueDate"]) >= target


async def test_submit_echoes_explicit_fields_and_the_tokens_channel(kezek: Kezek) -> None:
    start = today_in_almaty(kezek) + dt.timedelta(days=40)
    payload = await submit(
        kezek,
        data.OTHER.parents[0],
        data.OTHER.children[0],
        ["SHA-SP"],
        channel="kaspi",
        groupType="SPECIAL",
        desiredStartDate=start.isoformat(),
        phone="+7 701 555-12-34",
        notificationLanguage="EN",
    )
    assert payload["errors"] == []
    app = payload["application"]
    assert app["channel"] == "kaspi"
    assert app["groupType"] == "SPECIAL"
    assert app["desiredStartDate"] == start.isoformat()
    assert [c["position"] for c in app["choices"]] == [1]
    row = (await kezek.sql("SELECT phone, notification_language FROM applications"))[0]
    assert (row["phone"], row["notification_language"]) == ("+77015551234", "EN")

    kk = await submit(kezek, data.TWINS.parents[0], data.TWINS.children[0], ["SHA-KK"], channel="halyk", language="KK")
    assert kk["errors"] == []
    assert (kk["application"]["channel"], kk["application"]["language"]) == ("halyk", "KK")


async def test_tier_comes_from_verified_claims_only(kezek: Kezek) -> None:
    large = await submit(kezek, data.LARGE.parents[0], data.LARGE.children[1], ["SHA-1"])
    assert large["errors"] == []
    assert large["application"]["tier"] == "PRIMARY"
    assert [(c["category"], c["tier"], c["status"]) for c in large["application"]["claims"]] == [
        ("LARGE_FAMILY", "PRIMARY", "VERIFIED")
    ]
    disabled = await submit(kezek, data.DISABLED.parents[0], data.DISABLED.children[0], ["SHA-1"])
    assert disabled["application"]["tier"] == "PRIMARY"
    assert [c["category"] for c in disabled["application"]["claims"]] == ["DISABLED_CHILD"]
    military = await submit(kezek, data.MILITARY.parents[0], data.MILITARY.children[0], ["SHA-1"])
    # A closed registry's claim waits for an operator and does not count yet.
    assert military["application"]["tier"] == "GENERAL"
    assert [(c["category"], c["status"]) for c in military["application"]["claims"]] == [("MILITARY", "PENDING_MANUAL")]


# --- errors, each changing nothing --------------------------------------------------------------


def _bad_checksum(iin: str) -> str:
    return iin[:-1] + str((int(iin[-1]) + 1) % 10)


def _right_check_digit(first7: str) -> str:
    """An IIN starting with these 7 digits whose check digit is right: only its birth date can make it invalid."""
    for serial in range(10_000):
        digit = iin_rules.check_digit(f"{first7}{serial:04d}")
        if digit is not None:
            return f"{first7}{serial:04d}{digit}"
    raise AssertionError(first7)


@pytest.mark.parametrize(
    "bad_iin",
    [
        _bad_checksum(data.PLAIN.children[0]),
        data.PLAIN.children[0][:-1],
        data.PLAIN.children[0] + "0",
        data.PLAIN.children[0][:6] + "5A" + data.PLAIN.children[0][8:],
        "",
        _right_check_digit("2303157"),
        _right_check_digit("2313155"),
        _right_check_digit("2302305"),
    ],
    ids=["checksum", "11-digits", "13-digits", "letters", "empty", "century-digit-7", "month-13", "30-february"],
)
async def test_invalid_iin(kezek: Kezek, bad_iin: str) -> None:
    """The last three have a right check digit: they guard the birth-date part of the IIN rule (else the
    registry is asked and answers NOT_FOUND)."""
    await refused(kezek, "INVALID_IIN", "childIin", data.PLAIN.parents[0], bad_iin, ["SHA-1"])
    assert (await kezek.sql("SELECT count(*) FROM applications"))[0][0] == 0


async def test_zero_kindergartens_is_invalid_input(kezek: Kezek) -> None:
    await refused(kezek, "INVALID_INPUT", "kindergartenIds", data.PLAIN.parents[0], data.PLAIN.children[0], [])


async def test_past_desired_start_date_is_invalid_input(kezek: Kezek) -> None:
    yesterday = today_in_almaty(kezek) - dt.timedelta(days=1)
    await refused(
        kezek,
        "INVALID_INPUT",
        "desiredStartDate",
        data.PLAIN.parents[0],
        data.PLAIN.children[0],
        ["SHA-1"],
        desiredStartDate=yesterday.isoformat(),
    )


@pytest.mark.parametrize("phone", ["12345", "+7701555123", "+8 701 555 12 34", "+7701555123x"])
async def test_bad_phone_is_invalid_input(kezek: Kezek, phone: str) -> None:
    await refused(
        kezek, "INVALID_INPUT", "phone", data.PLAIN.parents[0], data.PLAIN.children[0], ["SHA-1"], phone=phone
    )


async def test_five_choices_are_too_many(kezek: Kezek) -> None:
    await refused(
        kezek,
        "TOO_MANY_CHOICES",
        "kindergartenIds",
        data.PLAIN.parents[0],
        data.PLAIN.children[0],
        ["SHA-1", "SHA-2", "SHA-3", "SHA-4", "SHA-5"],
    )


async def test_repeated_kindergarten_is_duplicate_choice(kezek: Kezek) -> None:
    await refused(
        kezek,
        "DUPLICATE_CHOICE",
        "kindergartenIds",
        data.PLAIN.parents[0],
        data.PLAIN.children[0],
        ["SHA-1", "SHA-2", "SHA-1"],
    )


async def test_kk_only_kindergarten_for_ru_is_no_suitable_group(kezek: Kezek) -> None:
    await refused(
        kezek,
        "NO_SUITABLE_GROUP",
        "kindergartenIds",
        data.PLAIN.parents[0],
        data.PLAIN.children[0],
        ["SHA-1", "SHA-KK"],
        language="RU",
    )


async def test_special_type_without_special_group_is_no_suitable_group(kezek: Kezek) -> None:
    parent = data.PLAIN.parents[0]
    await refused(
        kezek, "NO_SUITABLE_GROUP", "kindergartenIds", parent, data.PLAIN.children[0], ["SHA-1"], groupType="SPECIAL"
    )
    # SHA-SP's special group serves 2022-2023 only: a 2021-born child does not fit.
    await refused(
        kezek,
        "NO_SUITABLE_GROUP",
        "kindergartenIds",
        data.LARGE.parents[0],
        data.LARGE.children[3],
        ["SHA-SP"],
        groupType="SPECIAL",
    )


async def test_child_unknown_to_the_registry_is_not_found(kezek: Kezek) -> None:
    assert iin_rules.is_valid(UNKNOWN_CHILD)
    unknown = await refused(kezek, "NOT_FOUND", "childIin", data.PLAIN.parents[0], UNKNOWN_CHILD, ["SHA-1"])
    dead = await refused(kezek, "NOT_FOUND", "childIin", data.DEAD.parents[0], data.DEAD.children[0], ["SHA-1"])
    # A child not alive is answered like an unknown one.
    assert dead == unknown


async def test_unknown_kindergarten_is_not_found(kezek: Kezek) -> None:
    parent, child = data.PLAIN.parents[0], data.PLAIN.children[0]
    sha1 = await kezek.kg("SHA-1")
    for ids in ([sha1, "999999999"], ["not-an-id"], ["-1"]):
        await refused(kezek, "NOT_FOUND", "kindergartenIds", parent, child, [], kindergarten_ids=ids)


async def test_stranger_is_not_legal_representative(kezek: Kezek) -> None:
    await refused(
        kezek, "NOT_LEGAL_REPRESENTATIVE", "childIin", data.OTHER.parents[0], data.PLAIN.children[0], ["SHA-1"]
    )


async def test_child_too_old_is_age_out_of_range(kezek: Kezek) -> None:
    await refused(kezek, "AGE_OUT_OF_RANGE", "desiredStartDate", data.AGED.parents[0], data.AGED.children[0], ["SHA-1"])


async def test_start_date_from_1_september_of_year_six_is_age_out_of_range(kezek: Kezek) -> None:
    parent, child = data.PLAIN.parents[0], data.PLAIN.children[0]  # born 2022
    for day in ("2028-09-01", "2029-01-15"):
        await refused(kezek, "AGE_OUT_OF_RANGE", "desiredStartDate", parent, child, ["SHA-1"], desiredStartDate=day)
    accepted = await submit(kezek, parent, child, ["SHA-1"], desiredStartDate="2028-08-31")
    assert accepted["errors"] == []
    assert accepted["application"]["desiredStartDate"] == "2028-08-31"


async def test_second_submission_is_duplicate_application_whoever_and_wherever(kezek: Kezek) -> None:
    first, second = data.PLAIN.parents
    child = data.PLAIN.children[0]
    existing = (await submit(kezek, first, child, ["SHA-1"]))["application"]
    attempts: list[tuple[str, str]] = [(first, "egov"), (second, "egov"), (second, "kaspi"), (first, "halyk")]
    for parent, channel in attempts:
        error = await refused(
            kezek, "DUPLICATE_APPLICATION", "childIin", parent, child, ["SHA-2", "SHA-3"], channel=channel
        )
        assert existing["number"] in error["message"]
    assert (await kezek.sql("SELECT count(*) FROM applications"))[0][0] == 1


async def test_other_roles_may_not_submit(kezek: Kezek) -> None:
    variables = {
        "input": {"childIin": data.PLAIN.children[0], "kindergartenIds": [await kezek.kg("SHA-1")], "language": "RU"}
    }
    before = await footprint(kezek)
    for token, code in ((kezek.operator(), "FORBIDDEN"), (kezek.ministry(), "FORBIDDEN"), (None, "UNAUTHENTICATED")):
        body = await kezek.post(SUBMIT, variables, token)
        assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert await footprint(kezek) == before


# --- both parents are owners ----------------------------------------------------------------------


async def test_both_parents_see_and_act_on_the_application(kezek: Kezek) -> None:
    first, second = data.PLAIN.parents
    child = data.PLAIN.children[0]
    app = (await submit(kezek, first, child, ["SHA-1"]))["application"]

    # The second parent, through another channel, reads it by id...
    token = kezek.citizen(second, "halyk")
    read = (await kezek.gql(APPLICATION, {"id": app["id"]}, token))["application"]
    assert (read["id"], read["number"], read["channel"]) == (app["id"], app["number"], "egov")

    # ...and among their children.
    mine = await kezek.gql("{ myChildren { iin application { id number status } } }", token=token)
    by_iin = {c["iin"]: c for c in mine["myChildren"]}
    assert set(by_iin) == set(data.PLAIN.children)
    assert by_iin[child]["application"] == {"id": app["id"], "number": app["number"], "status": "QUEUED"}
    assert by_iin[data.PLAIN.children[1]]["application"] is None

    # ...and acts on it.
    sha1, sha2 = await kezek.kgs("SHA-1", "SHA-2")
    changed = (
        await kezek.gql(CHANGE, {"input": {"applicationId": app["id"], "kindergartenIds": [sha2, sha1]}}, token)
    )["changeChoices"]
    assert changed["errors"] == []
    assert [c["kindergarten"]["externalId"] for c in changed["application"]["choices"]] == ["SHA-2", "SHA-1"]

    # Another family's parent sees nothing.
    body = await kezek.post(APPLICATION, {"id": app["id"]}, kezek.citizen(data.OTHER.parents[0]))
    assert body["data"]["application"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]


# --- idempotency --------------------------------------------------------------------------------


async def test_same_idempotency_key_and_input_returns_the_same_application(kezek: Kezek) -> None:
    parent, child = data.PLAIN.parents[0], data.PLAIN.children[0]
    first = await submit(kezek, parent, child, ["SHA-1", "SHA-2"], idempotencyKey="apply-1")
    assert first["errors"] == []
    after_first = await footprint(kezek)
    again = await submit(kezek, parent, child, ["SHA-1", "SHA-2"], idempotencyKey="apply-1")
    assert again["errors"] == []
    assert again["application"]["id"] == first["application"]["id"]
    assert again["application"]["number"] == first["application"]["number"]
    assert await footprint(kezek) == after_first
    assert after_first["applications"] == 1
    assert after_first["outbox"] == 1


async def test_same_idempotency_key_with_other_input_is_refused(kezek: Kezek) -> None:
    parent, child = data.PLAIN.parents[0], data.PLAIN.children[0]
    first = await submit(kezek, parent, child, ["SHA-1"], idempotencyKey="apply-2")
    assert first["errors"] == []
    await refused(kezek, "IDEMPOTENCY_KEY_REUSED", "idempotencyKey", parent, child, ["SHA-2"], idempotencyKey="apply-2")
    await refused(
        kezek,
        "IDEMPOTENCY_KEY_REUSED",
        "idempotencyKey",
        parent,
        data.PLAIN.children[1],
        ["SHA-1"],
        idempotencyKey="apply-2",
    )


async def test_idempotency_key_is_scoped_to_the_subject(kezek: Kezek) -> None:
    first, second = data.PLAIN.parents
    child = data.PLAIN.children[0]
    made = await submit(kezek, first, child, ["SHA-1"], idempotencyKey="same-key")
    # The other parent's identical call with the same key is not a replay of the first parent's.
    error = await refused(
        kezek, "DUPLICATE_APPLICATION", "childIin", second, child, ["SHA-1"], idempotencyKey="same-key", remembered=True
    )
    assert made["application"]["number"] in error["message"]
    # Another family with the same key gets its own application.
    other = await submit(kezek, data.OTHER.parents[0], data.OTHER.children[0], ["SHA-1"], idempotencyKey="same-key")
    assert other["errors"] == []
    assert other["application"]["id"] != made["application"]["id"]
    # A failure is remembered too: the replay gives the same error without asking again.
    replay = await submit(kezek, second, child, ["SHA-1"], idempotencyKey="same-key")
    assert replay["errors"] == [error]
    assert (await kezek.sql("SELECT count(*) FROM applications"))[0][0] == 2


# --- outside registries down ----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@contextlib.asynccontextmanager
async def app_with(db_url: str, clock: MovableClock, **settings: Any) -> AsyncIterator[Kezek]:
    """Another app over the same database, built like the `kezek` fixture but with other settings."""
    container = build_container(make_settings(**settings), db_url, clock=clock)
    transport = httpx.ASGITransport(app=create_app(container))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://kezek.test") as client:
            k = Kezek(container, client, clock)
            k.db_url = db_url
            yield k
    finally:
        await container.aclose()


async def test_population_registry_down_is_registry_unavailable_and_writes_nothing(kezek: Kezek) -> None:
    parent, child = data.PLAIN.parents[0], data.PLAIN.children[0]
    url = f"http://127.0.0.1:{_closed_port()}"
    async with app_with(
        kezek.db_url, kezek.clock, population_registry_url=url, registry_timeout=0.2, registry_retries=0
    ) as down:
        before = await footprint(kezek)
        payload = await submit(down, parent, child, ["SHA-1"], idempotencyKey="while-down")
        assert payload["application"] is None
        assert [e["code"] for e in payload["errors"]] == ["REGISTRY_UNAVAILABLE"]
        assert await footprint(kezek) == before
        assert before["applications"] == 0

    # Once the registry answers, the same key goes through: the failure was not remembered.
    payload = await submit(kezek, parent, child, ["SHA-1"], idempotencyKey="while-down")
    assert payload["errors"] == []
    assert payload["application"]["status"] == "QUEUED"


async def test_benefits_registry_down_accepts_and_the_worker_adds_the_claim_later(kezek: Kezek) -> None:
    parent, child = data.LARGE.parents[0], data.LARGE.children[1]
    url = f"http://127.0.0.1:{_closed_port()}"
    async with app_with(
        kezek.db_url, kezek.clock, benefits_registry_url=url, registry_timeout=0.2, registry_retries=0
    ) as down:
        submitted_at = kezek.clock.now()
        payload = await submit(down, parent, child, ["SHA-1"])
    assert payload["errors"] == []
    app = payload["application"]
    assert (app["status"], app["tier"], app["claims"]) == ("QUEUED", "GENERAL", [])

    row = (
        await kezek.sql(
            "SELECT next_benefit_check_at, benefit_check_failures FROM applications WHERE id = $1", int(app["id"])
        )
    )[0]
    due: dt.datetime = row["next_benefit_check_at"]
    assert row["benefit_check_failures"] == 1
    assert submitted_at < due <= submitted_at + dt.timedelta(minutes=10)

    # Not due yet: the worker leaves it alone.
    assert (await kezek.worker_pass())["benefits_rechecked"] == 0
    kezek.clock.advance(due - kezek.clock.now() + dt.timedelta(seconds=1))
    assert (await kezek.worker_pass())["benefits_rechecked"] == 1

    read = (await kezek.gql(APPLICATION, {"id": app["id"]}, kezek.citizen(parent)))["application"]
    assert read["tier"] == "PRIMARY"
    assert [(c["category"], c["status"]) for c in read["claims"]] == [("LARGE_FAMILY", "VERIFIED")]
    assert read["queueDate"] == app["queueDate"]
    row = (
        await kezek.sql(
            "SELECT next_benefit_check_at, benefit_check_failures FROM applications WHERE id = $1", int(app["id"])
        )
    )[0]
    assert row["benefit_check_failures"] == 0
    assert row["next_benefit_check_at"] > kezek.clock.now()


def _one_am_after(before: dt.datetime, after: dt.datetime) -> set[dt.datetime]:
    """01:00 Asia/Almaty on the day after a moment between `before` and `after` (decision 11)."""
    days = {m.astimezone(ALMATY).date() + dt.timedelta(days=1) for m in (before, after)}
    return {dt.datetime.combine(d, dt.time(1, 0), ALMATY) for d in days}


async def _benefit_check(kezek: Kezek, app_id: str) -> tuple[dt.datetime, int]:
    [row] = await kezek.sql(
        "SELECT next_benefit_check_at, benefit_check_failures FROM applications WHERE id = $1", int(app_id)
    )
    return row["next_benefit_check_at"], int(row["benefit_check_failures"])


async def test_the_daily_recheck_backs_off_while_the_registry_is_down(kezek: Kezek) -> None:
    """Guards decision 11: checked daily at 01:00 Almaty; a registry that is down is asked again after 2, 4,
    8 ... minutes, never more than 6 hours apart; a check that succeeds goes back to the daily time."""
    parent, child = data.PLAIN.parents[0], data.PLAIN.children[0]
    before = kezek.clock.now()
    app = (await submit(kezek, parent, child, ["SHA-1"]))["application"]
    after = kezek.clock.now()
    due, failures = await _benefit_check(kezek, app["id"])
    assert failures == 0 and due in _one_am_after(before, after)

    url = f"http://127.0.0.1:{_closed_port()}"
    async with app_with(
        kezek.db_url, kezek.clock, benefits_registry_url=url, registry_timeout=0.2, registry_retries=0
    ) as down:
        for n in (1, 2, 3):
            kezek.clock.advance(due - kezek.clock.now() + dt.timedelta(seconds=1))
            before = kezek.clock.now()
            assert await down.container.queue.recheck_benefits() == 1
            after = kezek.clock.now()
            due, failures = await _benefit_check(kezek, app["id"])
            assert failures == n
            assert before + dt.timedelta(minutes=2**n) <= due <= after + dt.timedelta(minutes=2**n)
        # Set-up: many failures already; the next wait is capped at 6 hours (2**9 minutes would be more).
        await kezek.sql("UPDATE applications SET benefit_check_failures = 8 WHERE id = $1", int(app["id"]))
        kezek.clock.advance(due - kezek.clock.now() + dt.timedelta(seconds=1))
        before = kezek.clock.now()
        assert await down.container.queue.recheck_benefits() == 1
        after = kezek.clock.now()
        due, failures = await _benefit_check(kezek, app["id"])
        assert failures == 9
        assert before + dt.timedelta(hours=6) <= due <= after + dt.timedelta(hours=6)

    # The registry answers again: back to the daily check.
    kezek.clock.advance(due - kezek.clock.now() + dt.timedelta(seconds=1))
    before = kezek.clock.now()
    assert await kezek.container.queue.recheck_benefits() == 1
    after = kezek.clock.now()
    due, failures = await _benefit_check(kezek, app["id"])
    assert failures == 0 and due in _one_am_after(before, after)


async def test_the_population_sandbox_asks_what_is_asked_at_once_in_one_query_a_kind(db_url: str) -> None:
    """Decision 119: questions to the registry's stand-in asked in the same turn (a submission's about the child
    and each representative, and other submissions') go as one query each kind, with the same answers."""
    pools = Pools(db_url, size=2)
    store = SandboxStore(pools)
    asked: list[tuple[str, list[str]]] = []
    for name in ("persons", "representatives", "children"):
        real = getattr(store, name)

        async def spy(iins: list[str], real: Any = real, name: str = name) -> Any:
            asked.append((name, sorted(iins)))
            return await real(iins)

        setattr(store, name, spy)
    registry = SandboxPopulationRegistry(store)
    family, unknown = data.LARGE, "000000000000"
    try:
        people = await asyncio.gather(*[registry.person(i) for i in [*family.parents, family.children[0], unknown]])
        reps, *kids = await asyncio.gather(
            registry.representatives(family.children[0]), *[registry.children(p) for p in family.parents]
        )
        alone = await registry.person(family.parents[0])
    finally:
        await pools.close()
    assert [p.iin if p else None for p in people] == [*family.parents, family.children[0], None]
    assert alone is not None and alone.iin == family.parents[0]
    assert reps == sorted(family.parents)
    assert kids == [sorted(family.children)] * len(family.parents)
    assert asked == [
        ("persons", sorted([*family.parents, family.children[0], unknown])),
        ("representatives", [family.children[0]]),
        ("children", sorted(family.parents)),
        ("persons", [family.parents[0]]),
    ]
