"""Unit tests of the stage-2 rules (allocation, windows, policy) and the reminder and contract-lapse
messages through the worker."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from api.config_files import load_policy, parse_window
from domain.allocation import Candidate, choose, eligible, turn
from domain.model import PriorityTier
from domain.offers import remind_at
from domain.policy import DeclineEffect, Policy, Window
from domain.timezone import ALMATY
from integrations.calendar import KazakhstanCalendar
from tests import data
from tests.conftest import Kezek
from tests.test_offers import CONFIRM, mutate, offer_of, offers_app, queue, set_capacity

TODAY = dt.date(2026, 11, 26)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def cand(app_id: int, tier: PriorityTier = PriorityTier.GENERAL, **kw: object) -> Candidate:
    values: dict[str, object] = {
        "application_id": app_id,
        "child_iin": f"c{app_id}",
        "tier": tier,
        "sibling_priority": False,
        "queue_date": T0 + dt.timedelta(days=app_id),
        "birth_date": dt.date(2023, 1, 1),
        "desired_start_date": dt.date(2026, 9, 1),
        "rank_here": 1,
        "holding_rank": None,
    }
    values.update(kw)
    return Candidate(**values)  # type: ignore[arg-type]


def test_first_eligible_in_queue_order_wins() -> None:
    pool = [cand(3), cand(1), cand(2, PriorityTier.PRIMARY)]
    assert choose(pool, TODAY, 24) == pool[2]
    assert choose([cand(1), cand(2, sibling_priority=True)], TODAY, 24).application_id == 2  # type: ignore[union-attr]


def test_eligibility() -> None:
    assert eligible(cand(1), TODAY, 24)
    assert not eligible(cand(1, desired_start_date=TODAY + dt.timedelta(days=1)), TODAY, 24)
    assert not eligible(cand(1, birth_date=dt.date(2025, 2, 1)), TODAY, 24)  # 21 months old
    assert eligible(cand(1, birth_date=dt.date(2024, 11, 26)), TODAY, 24)  # exactly 24 months
    assert not eligible(cand(1, rank_here=2, holding_rank=1), TODAY, 24)  # holds something better
    assert eligible(cand(1, rank_here=1, holding_rank=3), TODAY, 24)  # an upgrade
    assert choose([cand(1, desired_start_date=TODAY + dt.timedelta(days=3))], TODAY, 24) is None


def test_primary_ratio_turns_and_yielding() -> None:
    assert turn(None, 0, 0) is None
    assert [turn((1, 3), p, g) for p, g in [(0, 0), (1, 0), (1, 1), (1, 2), (1, 3)]] == [
        PriorityTier.PRIMARY,
        PriorityTier.GENERAL,
        PriorityTier.GENERAL,
        PriorityTier.GENERAL,
        PriorityTier.PRIMARY,
    ]
    general, primary, extra = cand(1), cand(5, PriorityTier.PRIMARY), cand(9, PriorityTier.EXTRAORDINARY)
    # GENERAL's turn, but EXTRAORDINARY always comes first.
    assert choose([general, primary, extra], TODAY, 24, (1, 3), 1, 0) == extra
    assert choose([general, primary], TODAY, 24, (1, 3), 1, 0) == general
    assert choose([general, primary], TODAY, 24, (1, 3), 0, 0) == primary
    # A tier with no candidate yields its turn.
    assert choose([general], TODAY, 24, (1, 3), 0, 0) == general


def test_windows_and_policy_file(tmp_path: pytest.TempPathFactory) -> None:
    calendar = KazakhstanCalendar()
    friday = dt.datetime(2026, 11, 27, 10, 0, tzinfo=ALMATY)
    end = Window(working_days=2).end(friday, calendar)
    assert end.astimezone(ALMATY) == dt.datetime(2026, 12, 1, 23, 59, 59, tzinfo=ALMATY)
    assert parse_window("PT30S").end(T0, calendar) == T0 + dt.timedelta(seconds=30)
    assert parse_window("P28D").duration == dt.timedelta(days=28)
    assert parse_window("3WD").working_days == 3
    for bad in ("P", "PT", "30S", "2 WD", "P0D"):
        with pytest.raises(ValueError):
            parse_window(bad)
    path = tmp_path / "policy.json"  # type: ignore[operator]
    path.write_text('{"default": {"responseWindow": "PT45S"}, "regions": {"590000000": {"declineEffect": "ANNUL"}}}')
    book = load_policy(path)
    assert book.for_region("590000000").decline_effect == DeclineEffect.ANNUL
    assert book.for_region("590000000").response_window.duration == dt.timedelta(seconds=45)  # inherits default
    assert book.for_region("350000000").decline_effect == DeclineEffect.DROP_CHOICE
    assert book.for_region(None).min_admission_age_months == 24


def test_national_defaults_apply_where_the_policy_file_is_silent(tmp_path: pytest.TempPathFactory) -> None:
    """PRODUCT §6's national defaults, as the app reads them from a policy file that overrides nothing."""
    path = tmp_path / "policy.json"  # type: ignore[operator]
    path.write_text('{"default": {}}')
    assert load_policy(path).for_region("350000000") == Policy(
        response_window=Window(working_days=2),
        contract_window=Window(working_days=5),
        extension=Window(duration=dt.timedelta(days=30)),
        restore_window=Window(duration=dt.timedelta(days=28)),
        manual_verification_window=Window(working_days=5),
        decline_effect=DeclineEffect.DROP_CHOICE,
        min_admission_age_months=24,
        primary_ratio=None,
    )


