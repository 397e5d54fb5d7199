"""(y) A simulated year (docs/quality.md §3): a region of a data set of its own lives through twelve months in the
real service — the GraphQL endpoint and the worker's passes in-process, their clock moved from day to day —
while the same stream of events (bench/year_stream.py) goes through a model of today's status quo
(bench/status_quo.py). Both worlds are then judged by the same fairness report (domain/fairness.py): Kezek's from
its database, the status quo's from the facts its model recorded. And the waiting estimate each family read
(on the first day and every third month, or right after applying) is held against the day its offer came.

The judged year is the region's second (docs/decisions.md 97): the data set records no offers, and the estimate
rests on a queue's offers of the last 365 days, so a warm-up year of the same kind of stream (drawn by the same
generator from the data set's first day, with the same seed) is played through the same service first, and only
what follows it is judged. Its school year is planned as the data set planned its first (`year_stream.plan`).
Both worlds start the judged year from the region as the warm-up left it.

    python -m bench.year                       # a data set of its own, the years alone (development)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import heapq
import itertools
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import status_quo, year_charts
from bench.common import PLANS, Run, in_process, log, write_config
from bench.databases import build_database
from bench.dataset import REFERENCE, Scale
from bench.year_stream import Arrival, Capacity, Departure, PlanStep, Stream, Withdrawal, draw, plan
from domain import fairness, school_year
from domain.estimate import Basis
from domain.fairness import Area, Facts, FairnessReport
from domain.timezone import at_local, local_date
from integrations.sandbox import sandbox_signature
from persistence.db import raw_connect

REGION = "750000000"  # Almaty city
# The year's own data set (docs/decisions.md 106): the reduced set's 30,000 applications on 100,000 persons leave
# Almaty 340 enrolled children, 2.6 a kindergarten, against 3,436 waiting, so its groups barely turn over; with
# 140,000 persons, 175 kindergartens and 21,000 applications, its 20 kindergartens hold 2,064 children (about 100
# each) against 2,864 waiting, and the cohort leaving frees seats for about a quarter of the queue each summer.
YEAR_SCALE = Scale(persons=140_000, kindergartens=175, applications=21_000)
SEED = 20261201
DAYS = 365
# Every waiting family reads its estimates on the judged year's first day and then every third month, as parents
# look again (docs/decisions.md 110): read on one day only, the ranges judged came from few queues at one moment.
READ_EVERY_MONTHS = 3
WARM_UP_DAYS = 365  # a full window of the estimate's history (domain/estimate.py WINDOW_DAYS) before judging
CALIBRATION_GOAL = (0.70, 0.90)
CALIBRATION_MIN_JUDGED = 30  # fewer judged ranges tell nothing of the goal: a share of 80% on 30 is ±7 points

SUBMIT = """mutation($i: SubmitApplicationInput!) { submitApplication(input: $i) {
  application { id } errors { code message } } }"""
WITHDRAW = """mutation($i: WithdrawApplicationInput!) { withdrawApplication(input: $i) { errors { code } } }"""
LEAVE = """mutation($i: LeaveKindergartenInput!) { leaveKindergarten(input: $i) { errors { code } } }"""
CONFIRM = """mutation($i: ConfirmOfferInput!) { confirmOffer(input: $i) {
  offer { contract { id documentHash } } errors { code } } }"""
DECLINE = """mutation($i: DeclineOfferInput!) { declineOffer(input: $i) { errors { code } } }"""
SIGN = """mutation($i: SignContractInput!) { signContract(input: $i) { errors { code } } }"""
CREATE_RUN = """mutation($r: String!, $y: Int!) { createIntakeRun(input: {regionCode: $r, schoolYear: $y}) {
  intakeRun { id } errors { code message } } }"""
PUBLISH_RUN = """mutation($id: ID!) { publishIntakeRun(input: {runId: $id}) { intakeRun { id offers }
  errors { code message } } }"""
ESTIMATES = """query { myChildren { iin application { id choices { kindergarten { id }
  estimate { earliest latest insufficientHistory basisCode } } } } }"""
SET_CAPACITY = """mutation($i: SetGroupCapacityInput!) { setGroupCapacity(input: $i) { group { id }
  errors { code message } } }"""
CREATE_GROUP = """mutation($i: CreateGroupInput!) { createGroup(input: $i) { group { id } errors { code message } } }"""


class SimClock:
    """The service's clock, set by the simulation to the moment it plays."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def now(self) -> dt.datetime:
        return self.at


