"""Seat offers and contracts (docs/product.md §4, §6, §7, §8; docs/api.md §3): the offer and its message, confirming
(contract, health documents), signing, extending, declining under both decline policies, lapses and
restores, who may act on an offer, and the audit trail.

Every test runs the real app with national-default policy (OFFERS_POLICY) and starts with every group
full (capacity 0), so that each test decides which seat frees and when. tests/test_allocation.py uses the
helpers defined here."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain import iin
from domain.messages import MessageKind, MessageParams, render
from domain.model import Language
from integrations.calendar import KazakhstanCalendar
from integrations.sandbox import sandbox_signature
from tests import data
from tests.conftest import OFFERS_POLICY, Kezek, open_kezek

ALMATY = ZoneInfo("Asia/Almaty")
CALENDAR = KazakhstanCalendar()
OPERATOR = Kezek.operator(data.KARAGANDA_REGION)
SKO_OPERATOR = Kezek.operator(data.SKO_REGION)

GROUP_FIELDS = "id externalId capacity enrolled held freeSeats"
CONTRACT_FIELDS = """id text documentHash language issuedAt signBy signedAt extended
    healthDocuments { kind documentId issuedOn } missingDocuments"""
OFFER_FIELDS = f"""id status tier upgrade createdAt respondBy siblingGroupId
    kindergarten {{ externalId nameKk nameRu }} group {{ {GROUP_FIELDS} }} contract {{ {CONTRACT_FIELDS} }}"""
APP_FIELDS = f"""id number status tier queueDate siblingGroupId
    claims {{ id category status }}
    choices {{ rank kindergarten {{ externalId }} position }}
    offer {{ {OFFER_FIELDS} }}"""
ERRORS = "errors { code message field }"

APP = f"query($id: ID!) {{ application(id: $id) {{ {APP_FIELDS} }} }}"
GROUPS = f"query($id: ID!) {{ kindergarten(id: $id) {{ groups {{ {GROUP_FIELDS} }} }} }}"
CHILD = """query($iin: String!) { child(iin: $iin) { iin fullName
    enrollment { kindergarten { externalId } group { externalId } since }
    application { id status } } }"""
HISTORY = "query($id: ID!) { application(id: $id) { history { action actorRole channel } } }"
HISTORY_AT = "query($id: ID!) { application(id: $id) { history { at action } } }"

SET_CAPACITY = f"""mutation($input: SetGroupCapacityInput!) {{ setGroupCapacity(input: $input) {{
    group {{ {GROUP_FIELDS} }} {ERRORS} }} }}"""
CONFIRM = f"""mutation($input: ConfirmOfferInput!) {{ confirmOffer(input: $input) {{
    offer {{ {OFFER_FIELDS} }} {ERRORS} }} }}"""
DECLINE = f"""mutation($input: DeclineOfferInput!) {{ declineOffer(input: $input) {{
    offer {{ {OFFER_FIELDS} }} {ERRORS} }} }}"""
EXTEND = f"""mutation($input: ExtendContractInput!) {{ extendContract(input: $input) {{
    offer {{ {OFFER_FIELDS} }} {ERRORS} }} }}"""
SIGN = f"""mutation($input: SignContractInput!) {{ signContract(input: $input) {{
    offer {{ {OFFER_FIELDS} }} enrollment {{ kindergarten {{ externalId }} group {{ externalId }} since }}
    {ERRORS} }} }}"""
RESTORE = f"""mutation($input: RestoreApplicationInput!) {{ restoreApplication(input: $input) {{
    application {{ {APP_FIELDS} }} {ERRORS} }} }}"""


# --- the app and helpers (also used by tests/test_allocation.py) -------------------------------------


@contextlib.asynccontextmanager
async def offers_app(db_url: str, policy_file: Path = OFFERS_POLICY, **settings: Any) -> AsyncIterator[Kezek]:
    """The app with offers switched on, every group full: tests free seats one by one."""
    async with open_kezek(db_url, policy_file=policy_file, **settings) as k:
        await k.sql("UPDATE groups SET capacity = 0")
        yield k


@pytest.fixture
async def kezek(db_url: str) -> AsyncIterator[Kezek]:
    async with offers_app(db_url) as k:
        yield k


def staff_token(kg: str) -> str:
    return Kezek.staff(kg, "akimat-sko" if kg.startswith("PET") else "akimat-karaganda")


def codes(payload: Any) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def mutate(kezek: Kezek, document: str, input_: dict[str, Any], token: str) -> Any:
    """The payload of a mutation (the only field of its data)."""
    result = await kezek.gql(document, {"input": input_}, token)
    return next(iter(result.values()))


async def queue(kezek: Kezek, parent: str, child: str, kgs: list[str], **extra: Any) -> Any:
    """Submits an application; returns it."""
    payload = await kezek.submit(parent, child, kgs, **extra)
    assert payload["errors"] == [], payload
    return payload["application"]


async def app(kezek: Kezek, app_id: str, token: str = OPERATOR) -> Any:
    result = (await kezek.gql(APP, {"id": app_id}, token))["application"]
    assert result is not None
    return result


async def offer_of(kezek: Kezek, app_id: str, token: str = OPERATOR) -> Any:
    """The application's live offer, which must exist."""
    offer = (await app(kezek, app_id, token))["offer"]
    assert offer is not None, f"application {app_id} holds no live offer"
    return offer