def test_reminder_time() -> None:
    start = T0
    assert remind_at(start, start + dt.timedelta(days=4)) == start + dt.timedelta(days=3)
    assert remind_at(start, start + dt.timedelta(hours=10)) == start + dt.timedelta(hours=5)


@pytest.fixture
async def kezek(db_url: str) -> AsyncIterator[Kezek]:
    async with offers_app(db_url) as k:
        yield k


async def _outbox_kinds(kezek: Kezek, app_id: str) -> list[str]:
    rows = await kezek.sql("SELECT kind FROM outbox WHERE application_id = $1 ORDER BY id", int(app_id))
    return [r["kind"] for r in rows]


async def test_reminder_once_before_the_deadline_and_contract_lapse_message(kezek: Kezek) -> None:
    family = data.OTHER
    application = await queue(kezek, family.parents[0], family.children[0], ["SHA-1"])
    await set_capacity(kezek, "SHA-1", 1)
    offer = await offer_of(kezek, application["id"])
    respond_by = dt.datetime.fromisoformat(offer["respondBy"])
    # An hour before the reminder time nothing is sent; past it, once.
    kezek.clock.advance(respond_by - dt.timedelta(hours=25) - kezek.clock.now())
    assert (await kezek.worker_pass())["reminders"] == 0
    kezek.clock.advance(dt.timedelta(hours=2))
    assert (await kezek.worker_pass())["reminders"] == 1
    assert (await kezek.worker_pass())["reminders"] == 0
    assert (await _outbox_kinds(kezek, application["id"]))[-1] == "OFFER_REMINDER"
    events = await kezek.sql("SELECT kind FROM events WHERE stream = 'offer' ORDER BY id")
    assert [e["kind"] for e in events] == ["OFFERED", "REMINDER"]
    # Confirmed, then the contract is left unsigned past signBy: it lapses with its own message.
    confirmed = await mutate(kezek, CONFIRM, {"offerId": offer["id"]}, kezek.citizen(family.parents[0]))
    assert confirmed["errors"] == []
    sign_by = dt.datetime.fromisoformat(confirmed["offer"]["contract"]["signBy"])
    kezek.clock.advance(sign_by - kezek.clock.now() + dt.timedelta(seconds=1))
    done = await kezek.worker_pass()
    assert done["offers_lapsed"] == 1
    assert "CONTRACT_LAPSED" in await _outbox_kinds(kezek, application["id"])
    vacancy = await kezek.sql("SELECT kind FROM events WHERE stream = 'vacancy' ORDER BY id")
    assert "CONTRACT_LAPSED" in [e["kind"] for e in vacancy]