@dataclass(frozen=True, slots=True)
class Estimate:
    application_id: int
    kindergarten_id: int
    read_at: dt.datetime
    earliest: dt.date | None
    latest: dt.date | None
    insufficient: bool
    basis: Basis  # what it rests on (`basisCode`)


@dataclass(order=True)
class _Action:
    at: dt.datetime
    seq: int
    kind: str = dataclasses.field(compare=False)
    args: dict[str, Any] = dataclasses.field(compare=False)


class KezekYear:
    """Plays streams, year after year, through the real service and records what families read and did."""

    def __init__(self, run: Run, region_code: str, client: httpx.AsyncClient, container: Any, clock: SimClock) -> None:
        self.run, self.region_code, self.client, self.container, self.clock = run, region_code, client, container, clock
        self.stream: Stream | None = None  # the year being played
        self.parents: dict[str, str] = {}  # every year's: a family may act on an offer of the year before
        self.kindergartens: list[int] = []
        self.estimates: list[Estimate] = []
        self.actions: list[_Action] = []
        self.seq = itertools.count()
        self.last_offer = 0
        self.offers_at: Counter[tuple[str, int]] = Counter()
        self.calls: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.reading = False

    async def _gql(self, name: str, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        self.calls[name] += 1
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"{name}: {body['errors']}")
        payload = next(iter(body["data"].values()))
        if isinstance(payload, dict) and payload.get("errors"):
            self.refused[f"{name} {payload['errors'][0]['code']}"] += 1
        return payload

    def _schedule(self, at: dt.datetime, kind: str, **args: Any) -> None:
        heapq.heappush(self.actions, _Action(at, next(self.seq), kind, args))

    async def play(self, stream: Stream, *, read: bool) -> None:
        """The stream's days, one after the other; with `read`, every waiting family reads its estimates on the
        first day and every READ_EVERY_MONTHS months after it, and each new application's family right after
        applying."""
        self.stream = stream
        self.parents.update(stream.parents)
        conn = await raw_connect(self.run.db_url)
        try:
            if not self.kindergartens:
                self.kindergartens = [
                    r[0]
                    for r in await conn.fetch(
                        """SELECT k.id FROM kindergartens k JOIN districts d ON d.code = k.district_code
                        WHERE d.region_code = $1""",
                        self.region_code,
                    )
                ]
                self.last_offer = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM offers"))
            self.reading = read
            if read:
                await self._read_all(conn, stream.start)
            for n in range(stream.days):
                day = stream.start + dt.timedelta(days=n)
                if read and n > 0 and day.day == 1 and (day.month - stream.start.month) % READ_EVERY_MONTHS == 0:
                    await self._read_all(conn, day)
                await self._day(conn, day)
                if day.day == 1:
                    log(f"(y) Kezek: {day}, {sum(self.calls.values())} calls so far")
        finally:
            await conn.close()

    async def _read_all(self, conn: Any, day: dt.date) -> None:
        """Every waiting family reads its estimates at 06:30, before the morning's pass; each child's once, by
        the parent who acts for it (a parent reads all its children)."""
        self.clock.at = at_local(day, dt.time(6, 30))
        waiting = sorted(
            {
                self.parents[c]
                for (c,) in await conn.fetch(
                    """SELECT DISTINCT a.child_iin FROM applications a
                    JOIN choices c ON c.application_id = a.id
                    WHERE a.active AND c.kindergarten_id = ANY($1)""",
                    self.kindergartens,
                )
            }
        )
        before = len(self.estimates)
        for parent in waiting:
            await self._read_estimates(parent, None)
        log(f"(y) Kezek: {len(self.estimates) - before} estimates read on {day} from {len(waiting)} families")

    async def plan(self, steps: tuple[PlanStep, ...], at: dt.datetime) -> None:
        """The region's operator plans the coming school year: capacities from 1 September, groups opening."""
        self.clock.at = at
        operator = self.run.operator(self.region_code)
        for step in steps:
            if isinstance(step, Capacity):
                name, query = "setGroupCapacity", SET_CAPACITY
                i: dict[str, Any] = {
                    "groupId": str(step.group_id),
                    "capacity": step.capacity,
                    "from": step.since.isoformat(),
                    "reason": "the next school year's plan",
                }
            else:
                name, query = "createGroup", CREATE_GROUP
                i = {
                    "kindergartenId": str(step.kindergarten_id),
                    "externalId": step.external_id,
                    "birthYearFrom": step.birth_year,
                    "birthYearTo": step.birth_year,
                    "language": step.language,
                    "groupType": "GENERAL",
                    "capacity": step.capacity,
                    "opensOn": step.opens_on.isoformat(),
                }
            payload = await self._gql(name, operator, query, {"i": i})
            if payload["errors"]:
                raise RuntimeError(f"{name} {i}: {payload['errors']}")

    async def _day(self, conn: Any, day: dt.date) -> None:
        from api.worker import run_once

        assert self.stream is not None
        self.clock.at = at_local(day, dt.time(7))
        await run_once(self.container)
        await self._new_offers(conn)
        if day == school_year.intake_opens(day.year):
            self.clock.at = at_local(day, dt.time(9))
            operator = self.run.operator(self.region_code)
            draft = await self._gql("createIntakeRun", operator, CREATE_RUN, {"r": self.region_code, "y": day.year})
            await self._gql("publishIntakeRun", operator, PUBLISH_RUN, {"id": draft["intakeRun"]["id"]})
            await self._new_offers(conn)
        for event in self.stream.on(day):
            await self._actions_until(conn, event.at)
            self.clock.at = event.at
            await self._event(conn, event)
            await self._new_offers(conn)
        await self._actions_until(conn, at_local(day + dt.timedelta(days=1), dt.time(0)))
        await self.container.queue.drain_allocations()
        await self._new_offers(conn)

    async def _actions_until(self, conn: Any, until: dt.datetime) -> None:
        while self.actions and self.actions[0].at < until:
            action = heapq.heappop(self.actions)
            self.clock.at = action.at
            await self._act(action)
            await self._new_offers(conn)

    async def _event(self, conn: Any, event: Arrival | Withdrawal | Departure) -> None:
        parent = self.parents[event.child_iin]
        token = self.run.citizen(parent)
        if isinstance(event, Arrival):
            payload = await self._gql(
                "submitApplication",
                token,
                SUBMIT,
                {
                    "i": {
                        "childIin": event.child_iin,
                        "kindergartenIds": [str(k) for k in event.kindergartens],
                        "language": event.language,
                        "groupType": "GENERAL",
                    }
                },
            )
            if payload["application"] is not None and self.reading:
                await self._read_estimates(parent, event.child_iin)
        elif isinstance(event, Withdrawal):
            # Only a family holding nothing gives up (bench/year_stream.py), in both worlds alike.
            app = await conn.fetchval(
                """SELECT a.id FROM applications a WHERE a.child_iin = $1 AND a.active AND a.status = 'QUEUED'
                AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.child_iin = a.child_iin AND e.ended_at IS NULL)""",
                event.child_iin,
            )
            if app is not None:
                await self._gql("withdrawApplication", token, WITHDRAW, {"i": {"applicationId": str(app)}})
        else:
            await self._gql("leaveKindergarten", token, LEAVE, {"i": {"childIin": event.child_iin}})

    async def _read_estimates(self, parent: str, child: str | None) -> None:
        data = await self._gql("myChildren", self.run.citizen(parent), ESTIMATES)
        for c in data:
            app = c["application"]
            if app is None or (child is not None and c["iin"] != child):
                continue
            if child is None and self.parents.get(c["iin"]) != parent:
                continue  # read once, by the parent who acts for it
            for choice in app["choices"]:
                e = choice["estimate"]
                self.estimates.append(
                    Estimate(
                        int(app["id"]),
                        int(choice["kindergarten"]["id"]),
                        self.clock.at,
                        dt.date.fromisoformat(e["earliest"]) if e["earliest"] else None,
                        dt.date.fromisoformat(e["latest"]) if e["latest"] else None,
                        bool(e["insufficientHistory"]),
                        Basis(e["basisCode"]),
                    )
                )

    async def _new_offers(self, conn: Any) -> None:
        assert self.stream is not None
        rows = await conn.fetch(
            """SELECT o.id, a.child_iin, o.kindergarten_id, o.created_at FROM offers o
            JOIN applications a ON a.id = o.application_id
            WHERE o.id > $1 AND o.kindergarten_id = ANY($2) ORDER BY o.id""",
            self.last_offer,
            self.kindergartens,
        )
        for r in rows:
            self.last_offer = max(self.last_offer, r["id"])
            key = (r["child_iin"], r["kindergarten_id"])
            answer, delay = self.stream.answer(*key, self.offers_at[key])
            self.offers_at[key] += 1
            if answer == "silent":
                continue
            at = self.stream.answers_at(r["created_at"], *key, delay)
            self._schedule(at, answer, offer=r["id"], child=r["child_iin"], kg=key[1])

    async def _act(self, action: _Action) -> None:
        assert self.stream is not None
        a = action.args
        token = self.run.citizen(self.parents[a["child"]])
        if action.kind == "decline":
            await self._gql("declineOffer", token, DECLINE, {"i": {"offerId": str(a["offer"])}})
        elif action.kind == "confirm":
            payload = await self._gql("confirmOffer", token, CONFIRM, {"i": {"offerId": str(a["offer"])}})
            contract = (payload.get("offer") or {}).get("contract")
            if contract is not None:
                self._schedule(self.stream.signs_at(action.at, a["child"], a["kg"]), "sign", contract=contract, **a)
        else:
            parent = self.parents[a["child"]]
            contract = a["contract"]
            signature = sandbox_signature(parent, contract["documentHash"])
            await self._gql("signContract", token, SIGN, {"i": {"contractId": contract["id"], "signature": signature}})


