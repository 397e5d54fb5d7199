"""The simulated year's stream of events (bench/year.py): what families and kindergartens do over twelve months,
drawn once from a seed and the data set's state on the first day, then played through two worlds — Kezek's
real service and the status quo's model (bench/status_quo.py) — so that any difference between them comes from
the rule that hands out seats, never from the events.

- Arrivals: children of the data set who have no application yet apply through the year (a third of the
  region's queue a year, as the data set's queue dates are spread over three years), choosing one to four
  kindergartens of one district, the popular ones more often (weights: today's choices there).
- Withdrawals: some waiting families give up (move away) at a random moment; a withdrawal applies only to a
  child who holds nothing then, in either world.
- Departures: some children enrolled on the first day leave during the year (the cohort that starts school
  leaves on 31 August by itself in both worlds).
- Answers: a family's answer to an offer depends only on the child and the kindergarten (and how many offers
  it had there before): it confirms, declines, or stays silent until the offer lapses, after a delay. It is a
  function of the seed alone, so that a family answers alike in every year drawn with that seed.

A year after the data set's first is drawn from the database as the year before left it (`draw` again, with the
same seed), and its coming school year is planned by `plan` as the data set planned its first (bench/dataset.py
`_next_year`): the akimat's capacities from 1 September and the groups it opens then.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from bench.dataset import LANGUAGES, NEW_GROUP_SHARE
from domain import age, school_year
from domain.timezone import at_local, local_date
from persistence.db import raw_connect

CONFIRM_SHARE = 0.72  # of offers: the family confirms (realistic shares: docs/decisions.md)
DECLINE_SHARE = 0.12  # declines; the rest (16%) stay silent and the offer lapses
WITHDRAW_SHARE = 0.04  # of waiting families over the year
LEAVE_SHARE = 0.10  # of children enrolled on the first day, leaving during the year (not the cohort): decision 107
KK_SHARE = 0.6

Answer = Literal["confirm", "decline", "silent"]


@dataclass(frozen=True, slots=True)
class Arrival:
    at: dt.datetime
    child_iin: str
    parent_iin: str
    kindergartens: tuple[int, ...]
    language: str


@dataclass(frozen=True, slots=True)
class Withdrawal:
    at: dt.datetime
    child_iin: str


@dataclass(frozen=True, slots=True)
class Departure:
    at: dt.datetime
    child_iin: str


Event = Arrival | Withdrawal | Departure


@dataclass(frozen=True, slots=True)
class Stream:
    region_code: str
    start: dt.date
    days: int
    events: tuple[Event, ...]  # in time order
    parents: dict[str, str]  # child → the parent who acts for it
    seed: int
    by_day: dict[dt.date, list[Event]]  # the events of each Almaty day

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days)

    def on(self, day: dt.date) -> list[Event]:
        return self.by_day.get(day, [])

    def answer(self, child_iin: str, kindergarten_id: int, nth: int) -> tuple[Answer, int]:
        """The family's answer to its nth offer at this kindergarten, and after how many days (0 or 1: the
        response window is two working days)."""
        r = _uniform(self.seed, "answer", child_iin, kindergarten_id, nth)
        delay = int(_uniform(self.seed, "delay", child_iin, kindergarten_id, nth) * 2)
        if r < CONFIRM_SHARE:
            return "confirm", delay
        if r < CONFIRM_SHARE + DECLINE_SHARE:
            return "decline", delay
        return "silent", 0

    def answers_at(self, offered_at: dt.datetime, child_iin: str, kindergarten_id: int, delay: int) -> dt.datetime:
        """When the family answers: from noon of the day `delay` days after the offer (at least half an hour after
        it), at a moment of its own, so that no two families act at the same instant."""
        noon = at_local(local_date(offered_at) + dt.timedelta(days=delay), dt.time(12))
        return max(noon, offered_at + dt.timedelta(minutes=30)) + self._jitter("answer-at", child_iin, kindergarten_id)

    def signs_at(self, confirmed_at: dt.datetime, child_iin: str, kindergarten_id: int) -> dt.datetime:
        """When the confirmed contract is signed: 0–2 days later from 16:00 (the contract window is five working
        days), at least an hour after confirming."""
        days = int(_uniform(self.seed, "sign", child_iin, kindergarten_id, 0) * 3)
        four = at_local(local_date(confirmed_at) + dt.timedelta(days=days), dt.time(16))
        return max(four, confirmed_at + dt.timedelta(hours=1)) + self._jitter("sign-at", child_iin, kindergarten_id)

    def _jitter(self, *parts: object) -> dt.timedelta:
        return dt.timedelta(seconds=_uniform(self.seed, *parts) * 1800)


def _uniform(seed: int, *parts: object) -> float:
    digest = hashlib.blake2b("|".join(map(str, (seed, *parts))).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _moment(rng: random.Random, start: dt.date, days: int) -> dt.datetime:
    """A moment in office hours (09:00–17:00 Almaty) of a day of the year."""
    day = start + dt.timedelta(days=rng.randrange(days))
    return at_local(day, dt.time(9)) + dt.timedelta(seconds=rng.randrange(8 * 3600))


async def draw(url: str, region_code: str, start: dt.date, days: int, seed: int) -> Stream:
    """The year's events for the region, from the database as it is on the first day (events of another first
    day are drawn apart, the answers alike)."""
    rng = random.Random(f"{seed}:{start.isoformat()}")
    conn = await raw_connect(url)
    try:
        kindergartens = await conn.fetch(
            """SELECT k.id, k.district_code, (SELECT count(*) FROM choices c WHERE c.kindergarten_id = k.id) AS n
            FROM kindergartens k JOIN districts d ON d.code = k.district_code WHERE d.region_code = $1
            ORDER BY k.id""",
            region_code,
        )
        waiting = await conn.fetch(
            """SELECT DISTINCT a.child_iin FROM applications a JOIN choices c ON c.application_id = a.id
            JOIN kindergartens k ON k.id = c.kindergarten_id JOIN districts d ON d.code = k.district_code
            WHERE d.region_code = $1 AND a.active ORDER BY a.child_iin""",
            region_code,
        )
        enrolled = await conn.fetch(
            """SELECT e.child_iin FROM enrollments e JOIN kindergartens k ON k.id = e.kindergarten_id
            JOIN districts d ON d.code = k.district_code JOIN persons p ON p.iin = e.child_iin
            WHERE d.region_code = $1 AND e.ended_at IS NULL AND extract(year FROM p.birth_date) > $2
            ORDER BY e.child_iin""",
            region_code,
            start.year - 5,  # the cohort turning 6 next year leaves on 31 August by itself
        )
        arrivals_wanted = len(waiting) // 3
        # Children young enough to wait a year or more, with no application and no seat anywhere yet.
        newcomers = await conn.fetch(
            """SELECT p.iin, min(r.representative_iin) AS parent FROM persons p
            JOIN representations r ON r.child_iin = p.iin
            WHERE p.birth_date >= $1 AND p.birth_date < $2
              AND NOT EXISTS (SELECT 1 FROM applications a WHERE a.child_iin = p.iin)
              AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.child_iin = p.iin)
            GROUP BY p.iin ORDER BY md5(p.iin || $3::text) LIMIT $4""",
            dt.date(start.year - 2, 1, 1),
            start - dt.timedelta(days=180),
            str(seed),
            arrivals_wanted,
        )
        children = [r[0] for r in waiting] + [r[0] for r in enrolled]
        known = await conn.fetch(
            """SELECT child_iin, min(representative_iin) AS parent FROM representations
            WHERE child_iin = ANY($1::text[]) GROUP BY child_iin""",
            children,
        )
    finally:
        await conn.close()

    parents = {r["child_iin"]: r["parent"] for r in known} | {r["iin"]: r["parent"] for r in newcomers}
    by_district: dict[str, list[tuple[int, int]]] = {}
    for k in kindergartens:
        by_district.setdefault(k["district_code"], []).append((k["id"], int(k["n"]) + 1))
    district_weights = Counter({d: sum(n for _, n in ks) for d, ks in by_district.items()})
    districts = sorted(district_weights)

    events: list[Event] = []
    for r in newcomers:
        district = rng.choices(districts, weights=[district_weights[d] for d in districts])[0]
        pool = list(by_district[district])
        chosen: list[int] = []
        for _ in range(min(len(pool), rng.choice((1, 2, 3, 3, 4, 4)))):
            pick = rng.choices(range(len(pool)), weights=[n for _, n in pool])[0]
            chosen.append(pool.pop(pick)[0])
        language = "KK" if rng.random() < KK_SHARE else "RU"
        events.append(Arrival(_moment(rng, start, days), r["iin"], r["parent"], tuple(chosen), language))
    for child in [r[0] for r in waiting] + [e.child_iin for e in events if isinstance(e, Arrival)]:
        if rng.random() < WITHDRAW_SHARE:
            events.append(Withdrawal(_moment(rng, start, days), child))
    for r in enrolled:
        if rng.random() < LEAVE_SHARE:
            events.append(Departure(_moment(rng, start, days), r[0]))
    # A withdrawal drawn before its child's arrival comes a day after it instead.
    arrived = {e.child_iin: e.at for e in events if isinstance(e, Arrival)}
    events = [
        Withdrawal(max(e.at, arrived[e.child_iin] + dt.timedelta(days=1)), e.child_iin)
        if isinstance(e, Withdrawal) and e.child_iin in arrived
        else e
        for e in events
    ]
    events.sort(key=lambda e: (e.at, e.child_iin))
    by_day: dict[dt.date, list[Event]] = {}
    for e in events:
        by_day.setdefault(local_date(e.at), []).append(e)
    return Stream(region_code, start, days, tuple(events), parents, seed, by_day)


# --- the next school year's plan ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capacity:
    """A group's capacity from a day on (`setGroupCapacity` with `from`)."""

    group_id: int
    capacity: int
    since: dt.date