async def offer_status(kezek: Kezek, offer_id: str) -> str:
    rows = await kezek.sql("SELECT status FROM offers WHERE id = $1", int(offer_id))
    return str(rows[0]["status"])


async def group(kezek: Kezek, kg: str, year: int = 2023, lang: str = "RU") -> Any:
    groups = (await kezek.gql(GROUPS, {"id": await kezek.kg(kg)}))["kindergarten"]["groups"]
    return next(g for g in groups if g["externalId"] == f"G-{year}-{lang}")


async def set_capacity(
    kezek: Kezek, kg: str, capacity: int, year: int = 2023, lang: str = "RU", token: str | None = None
) -> Any:
    """The kindergarten's staff sets a group's capacity; returns the group after the change."""
    g = await group(kezek, kg, year, lang)
    payload = await mutate(
        kezek, SET_CAPACITY, {"groupId": g["id"], "capacity": capacity, "reason": "test"}, token or staff_token(kg)
    )
    assert payload["errors"] == [], payload
    return payload["group"]


async def confirm(kezek: Kezek, parent: str, offer_id: str) -> Any:
    payload = await mutate(kezek, CONFIRM, {"offerId": offer_id}, Kezek.citizen(parent))
    assert payload["errors"] == [], payload
    return payload["offer"]


async def sign(kezek: Kezek, parent: str, contract: Any) -> Any:
    """The parent signs the contract with the sandbox e-signature; returns the payload."""
    signature = sandbox_signature(parent, contract["documentHash"])
    return await mutate(kezek, SIGN, {"contractId": contract["id"], "signature": signature}, Kezek.citizen(parent))


async def enrol(kezek: Kezek, parent: str, app_id: str) -> Any:
    """Confirms the application's live offer and signs its contract; returns the signed offer."""
    offer = await confirm(kezek, parent, (await offer_of(kezek, app_id))["id"])
    payload = await sign(kezek, parent, offer["contract"])
    assert payload["errors"] == [], payload
    assert payload["offer"]["status"] == "ENROLLED"
    return payload["offer"]


def moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def working_days_end(start: str, n: int) -> dt.datetime:
    """23:59:59 Asia/Almaty on the n-th working day after the day `start` falls on."""
    day = moment(start).astimezone(ALMATY).date()
    while n:
        day += dt.timedelta(days=1)
        if CALENDAR.is_working_day(day):
            n -= 1
    return dt.datetime.combine(day, dt.time(23, 59, 59), ALMATY)


def today(kezek: Kezek) -> dt.date:
    return kezek.clock.now().astimezone(ALMATY).date()


def pass_deadline(kezek: Kezek, deadline: str) -> None:
    """Moves the app's clock a minute past a deadline."""
    kezek.clock.advance(moment(deadline) - kezek.clock.now() + dt.timedelta(minutes=1))


async def outbox(kezek: Kezek, app_id: str, kind: MessageKind) -> list[Any]:
    return await kezek.sql(
        "SELECT recipient, text, language FROM outbox WHERE application_id = $1 AND kind = $2 ORDER BY id",
        int(app_id),
        kind.value,
    )


_serial = itertools.count(7000)