# --- judging ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Calibration:
    read: int  # estimates read
    insufficient: int  # of them: too little history, no dates
    inside: int
    early: int  # the offer came before the 10th percentile's date
    late: int  # after the 90th's, or not at all while the family still waited there
    open: int  # no offer yet, the range not yet over, or the family stopped waiting there first

    @property
    def judged(self) -> int:
        return self.inside + self.early + self.late

    @property
    def share(self) -> float | None:
        return self.inside / self.judged if self.judged else None


def calibrate(estimates: list[Estimate], facts: Facts, end: dt.date) -> Calibration:
    """Each estimate with dates against the first offer made afterwards to that child at that kindergarten.

    Only a range that closed before `end` is judged: for one still open then, an offer inside it or earlier
    could be seen but a late one never, and judging what could be seen would count it inside whenever the
    offer happened to come in time (docs/decisions.md 97)."""
    offers: dict[tuple[int, int], list[dt.date]] = {}
    for o in sorted(facts.offers, key=lambda o: o.created_at):
        offers.setdefault((o.application_id, o.kindergarten_id), []).append(local_date(o.created_at))
    inside = early = late = still = insufficient = 0
    for e in estimates:
        if e.insufficient or e.earliest is None:
            insufficient += 1
            continue
        if e.latest is None or e.latest >= end:  # beyond school age, or not over by the year's end
            still += 1
            continue
        came = next(
            (d for d in offers.get((e.application_id, e.kindergarten_id), []) if d >= local_date(e.read_at)), None
        )
        if came is not None:
            if came < e.earliest:
                early += 1
            elif came > e.latest:
                late += 1
            else:
                inside += 1
            continue
        app = facts.applications.get(e.application_id)
        deadline = at_local(e.latest, dt.time(23, 59))
        state = app.state_at(deadline) if app is not None else None
        waited = state is not None and state.waiting and state.rank_of(e.kindergarten_id) is not None
        if waited and not _placed_better(facts, e, deadline):
            late += 1
        else:
            still += 1
    return Calibration(len(estimates), insufficient, inside, early, late, still)