@dataclass(frozen=True, slots=True)
class Opening:
    """A group opened on a day (`createGroup` with `opensOn`)."""

    kindergarten_id: int
    external_id: str
    birth_year: int
    language: str
    capacity: int
    opens_on: dt.date


PlanStep = Capacity | Opening
YOUNGER, MIDDLE = 0.6, 0.2  # of the leaving cohort's seats: to the group 3 years younger, 2 years younger; rest: 1


async def plan(url: str, region_code: str, year: int, seed: int) -> tuple[PlanStep, ...]:
    """The region's plan for school year `year`, made as the data set made its first (bench/dataset.py
    `_next_year`): the cohort turning 6 leaves on 31 August, its groups close from 1 September (but for the seats
    still held then: a live offer there) and their seats go, by capacities from then, 60% to the kindergarten's
    group three birth years younger, 20% to the one two years younger and the rest to the one a year younger; one
    kindergarten in ten opens a group for the birth year two years before, of 10–20 seats. The groups are the data
    set's ("<birth year>-<language>")."""
    rng = random.Random(f"{seed}:plan:{year}")
    september = school_year.first_day(year)
    leaving_year = year - age.SCHOOL_AGE
    conn = await raw_connect(url)
    try:
        rows = await conn.fetch(
            """SELECT g.id, g.kindergarten_id, g.external_id, g.capacity,
                (SELECT count(*) FROM enrollments e WHERE e.group_id = g.id AND e.ended_at IS NULL
                    AND e.leaves_on < $2) AS leaving,
                -- Seats still held on 1 September: a live offer's has no end until its enrolment gives it one.
                (SELECT count(*) FROM enrollments e WHERE e.group_id = g.id AND e.ended_at IS NULL
                    AND (e.leaves_on IS NULL OR e.leaves_on >= $2))
                + (SELECT count(*) FROM offers o WHERE o.group_id = g.id
                    AND o.status IN ('PENDING', 'CONFIRMED')) AS staying
            FROM groups g JOIN kindergartens k ON k.id = g.kindergarten_id
            JOIN districts d ON d.code = k.district_code
            WHERE d.region_code = $1 AND g.group_type = 'GENERAL' ORDER BY g.kindergarten_id, g.id""",
            region_code,
            september,
        )
    finally:
        await conn.close()
    groups = {(r["kindergarten_id"], r["external_id"]): r for r in rows}
    kindergartens = sorted({r["kindergarten_id"] for r in rows})
    steps: list[PlanStep] = []
    for kg in kindergartens:
        for language in LANGUAGES:
            leaving = groups.get((kg, f"{leaving_year}-{language}"))
            if leaving is None or not leaving["leaving"]:
                continue
            n = int(leaving["leaving"])
            shares = {3: round(n * YOUNGER), 2: round(n * MIDDLE)}
            shares[1] = n - shares[3] - shares[2]
            # Closed, but for the seats held past 31 August (a live offer there, made in the last days before
            # the plan): a lower capacity than those is refused.
            steps.append(Capacity(leaving["id"], int(leaving["staying"]), september))
            for older, seats in sorted(shares.items(), reverse=True):
                g = groups.get((kg, f"{leaving_year + older}-{language}"))
                if g is not None and seats:
                    steps.append(Capacity(g["id"], int(g["capacity"]) + seats, september))
    for kg in kindergartens:
        if rng.random() < NEW_GROUP_SHARE:
            language = LANGUAGES[rng.randrange(len(LANGUAGES))]
            born = year - 2
            steps.append(Opening(kg, f"{born}-{language}-new", born, language, rng.randint(10, 20), september))
    return tuple(steps)