async def add_family(kezek: Kezek, district: str, births: list[dt.date]) -> data.Family:
    """A one-parent family added to the sandbox registries of this test's database."""
    parent = iin.make(dt.date(1991, 6, 6), False, next(_serial) * 7)
    children = [iin.make(b, True, next(_serial) * 7) for b in births]
    phone = f"+7020{next(_serial):07d}"
    await kezek.sql(
        """INSERT INTO sandbox_persons (iin, full_name, birth_date, sex, alive, district_code, phone)
        VALUES ($1, $2, $3, 'F', true, $4, $5)""",
        parent,
        f"Родитель {parent[-4:]}",
        dt.date(1991, 6, 6),
        district,
        phone,
    )
    for child, born in zip(children, births, strict=True):
        await kezek.sql(
            """INSERT INTO sandbox_persons (iin, full_name, birth_date, sex, alive, district_code, phone)
            VALUES ($1, $2, $3, 'M', true, $4, NULL)""",
            child,
            f"Ребёнок {child[-4:]}",
            born,
            district,
        )
        await kezek.sql("INSERT INTO sandbox_families VALUES ($1, $2)", child, parent)
    return data.Family([parent], children, district, {parent: phone})


async def full_name(kezek: Kezek, person: str) -> str:
    return str((await kezek.sql("SELECT full_name FROM sandbox_persons WHERE iin = $1", person))[0]["full_name"])


def choices(application: Any) -> list[tuple[int, str, int | None]]:
    return [(c["rank"], c["kindergarten"]["externalId"], c["position"]) for c in application["choices"]]


OTHER_PARENT, OTHER_CHILD = data.OTHER.parents[0], data.OTHER.children[0]
PLAIN_PARENT, PLAIN_2022, PLAIN_2023 = data.PLAIN.parents[0], data.PLAIN.children[0], data.PLAIN.children[1]


# --- the offer -----------------------------------------------------------------------------------


async def test_an_offer_names_its_seat_and_deadline_and_is_texted_in_the_parents_language(kezek: Kezek) -> None:
    submitted = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2"], notificationLanguage="KK")
    assert submitted["status"] == "QUEUED"

    g = await set_capacity(kezek, "SHA-1", 1)
    assert (g["capacity"], g["enrolled"], g["held"], g["freeSeats"]) == (1, 0, 1, 0)

    a = await app(kezek, submitted["id"])
    assert a["status"] == "OFFERED"
    offer = a["offer"]
    assert offer["status"] == "PENDING"
    assert offer["tier"] == "GENERAL" and offer["upgrade"] is False and offer["siblingGroupId"] is None
    assert offer["kindergarten"]["externalId"] == "SHA-1"
    assert offer["group"]["externalId"] == "G-2023-RU"
    assert offer["contract"] is None
    # Default response window: 2 working days, ending 23:59:59 in Almaty.
    deadline = working_days_end(offer["createdAt"], 2)
    assert moment(offer["respondBy"]) == deadline
    assert deadline.date() > moment(offer["createdAt"]).astimezone(ALMATY).date() + dt.timedelta(days=1)
    # Holding an offer there, the child stands in no queue at SHA-1; SHA-2 is unchanged.
    assert choices(a) == [(1, "SHA-1", None), (2, "SHA-2", 1)]

    [sms] = await outbox(kezek, a["id"], MessageKind.OFFER_MADE)
    assert sms["language"] == "KK"
    assert sms["recipient"] == data.OTHER.phones[OTHER_PARENT]
    expected = render(
        MessageKind.OFFER_MADE,
        Language.KK,
        MessageParams(a["number"], kindergarten_name=offer["kindergarten"]["nameKk"], deadline=deadline),
    )
    assert sms["text"] == expected
    assert deadline.strftime("%d.%m.%Y 23:59") in sms["text"] and a["number"] in sms["text"]


async def test_a_submission_is_offered_a_free_seat_at_once(kezek: Kezek) -> None:
    await set_capacity(kezek, "SHA-2", 2)
    submitted = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2"])
    a = await app(kezek, submitted["id"])
    assert a["status"] == "OFFERED"
    assert a["offer"]["kindergarten"]["externalId"] == "SHA-2"
    assert (a["offer"]["group"]["held"], a["offer"]["group"]["freeSeats"]) == (1, 1)
    # Still waiting for the kindergarten it ranked higher.
    assert choices(a) == [(1, "SHA-1", 1), (2, "SHA-2", None)]


# --- confirming, signing, extending ----------------------------------------------------------------