def _placed_better(facts: Facts, e: Estimate, by: dt.datetime) -> bool:
    """The child got a seat it ranks above this kindergarten before the range ended: it no longer waits here."""
    app = facts.applications.get(e.application_id)
    if app is None:
        return False
    state = app.state_at(by)
    here = state.rank_of(e.kindergarten_id) if state else None
    return any(
        o.application_id == e.application_id
        and o.created_at <= by
        and here is not None
        and (r := state.rank_of(o.kindergarten_id) if state else None) is not None
        and r < here
        for o in facts.offers
    )


# What an estimate read was: a range with a spread (the headline), a single day, a 10th percentile alone, or none.
NO_ESTIMATE = frozenset({Basis.SEAT_HELD, Basis.HOLDS_BETTER, Basis.INACTIVE, Basis.NOT_WAITING})


def kind_of(e: Estimate) -> str:
    if e.insufficient:
        return "insufficient"
    if e.latest is None:  # no 90th percentile: the range reaches school age, or no range is needed
        return "none" if e.basis in NO_ESTIMATE else "school_age" if e.basis == Basis.BEYOND_SCHOOL_AGE else "unknown"
    if e.earliest == e.latest:
        return "intake_day" if _intake_day(e) else "one_day"
    return "spread"


async def measure(run: Run, charts: Path, prefix: str) -> dict[str, Any]:
    """The region's second year in both worlds, judged alike, on a data set of its own (YEAR_SCALE, whatever the
    run's scale: a year of a national region through the service would take hours on this machine), after a
    warm-up year played through the same service; charts into `charts`."""
    from api.config_files import load_policy
    from persistence.fairness import FairnessRecords

    # The region alone: nobody answers an offer elsewhere, and the worker would make and lapse them there daily.
    db_url, _, _ = await build_database(run.server_url, "kezek_year", YEAR_SCALE, REGION)
    run = dataclasses.replace(run, db_url=db_url)
    started = time.perf_counter()
    warm = await draw(run.db_url, REGION, REFERENCE, WARM_UP_DAYS, SEED)
    warm_counts = Counter(type(e).__name__ for e in warm.events)
    log(f"(y) warm-up stream for {REGION} from {REFERENCE}: {dict(warm_counts)}")
    start = warm.end
    year = school_year.school_year_of(start) + 1
    clock = SimClock(at_local(REFERENCE, dt.time(7)))
    async with in_process(run, clock) as (client, container):
        world = KezekYear(run, REGION, client, container, clock)
        await world.play(warm, read=False)
        warm_s = time.perf_counter() - started
        warm_calls = sum(world.calls.values())
        steps = await plan(run.db_url, REGION, year, SEED)
        await world.plan(steps, at_local(start, dt.time(6)))
        stream = await draw(run.db_url, REGION, start, DAYS, SEED)
        counts = Counter(type(e).__name__ for e in stream.events)
        log(f"(y) stream for {REGION} from {start}: {dict(counts)}; plan for {year}: {len(steps)} steps")
        asked = Counter(world.offers_at)  # offers made to each child at each kindergarten before the judged year
        await world.play(stream, read=True)
        clock.at = at_local(stream.end, dt.time(1))
        records = FairnessRecords(container.services.reader)
        kezek_facts = await records.facts(Area(region_code=REGION), fairness.period(start, stream.end), clock.at)
    policies = load_policy(run.policy_file)
    played_s = time.perf_counter() - started - warm_s
    sq = status_quo.play(stream, kezek_facts, policies, asked)
    sq_facts = sq.facts
    kinds = Counter(kind_of(e) for e in world.estimates)

    def part(*wanted: str, bases: frozenset[Basis] | None = None) -> dict[str, Any]:
        chosen = [e for e in world.estimates if kind_of(e) in wanted and (bases is None or e.basis in bases)]
        return dataclasses.asdict(calibrate(chosen, kezek_facts, stream.end))

    out: dict[str, Any] = {
        "region": REGION,
        "scale": f"{YEAR_SCALE.persons:,} persons, {YEAR_SCALE.kindergartens:,} kindergartens and "
        f"{YEAR_SCALE.applications:,} applications nationally",
        "warm_up_start": REFERENCE.isoformat(),
        "start": start.isoformat(),
        "end": stream.end.isoformat(),
        "school_year": year,
        "warm_up_events": dict(warm_counts),
        "events": dict(counts),
        "plan": dict(Counter(type(s).__name__ for s in steps)),
        "warm_up_calls": warm_calls,
        "calls": dict(world.calls),
        "refused": dict(world.refused),
        "carried_offers": sq.carried,
        "warm_up_s": warm_s,
        "played_s": played_s,
        "kezek": _judge(kezek_facts, policies, start, stream.end),
        "status_quo": _judge(sq_facts, policies, start, stream.end),
        "estimates": dict(kinds),
        # The headline: ranges with a spread, resting on the queue's pace (alone, or with the summer intake).
        "calibration": part("spread"),
        "calibration_pace": part("spread", bases=frozenset({Basis.QUEUE_PACE})),
        "calibration_pace_and_intake": part("spread", bases=frozenset({Basis.QUEUE_PACE_AND_INTAKE})),
        "calibration_by_month": _calibration_by_month(
            [e for e in world.estimates if kind_of(e) == "spread"], kezek_facts, stream.end
        ),
        # Apart, as hit rates: ranges of one day — the summer intake's (a child within the planned seats is
        # offered then, a near-certain date) and any other (both percentiles on the day the child can start).
        "calibration_intake_day": part("intake_day"),
        "calibration_one_day": part("one_day"),
    }
    out["charts"] = year_charts.draw(out, charts, prefix)
    return out