async def test_confirming_issues_a_contract_in_the_parents_language(kezek: Kezek) -> None:
    submitted = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"], notificationLanguage="KK")
    await set_capacity(kezek, "SHA-1", 1)
    offer = await offer_of(kezek, submitted["id"])

    confirmed = await confirm(kezek, OTHER_PARENT, offer["id"])
    assert confirmed["status"] == "CONFIRMED"
    contract = confirmed["contract"]
    assert contract["language"] == "KK"
    text = contract["text"]
    assert "ШАРТ" in text
    assert await full_name(kezek, OTHER_CHILD) in text
    assert offer["kindergarten"]["nameKk"] in text and "G-2023-RU" in text
    assert contract["documentHash"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    # Health documents come from the health registry; what it lacks is listed, not invented.
    assert contract["healthDocuments"] == [
        {"kind": "VACCINATION_CARD", "documentId": f"VAC-{OTHER_CHILD[-6:]}", "issuedOn": "2025-01-10"}
    ]
    assert contract["missingDocuments"] == ["MEDICAL_RECORD"]
    assert contract["signedAt"] is None and contract["extended"] is False
    # Default contract window: 5 working days; the offer's deadline is now the signature's.
    assert moment(contract["signBy"]) == working_days_end(contract["issuedAt"], 5)
    assert moment(confirmed["respondBy"]) == moment(contract["signBy"])

    a = await app(kezek, submitted["id"])
    assert a["status"] == "ENROLLING"
    assert a["offer"]["status"] == "CONFIRMED" and a["offer"]["group"]["held"] == 1
    [sms] = await outbox(kezek, a["id"], MessageKind.CONTRACT_READY)
    assert sms["language"] == "KK" and a["number"] in sms["text"]

    again = await mutate(kezek, CONFIRM, {"offerId": offer["id"]}, Kezek.citizen(OTHER_PARENT))
    assert codes(again) == ["INVALID_STATE"]


async def test_signing_enrols_the_child_and_drops_choices_ranked_below(kezek: Kezek) -> None:
    await kezek.sql("INSERT INTO sandbox_health VALUES ($1, 'MEDICAL_RECORD', 'MED-1', '2025-03-03')", PLAIN_2023)
    submitted = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1", "SHA-2", "SHA-3"])
    await set_capacity(kezek, "SHA-2", 1)
    offer = await offer_of(kezek, submitted["id"])
    assert offer["kindergarten"]["externalId"] == "SHA-2"

    contract = (await confirm(kezek, PLAIN_PARENT, offer["id"]))["contract"]
    assert contract["language"] == "RU"
    assert "ДОГОВОР" in contract["text"] and "Детский сад Айгөлек" in contract["text"]
    assert await full_name(kezek, PLAIN_2023) in contract["text"]
    assert {d["kind"] for d in contract["healthDocuments"]} == {"VACCINATION_CARD", "MEDICAL_RECORD"}
    assert contract["missingDocuments"] == []

    # A signature by anyone but the caller, or garbage, is refused and changes nothing.
    other_parent = data.PLAIN.parents[1]
    for signature in (sandbox_signature(other_parent, contract["documentHash"]), "not-a-signature"):
        refused = await mutate(
            kezek,
            SIGN,
            {"contractId": contract["id"], "signature": signature},
            Kezek.citizen(PLAIN_PARENT),
        )
        assert codes(refused) == ["INVALID_SIGNATURE"]
    a = await app(kezek, submitted["id"])
    assert a["status"] == "ENROLLING" and a["offer"]["status"] == "CONFIRMED"
    assert a["offer"]["contract"]["signedAt"] is None
    assert (await kezek.gql(CHILD, {"iin": PLAIN_2023}, OPERATOR))["child"]["enrollment"] is None

    # Either parent may sign, with their own signature.
    signed = await sign(kezek, other_parent, contract)
    assert signed["errors"] == []
    assert signed["offer"]["status"] == "ENROLLED"
    assert signed["offer"]["contract"]["signedAt"] is not None
    assert signed["enrollment"] == {
        "kindergarten": {"externalId": "SHA-2"},
        "group": {"externalId": "G-2023-RU"},
        "since": today(kezek).isoformat(),
    }
    child = (await kezek.gql(CHILD, {"iin": PLAIN_2023}, Kezek.citizen(PLAIN_PARENT)))["child"]
    assert child["enrollment"]["kindergarten"]["externalId"] == "SHA-2"
    a = await app(kezek, submitted["id"])
    assert a["status"] == "ENROLLED" and a["offer"] is None
    # SHA-3 ranked below the enrolment is dropped; SHA-1 ranked above keeps waiting.
    assert choices(a) == [(1, "SHA-1", 1), (2, "SHA-2", None)]
    g = await group(kezek, "SHA-2")
    assert (g["enrolled"], g["held"], g["freeSeats"]) == (1, 0, 0)

    twice = await sign(kezek, PLAIN_PARENT, contract)
    assert codes(twice) == ["INVALID_STATE"]


async def test_a_contract_is_extended_once_to_30_days_after_issue(kezek: Kezek) -> None:
    submitted = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    offer = await confirm(kezek, OTHER_PARENT, (await offer_of(kezek, submitted["id"]))["id"])
    contract = offer["contract"]
    first_deadline = contract["signBy"]

    extended = await mutate(kezek, EXTEND, {"offerId": offer["id"]}, Kezek.citizen(OTHER_PARENT))
    assert extended["errors"] == []
    after = extended["offer"]["contract"]
    assert after["extended"] is True
    assert moment(after["signBy"]) == moment(contract["issuedAt"]) + dt.timedelta(days=30)
    assert moment(extended["offer"]["respondBy"]) == moment(after["signBy"])
    assert (after["text"], after["documentHash"]) == (contract["text"], contract["documentHash"])

    twice = await mutate(kezek, EXTEND, {"offerId": offer["id"]}, Kezek.citizen(OTHER_PARENT))
    assert codes(twice) == ["INVALID_STATE"]

    # Past the first deadline the extended contract is still live and can be signed.
    pass_deadline(kezek, first_deadline)
    await kezek.worker_pass()
    assert await offer_status(kezek, offer["id"]) == "CONFIRMED"
    signed = await sign(kezek, OTHER_PARENT, after)
    assert signed["errors"] == [] and signed["offer"]["status"] == "ENROLLED"


async def test_an_extension_that_would_not_add_time_is_refused(db_url: str, tmp_path: Path) -> None:
    """The extension runs 30 days from the contract's issue; where the contract window is longer already,
    extending would shorten it and is refused (the deadline stays)."""
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": {"contractWindow": "P40D"}}))
    async with offers_app(db_url, policy) as k:
        submitted = await queue(k, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
        await set_capacity(k, "SHA-1", 1)
        offer = await confirm(k, OTHER_PARENT, (await offer_of(k, submitted["id"]))["id"])
        contract = offer["contract"]
        assert moment(contract["signBy"]) == moment(contract["issuedAt"]) + dt.timedelta(days=40)
        refused = await mutate(k, EXTEND, {"offerId": offer["id"]}, Kezek.citizen(OTHER_PARENT))
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_STATE", "offerId")]
        after = (await offer_of(k, submitted["id"]))["contract"]
        assert (after["signBy"], after["extended"]) == (contract["signBy"], False)


# --- declining -----------------------------------------------------------------------------------


async def test_declining_drops_only_that_choice_and_the_seat_goes_on_at_once(kezek: Kezek) -> None:
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2"])
    second = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    offer = await offer_of(kezek, first["id"])

    declined = await mutate(kezek, DECLINE, {"offerId": offer["id"]}, Kezek.citizen(OTHER_PARENT))
    assert declined["errors"] == [] and declined["offer"]["status"] == "DECLINED"
    a = await app(kezek, first["id"])
    assert a["status"] == "QUEUED" and a["offer"] is None
    assert a["queueDate"] == first["queueDate"]
    assert choices(a) == [(1, "SHA-2", 1)]
    # In the same transaction the seat went to the next child.
    nxt = await offer_of(kezek, second["id"])
    assert nxt["kindergarten"]["externalId"] == "SHA-1" and nxt["status"] == "PENDING"

    # Declining the only choice left closes the application; nobody else waits for the seat.
    last = await mutate(kezek, DECLINE, {"offerId": nxt["id"]}, Kezek.citizen(PLAIN_PARENT))
    assert last["errors"] == []
    assert (await app(kezek, second["id"]))["status"] == "CLOSED"
    g = await group(kezek, "SHA-1")
    assert (g["held"], g["freeSeats"]) == (0, 1)

    again = await mutate(kezek, DECLINE, {"offerId": nxt["id"]}, Kezek.citizen(PLAIN_PARENT))
    assert codes(again) == ["INVALID_STATE"]


async def test_a_decline_is_one_entry_in_the_applications_history(kezek: Kezek) -> None:
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2"])
    await set_capacity(kezek, "SHA-1", 1)
    offer = await offer_of(kezek, first["id"])
    assert (await mutate(kezek, DECLINE, {"offerId": offer["id"]}, Kezek.citizen(OTHER_PARENT)))["errors"] == []
    history = (await kezek.gql(HISTORY, {"id": first["id"]}, OPERATOR))["application"]["history"]
    assert [h["action"] for h in history].count("OFFER_DECLINED") == 1


async def test_declining_under_the_annul_policy_closes_the_application(kezek: Kezek) -> None:
    north_parent, north_child = data.NORTH.parents[0], data.NORTH.children[0]
    neighbours = await add_family(kezek, data.PETROPAVLOVSK, [data.D23])
    first = await queue(kezek, north_parent, north_child, ["PET-1", "PET-2"])
    second = await queue(kezek, neighbours.parents[0], neighbours.children[0], ["PET-1"])
    await set_capacity(kezek, "PET-1", 1)
    offer = await offer_of(kezek, first["id"], SKO_OPERATOR)

    declined = await mutate(kezek, DECLINE, {"offerId": offer["id"]}, Kezek.citizen(north_parent))
    assert declined["errors"] == [] and declined["offer"]["status"] == "DECLINED"
    a = await app(kezek, first["id"], SKO_OPERATOR)
    assert a["status"] == "CLOSED" and a["offer"] is None
    nxt = await offer_of(kezek, second["id"], SKO_OPERATOR)
    assert nxt["kindergarten"]["externalId"] == "PET-1"


# --- lapses and restores -------------------------------------------------------------------------


async def test_a_lapsed_offer_makes_the_application_inactive_and_it_can_be_restored_once(kezek: Kezek) -> None:
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1", "SHA-2"])
    second = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    offer = await offer_of(kezek, first["id"])

    pass_deadline(kezek, offer["respondBy"])
    await kezek.worker_pass()
    assert await offer_status(kezek, offer["id"]) == "LAPSED"
    a = await app(kezek, first["id"])
    assert a["status"] == "INACTIVE" and a["offer"] is None
    assert [c["position"] for c in a["choices"]] == [None, None]  # out of every queue
    assert (await offer_of(kezek, second["id"]))["kindergarten"]["externalId"] == "SHA-1"
    assert len(await outbox(kezek, first["id"], MessageKind.APPLICATION_INACTIVE)) == 1
    await enrol(kezek, PLAIN_PARENT, second["id"])

    # Restored within the window (28 days), with the original queue date.
    kezek.clock.advance(dt.timedelta(days=27))
    # Only the family may restore it: to anyone else it does not exist.
    hidden = await mutate(kezek, RESTORE, {"applicationId": first["id"]}, Kezek.citizen(PLAIN_PARENT))
    missing = await mutate(kezek, RESTORE, {"applicationId": "987654"}, Kezek.citizen(PLAIN_PARENT))
    assert codes(hidden) == ["NOT_FOUND"] and hidden == missing
    restored = await mutate(kezek, RESTORE, {"applicationId": first["id"]}, Kezek.citizen(OTHER_PARENT))
    assert restored["errors"] == []
    assert restored["application"]["status"] == "QUEUED"
    assert restored["application"]["queueDate"] == first["queueDate"]
    assert choices(restored["application"])[1] == (2, "SHA-2", 1)

    # A second lapse cannot be restored: the application closes.
    await set_capacity(kezek, "SHA-2", 1)
    offer2 = await offer_of(kezek, first["id"])
    assert offer2["kindergarten"]["externalId"] == "SHA-2"
    pass_deadline(kezek, offer2["respondBy"])
    await kezek.worker_pass()
    assert await offer_status(kezek, offer2["id"]) == "LAPSED"
    refused = await mutate(kezek, RESTORE, {"applicationId": first["id"]}, Kezek.citizen(OTHER_PARENT))
    assert codes(refused) == ["INVALID_STATE"]
    await kezek.worker_pass()
    assert (await app(kezek, first["id"]))["status"] == "CLOSED"


async def test_a_restored_application_that_lapses_again_cannot_be_restored(kezek: Kezek) -> None:
    """Guards the restore-once rule of restoreApplication itself (PRODUCT §4: restored once, within the window).

    The full worker pass closes a restored application in the same pass that lapses its second offer
    (close_unrestored), so the refusal above is then only "the application is CLOSED". Here only the lapse
    pass runs: the application is INACTIVE, within its window, and restoring it again is still refused."""
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    offer = await offer_of(kezek, first["id"])
    pass_deadline(kezek, offer["respondBy"])
    assert await kezek.container.queue.lapse_offers() == 1
    assert (await app(kezek, first["id"]))["status"] == "INACTIVE"

    restored = await mutate(kezek, RESTORE, {"applicationId": first["id"]}, Kezek.citizen(OTHER_PARENT))
    assert restored["errors"] == []
    # The seat it let lapse is still free: restored, the application is offered it again at once.
    assert restored["application"]["status"] == "OFFERED"
    second = await offer_of(kezek, first["id"])
    assert second["id"] != offer["id"]

    pass_deadline(kezek, second["respondBy"])
    assert await kezek.container.queue.lapse_offers() == 1
    assert await offer_status(kezek, second["id"]) == "LAPSED"
    assert (await app(kezek, first["id"]))["status"] == "INACTIVE"

    refused = await mutate(kezek, RESTORE, {"applicationId": first["id"]}, Kezek.citizen(OTHER_PARENT))
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_STATE", "applicationId")]
    assert refused["application"] is None
    a = await app(kezek, first["id"])
    assert a["status"] == "INACTIVE" and a["offer"] is None
    assert [c["position"] for c in a["choices"]] == [None]
    # The worker's own pass then closes it, without waiting for the window to end.
    assert await kezek.container.queue.close_unrestored() == 1
    assert (await app(kezek, first["id"]))["status"] == "CLOSED"


async def test_restoring_after_the_window_is_refused_and_the_worker_closes_it(kezek: Kezek) -> None:
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    pass_deadline(kezek, (await offer_of(kezek, first["id"]))["respondBy"])
    await kezek.worker_pass()
    assert (await app(kezek, first["id"]))["status"] == "INACTIVE"
    # An INACTIVE application is not offered the seat it let lapse, nor any other.
    g = await group(kezek, "SHA-1")
    assert (g["held"], g["freeSeats"]) == (0, 1)

    # The restore window is 28 days from the lapse (national default): an hour before it ends the worker
    # leaves the application alone, an hour after it restoring is refused and the worker closes it.
    history = (await kezek.gql(HISTORY_AT, {"id": first["id"]}, OPERATOR))["application"]["history"]
    lapsed_at = moment(next(h["at"] for h in history if h["action"] == "INACTIVE"))
    kezek.clock.advance(lapsed_at + dt.timedelta(days=28, hours=-1) - kezek.clock.now())
    assert (await kezek.worker_pass())["unrestored_closed"] == 0
    assert (await app(kezek, first["id"]))["status"] == "INACTIVE"
    kezek.clock.advance(dt.timedelta(hours=2))
    refused = await mutate(kezek, RESTORE, {"applicationId": first["id"]}, Kezek.citizen(OTHER_PARENT))
    assert codes(refused) == ["DEADLINE_PASSED"]
    assert (await app(kezek, first["id"]))["status"] == "INACTIVE"
    assert (await kezek.worker_pass())["unrestored_closed"] == 1
    assert (await app(kezek, first["id"]))["status"] == "CLOSED"


async def test_an_unsigned_contract_lapses_like_an_unanswered_offer(kezek: Kezek) -> None:
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    second = await queue(kezek, PLAIN_PARENT, PLAIN_2023, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    offer = await confirm(kezek, OTHER_PARENT, (await offer_of(kezek, first["id"]))["id"])

    # The answer's deadline passing means nothing once confirmed; the signature's does.
    pass_deadline(kezek, working_days_end(offer["createdAt"], 2).isoformat())
    await kezek.worker_pass()
    assert await offer_status(kezek, offer["id"]) == "CONFIRMED"

    pass_deadline(kezek, offer["contract"]["signBy"])
    await kezek.worker_pass()
    assert await offer_status(kezek, offer["id"]) == "LAPSED"
    assert (await app(kezek, first["id"]))["status"] == "INACTIVE"
    assert (await offer_of(kezek, second["id"]))["kindergarten"]["externalId"] == "SHA-1"
    late = await sign(kezek, OTHER_PARENT, offer["contract"])
    assert codes(late) == ["INVALID_STATE"]


async def test_answering_after_the_deadline_is_refused(kezek: Kezek) -> None:
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    offer = await offer_of(kezek, first["id"])
    pass_deadline(kezek, offer["respondBy"])  # no worker pass yet: the offer is still PENDING

    late = await mutate(kezek, CONFIRM, {"offerId": offer["id"]}, Kezek.citizen(OTHER_PARENT))
    assert codes(late) == ["DEADLINE_PASSED"]
    assert await offer_status(kezek, offer["id"]) == "PENDING"
    assert (await app(kezek, first["id"]))["status"] == "OFFERED"


# --- who may act and see -------------------------------------------------------------------------


async def test_another_parent_is_told_not_found_exactly_as_for_a_missing_offer(kezek: Kezek) -> None:
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    offer = await offer_of(kezek, first["id"])
    stranger = Kezek.citizen(PLAIN_PARENT)

    for document in (CONFIRM, DECLINE, EXTEND):
        hidden = await mutate(kezek, document, {"offerId": offer["id"]}, stranger)
        missing = await mutate(kezek, document, {"offerId": "987654"}, stranger)
        assert codes(hidden) == ["NOT_FOUND"]
        assert hidden == missing
    assert await offer_status(kezek, offer["id"]) == "PENDING"

    contract = (await confirm(kezek, OTHER_PARENT, offer["id"]))["contract"]
    hidden = await mutate(
        kezek,
        SIGN,
        {"contractId": contract["id"], "signature": sandbox_signature(PLAIN_PARENT, contract["documentHash"])},
        stranger,
    )
    missing = await mutate(
        kezek,
        SIGN,
        {"contractId": "987654", "signature": sandbox_signature(PLAIN_PARENT, contract["documentHash"])},
        stranger,
    )
    assert codes(hidden) == ["NOT_FOUND"]
    assert hidden == missing
    assert await offer_status(kezek, offer["id"]) == "CONFIRMED"
    # Ids beyond any bigint name nothing either.
    owner = Kezek.citizen(OTHER_PARENT)
    huge = "9" * 20
    assert codes(await mutate(kezek, CONFIRM, {"offerId": huge}, owner)) == ["NOT_FOUND"]
    assert codes(await mutate(kezek, SIGN, {"contractId": huge, "signature": "x"}, owner)) == ["NOT_FOUND"]


async def test_staff_of_the_offered_kindergarten_can_read_the_child(kezek: Kezek) -> None:
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    body = await kezek.post(CHILD, {"iin": OTHER_CHILD}, staff_token("SHA-1"))
    assert body["data"]["child"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    await set_capacity(kezek, "SHA-1", 1)
    child = (await kezek.gql(CHILD, {"iin": OTHER_CHILD}, staff_token("SHA-1")))["child"]
    assert child["iin"] == OTHER_CHILD and child["fullName"] == await full_name(kezek, OTHER_CHILD)
    other_staff = await kezek.post(CHILD, {"iin": OTHER_CHILD}, staff_token("SHA-2"))
    assert other_staff["data"]["child"] is None
    assert other_staff["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    # Enrolled there, the child stays visible to its staff.
    await enrol(kezek, OTHER_PARENT, first["id"])
    child = (await kezek.gql(CHILD, {"iin": OTHER_CHILD}, staff_token("SHA-1")))["child"]
    assert child["enrollment"]["kindergarten"]["externalId"] == "SHA-1"


async def test_every_step_of_an_offer_is_audited(kezek: Kezek) -> None:
    first = await queue(kezek, OTHER_PARENT, OTHER_CHILD, ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    offer_id = (await offer_of(kezek, first["id"]))["id"]
    await enrol(kezek, OTHER_PARENT, first["id"])

    rows = await kezek.sql(
        """SELECT action, actor_role, actor_subject, entity_id, before, after FROM audit_log
        WHERE entity_type = 'offer' AND application_id = $1 ORDER BY id""",
        int(first["id"]),
    )
    assert [r["action"] for r in rows] == ["OFFER_MADE", "OFFER_CONFIRMED", "ENROLLED"]
    assert {r["entity_id"] for r in rows} == {offer_id}
    made, confirmed, enrolled = rows
    assert json.loads(made["after"])["status"] == "PENDING"
    assert json.loads(confirmed["before"])["status"] == "PENDING"
    assert json.loads(confirmed["after"])["status"] == "CONFIRMED"
    assert confirmed["actor_role"] == "citizen" and confirmed["actor_subject"] == OTHER_PARENT
    assert json.loads(enrolled["after"])["status"] == "ENROLLED" and enrolled["actor_subject"] == OTHER_PARENT
    contract_rows = await kezek.sql(
        "SELECT action FROM audit_log WHERE entity_type = 'contract' AND application_id = $1", int(first["id"])
    )
    assert [r["action"] for r in contract_rows] == ["CONTRACT_ISSUED"]
    capacity_rows = await kezek.sql("SELECT action FROM audit_log WHERE entity_type = 'group'")
    assert [r["action"] for r in capacity_rows] == ["CAPACITY_CHANGED"]

    history = (await kezek.gql(HISTORY, {"id": first["id"]}, Kezek.citizen(OTHER_PARENT)))["application"]["history"]
    actions = [h["action"] for h in history]
    assert {"OFFER_MADE", "OFFER_CONFIRMED", "ENROLLED"} <= set(actions)
    assert actions.index("ENROLLED") < actions.index("OFFER_CONFIRMED") < actions.index("OFFER_MADE")