def _judge(facts: Facts, policies: Any, start: dt.date, end: dt.date) -> dict[str, Any]:
    whole = fairness.report(facts, policies)
    months: list[dict[str, Any]] = []
    first = start
    while first < end:
        nxt = (first.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        nxt = min(nxt, end)
        part = dataclasses.replace(facts, period=fairness.period(first, nxt))
        r: FairnessReport = fairness.report(part, policies)
        months.append({"month": first.isoformat()[:7], "idle": {i.cause.value: i.days for i in r.idle_seat_days}})
        first = nxt
    return {"report": whole.as_json(), "months": months}


def _intake_day(e: Estimate) -> bool:
    return e.earliest is not None and e.earliest == e.latest and (e.earliest.month, e.earliest.day) == (7, 1)


def _calibration_by_month(estimates: list[Estimate], facts: Facts, end: dt.date) -> list[dict[str, Any]]:
    """The share inside the range by how far ahead the range's middle lay when it was read."""
    out = []
    for lo, hi in ((0, 90), (90, 180), (180, 365), (365, 100000)):
        chosen = [
            e
            for e in estimates
            if e.earliest is not None
            and lo <= (e.earliest + ((e.latest or e.earliest) - e.earliest) / 2 - local_date(e.read_at)).days < hi
        ]
        c = calibrate(chosen, facts, end)
        out.append({"ahead_days": [lo, hi], "judged": c.judged, "inside": c.inside, "share": c.share})
    return out


def report(results: dict[str, Any], add: Any) -> None:
    y = results
    k, s = y["kezek"]["report"], y["status_quo"]["report"]
    c = y["calibration"]
    judged = c["inside"] + c["early"] + c["late"]
    share = c["inside"] / judged if judged else None
    add("## (y) A simulated year: Kezek beside the status quo")
    add("")
    calls = sum(y["calls"].values())
    add(
        f"Region {y['region']} of the year's own data set ({y['scale']}: kindergartens of realistic size, "
        "docs/decisions.md 106; the region loaded alone, as elsewhere nobody would answer an offer) in "
        f"its second year, {y['start']} to {y['end']} (school year "
        f"{y['school_year']} included: its intake on 1 July, the cohort leaving on 31 August, new groups on "
        f"1 September), after a warm-up year from {y['warm_up_start']} (the data set records no offers, and the "
        "estimate rests on a queue's last 365 days): the same kind of stream, drawn by the same generator and seed, "
        f"through the same service, in {y['warm_up_s']:.0f} s ({y['warm_up_calls']:,} calls), its estimates not "
        f"read; the school year {y['school_year']} planned on the judged year's first day as the data set planned "
        f"its first ({y['plan'].get('Capacity', 0):,} capacities from 1 September, {y['plan'].get('Opening', 0):,} "
        "groups opening then). Kezek played "
        f"the judged year through the real service in {y['played_s']:.0f} s ({calls - y['warm_up_calls']:,} "
        "GraphQL calls in-process, the worker's passes every morning, the clock moved); the status quo's model "
        f"played the same stream from the region as the warm-up left it (its seats, its queues and the "
        f"{y['carried_offers']:,} offers live then, answered as in Kezek's world): "
        "offers by position with no upgrades (a child holding a seat leaves every other queue), a lapsed seat "
        "open to whoever asks first, the new year's seats handed out kindergarten by kindergarten. Both are judged "
        "by the same fairness report (domain/fairness.py) over the judged year."
    )
    add("")
    add(
        f"Events: {', '.join(f'{n:,} {kind.lower()}s' for kind, n in sorted(y['events'].items()))} (the warm-up: "
        f"{', '.join(f'{n:,} {kind.lower()}s' for kind, n in sorted(y['warm_up_events'].items()))})."
    )
    add("")
    add("| what | Kezek | status quo |")
    add("|---|---|---|")
    add(f"| justified-envy pairs | **{k['envyPairs']}** | {s['envyPairs']} |")
    add(f"| children passed over | {k['envyChildren']} | {s['envyChildren']} |")
    add(f"| envy-days | {k['envyDays']:.0f} | {s['envyDays']:.0f} |")
    for cause in ("CANDIDATE_WAITING", "OFFER_WINDOW", "CONTRACT_WINDOW", "HELD_FOR_INTAKE", "PROMISED_LATER"):
        add(f"| idle seat-days: {cause.lower().replace('_', ' ')} | {_idle(k, cause):,} | {_idle(s, cause):,} |")
    kp, sp = k["placement"], s["placement"]
    add(f"| placed at the first choice | {_pct(kp['firstChoice'])} | {_pct(sp['firstChoice'])} |")
    add(f"| placed in the top two | {_pct(k['placement']['topTwo'])} | {_pct(s['placement']['topTwo'])} |")
    add(f"| children placed | {k['placement']['children']:,} | {s['placement']['children']:,} |")
    add(f"| upgrades | {k['placement']['upgrades']:,} | {s['placement']['upgrades']:,} |")
    add(
        f"| offers per filled seat | {_num(k['churn']['offersPerFilledSeat'])} | "
        f"{_num(s['churn']['offersPerFilledSeat'])} |"
    )
    for tier in ("EXTRAORDINARY", "PRIMARY", "GENERAL"):
        add(f"| waiting days, {tier} (median / p90, offers) | {_wait(k, tier)} | {_wait(s, tier)} |")
    add("")
    goal = f"{CALIBRATION_GOAL[0]:.0%}–{CALIBRATION_GOAL[1]:.0%}"
    if judged < CALIBRATION_MIN_JUDGED:
        verdict = f"too few judged to tell (fewer than {CALIBRATION_MIN_JUDGED})"
    elif share is not None and CALIBRATION_GOAL[0] <= share <= CALIBRATION_GOAL[1]:
        verdict = "met"
    else:
        verdict = "**missed**"
    kinds = Counter(y["estimates"])
    add(
        f"**Calibration of the waiting estimate**, over the ranges with a spread (the queue's pace, alone or with "
        f"the summer intake): of {c['read']:,} such ranges read, {judged:,} closed within the year and could be "
        f"judged: **{_pct(share)}** had the offer inside the 10–90% range ({c['early']:,} came earlier, "
        f"{c['late']:,} later or not at all while the family still waited there; {c['open']:,} not judged: the "
        f"range not over by the year's end, or the family stopped waiting there first). Goal {goal}: {verdict}."
    )
    add("")
    add(
        f"Estimates read in the judged year: {sum(kinds.values()):,} (on its first day, every "
        f"{READ_EVERY_MONTHS} months after it, and right after each application): {kinds['spread']:,} ranges "
        f"with a spread, {kinds['intake_day']:,} the summer intake's day alone, {kinds['one_day']:,} another "
        f"single day, {kinds['school_age']:,} reaching school age (no 90th percentile), "
        f"{kinds['insufficient']:,} 'too little history', {kinds['none']:,} with no estimate needed (a seat held "
        "there or higher, not waiting)"
        + (f", {kinds['unknown']:,} with no 90th percentile and a basis that has one" if kinds["unknown"] else "")
        + "."
    )
    add("")
    for key, what in (
        ("calibration_pace", "ranges resting on the queue's pace alone"),
        ("calibration_pace_and_intake", "ranges resting on the queue's pace and the summer intake"),
        ("calibration_intake_day", "apart, the summer intake's day (1 July) alone, a single day: its hit rate"),
        ("calibration_one_day", "apart, another single day (the day the child can start): its hit rate"),
    ):
        part = y.get(key)
        if part:
            n = part["inside"] + part["early"] + part["late"]
            inside = part["inside"] / n if n else None
            add(f"- {what}: {n:,} judged, {_pct(inside)} inside ({part['early']:,} earlier, {part['late']:,} later)")
    add("")
    add("Ranges with a spread, by how far ahead their middle lay when read:")
    add("")
    add("| range's middle ahead of the reading | judged | inside | share |")
    add("|---|---|---|---|")
    for b in y["calibration_by_month"]:
        lo, hi = b["ahead_days"]
        label = f"{lo}–{hi} days" if hi < 100000 else f"{lo}+ days"
        add(f"| {label} | {b['judged']:,} | {b['inside']:,} | {_pct(b['share'])} |")
    add("")
    if y["refused"]:
        add(
            "Calls the service refused (a family acting on an offer already gone, and the like): "
            + ", ".join(f"{n} {what}" for what, n in sorted(y["refused"].items()))
            + "."
        )
        add("")
    for name, path in y["charts"].items():
        add(f"![{name}]({path})")
        add("")


def _idle(r: dict[str, Any], cause: str) -> int:
    return int(sum(i["days"] for i in r["idleSeatDays"] if i["cause"] == cause))


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _wait(r: dict[str, Any], tier: str) -> str:
    rows = [w for w in r["waitingDays"] if w["tier"] == tier]
    if not rows:
        return "—"
    n = sum(w["offers"] for w in rows)
    # Birth years weighted by their offers: the report gives medians per tier and birth year.
    med = sum(w["median"] * w["offers"] for w in rows) / n
    p90 = sum(w["p90"] * w["offers"] for w in rows) / n
    return f"{med:.0f} / {p90:.0f} ({n:,})"


async def _alone() -> None:
    from api.embedded import start_embedded

    tmp = Path(tempfile.mkdtemp(prefix="kezek-year-"))
    embedded, server_url = start_embedded(tmp, durable=True)
    try:
        run = Run(plan=PLANS["reduced"], tmp=tmp, server_url=server_url)
        write_config(run)  # `measure` builds its database itself
        results = await measure(run, Path(tempfile.gettempdir()) / "kezek-year-charts", "year")
        lines: list[str] = []
        report(results, lines.append)
        print("\n".join(lines))
    finally:
        embedded.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(prog="python -m bench.year").parse_args(argv)
    asyncio.run(_alone())


if __name__ == "__main__":
    main()
