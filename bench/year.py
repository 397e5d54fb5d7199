"""(y) A simulated year (docs/quality.md §3): a region of the reduced data set lives through twelve months in the
real service — the GraphQL endpoint and the worker's passes in-process, their clock moved from day to day —
while the same stream of events (bench/year_stream.py) goes through a model of today's status quo
(bench/status_quo.py). Both worlds are then judged by the same fairness report (domain/fairness.py): Kezek's from
its database, the status quo's from the facts its model recorded. And the waiting estimate each family read
(at the first day, or right after applying) is held against the day its offer came.

    python -m bench.year                       # a data set of its own, the year alone (development)
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
from bench.dataset import NEXT_YEAR, REFERENCE
from bench.year_stream import Arrival, Departure, Stream, Withdrawal, draw
from domain import fairness
from domain.fairness import Area, Facts, FairnessReport
from domain.timezone import at_local, local_date
from integrations.sandbox import sandbox_signature
from persistence.db import raw_connect

REGION = "750000000"  # Almaty city: the reduced data set's longest queues
SEED = 20261201
DAYS = 365
CALIBRATION_GOAL = (0.70, 0.90)

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
  estimate { earliest latest insufficientHistory } } } } }"""


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


@dataclass(order=True)
class _Action:
    at: dt.datetime
    seq: int
    kind: str = dataclasses.field(compare=False)
    args: dict[str, Any] = dataclasses.field(compare=False)


class KezekYear:
    """Plays the stream through the real service and records what families read and did."""

    def __init__(self, run: Run, stream: Stream, client: httpx.AsyncClient, container: Any, clock: SimClock) -> None:
        self.run, self.stream, self.client, self.container, self.clock = run, stream, client, container, clock
        self.kindergartens: list[int] = []
        self.estimates: list[Estimate] = []
        self.actions: list[_Action] = []
        self.seq = itertools.count()
        self.last_offer = 0
        self.offers_at: Counter[tuple[str, int]] = Counter()
        self.calls: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

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

    async def play(self) -> None:
        conn = await raw_connect(self.run.db_url)
        try:
            self.kindergartens = [
                r[0]
                for r in await conn.fetch(
                    """SELECT k.id FROM kindergartens k JOIN districts d ON d.code = k.district_code
                    WHERE d.region_code = $1""",
                    self.stream.region_code,
                )
            ]
            self.last_offer = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM offers"))
            self.clock.at = at_local(self.stream.start, dt.time(8))
            waiting = sorted(
                {
                    p
                    for (p,) in await conn.fetch(
                        """SELECT DISTINCT r.representative_iin FROM applications a
                        JOIN representations r ON r.child_iin = a.child_iin
                        JOIN choices c ON c.application_id = a.id WHERE a.active AND c.kindergarten_id = ANY($1)""",
                        self.kindergartens,
                    )
                }
            )
            for parent in waiting:
                await self._read_estimates(parent, None)
            log(f"(y) Kezek: {len(self.estimates)} estimates read on the first day from {len(waiting)} families")
            for n in range(self.stream.days):
                day = self.stream.start + dt.timedelta(days=n)
                await self._day(conn, day)
                if day.day == 1:
                    log(f"(y) Kezek: {day}, {sum(self.calls.values())} calls so far")
        finally:
            await conn.close()

    async def _day(self, conn: Any, day: dt.date) -> None:
        from api.worker import run_once

        self.clock.at = at_local(day, dt.time(7))
        await run_once(self.container)
        await self._new_offers(conn)
        if day == dt.date(NEXT_YEAR, 7, 1):
            self.clock.at = at_local(day, dt.time(9))
            operator = self.run.operator(self.stream.region_code)
            draft = await self._gql(
                "createIntakeRun", operator, CREATE_RUN, {"r": self.stream.region_code, "y": NEXT_YEAR}
            )
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
        parent = self.stream.parents[event.child_iin]
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
            if payload["application"] is not None:
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
                    )
                )

    async def _new_offers(self, conn: Any) -> None:
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
        a = action.args
        token = self.run.citizen(self.stream.parents[a["child"]])
        if action.kind == "decline":
            await self._gql("declineOffer", token, DECLINE, {"i": {"offerId": str(a["offer"])}})
        elif action.kind == "confirm":
            payload = await self._gql("confirmOffer", token, CONFIRM, {"i": {"offerId": str(a["offer"])}})
            contract = (payload.get("offer") or {}).get("contract")
            if contract is not None:
                self._schedule(self.stream.signs_at(action.at, a["child"], a["kg"]), "sign", contract=contract, **a)
        else:
            parent = self.stream.parents[a["child"]]
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
    """Each estimate with dates against the first offer made afterwards to that child at that kindergarten."""
    offers: dict[tuple[int, int], list[dt.date]] = {}
    for o in sorted(facts.offers, key=lambda o: o.created_at):
        offers.setdefault((o.application_id, o.kindergarten_id), []).append(local_date(o.created_at))
    inside = early = late = still = insufficient = 0
    for e in estimates:
        if e.insufficient or e.earliest is None:
            insufficient += 1
            continue
        came = next(
            (d for d in offers.get((e.application_id, e.kindergarten_id), []) if d >= local_date(e.read_at)), None
        )
        if came is not None:
            if came < e.earliest:
                early += 1
            elif e.latest is not None and came > e.latest:
                late += 1
            else:
                inside += 1
            continue
        if e.latest is None:  # the 90th percentile lies beyond school age: open until an offer comes
            still += 1
            continue
        app = facts.applications.get(e.application_id)
        deadline = at_local(e.latest, dt.time(23, 59))
        state = app.state_at(deadline) if app is not None else None
        waited = state is not None and state.waiting and state.rank_of(e.kindergarten_id) is not None
        if e.latest < end and waited and not _placed_better(facts, e, deadline):
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


async def measure(run: Run, charts: Path, prefix: str) -> dict[str, Any]:
    """The year in both worlds, judged alike, on a reduced data set of its own (whatever the run's scale: a year
    of a national region through the service would take hours on this machine); charts into `charts`."""
    from api.config_files import load_policy
    from persistence.fairness import FairnessRecords

    # The region alone: nobody answers an offer elsewhere, and the worker would make and lapse them there daily.
    db_url, _, _ = await build_database(run.server_url, "kezek_year", PLANS["reduced"].scale, REGION)
    run = dataclasses.replace(run, db_url=db_url)
    started = time.perf_counter()
    start = REFERENCE
    stream = await draw(run.db_url, REGION, start, DAYS, SEED)
    counts = Counter(type(e).__name__ for e in stream.events)
    log(f"(y) stream for {REGION} from {start}: {dict(counts)}")
    clock = SimClock(at_local(start, dt.time(7)))
    async with in_process(run, clock) as (client, container):
        world = KezekYear(run, stream, client, container, clock)
        await world.play()
        clock.at = at_local(stream.end, dt.time(1))
        records = FairnessRecords(container.services.reader)
        kezek_facts = await records.facts(Area(region_code=REGION), fairness.period(start, stream.end), clock.at)
    policies = load_policy(run.policy_file)
    played_s = time.perf_counter() - started
    sq_facts = status_quo.play(stream, kezek_facts, policies).facts
    out: dict[str, Any] = {
        "region": REGION,
        "start": start.isoformat(),
        "end": stream.end.isoformat(),
        "events": dict(counts),
        "calls": dict(world.calls),
        "refused": dict(world.refused),
        "played_s": played_s,
        "kezek": _judge(kezek_facts, policies, start, stream.end),
        "status_quo": _judge(sq_facts, policies, start, stream.end),
        "calibration": dataclasses.asdict(calibrate(world.estimates, kezek_facts, stream.end)),
        "calibration_by_month": _calibration_by_month(world.estimates, kezek_facts, stream.end),
        # Apart: the ranges that are the summer intake's day alone (a child within the planned seats is offered
        # then, a near-certain date), and the rest, which rest on the queue's pace.
        "calibration_intake_day": dataclasses.asdict(
            calibrate([e for e in world.estimates if _intake_day(e)], kezek_facts, stream.end)
        ),
        "calibration_pace": dataclasses.asdict(
            calibrate([e for e in world.estimates if not _intake_day(e)], kezek_facts, stream.end)
        ),
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
    add(
        f"Region {y['region']} of the reduced data set, {y['start']} to {y['end']} (the data set's next school year "
        f"{NEXT_YEAR} included: its intake on 1 July, the cohort leaving on 31 August, new groups on 1 September). "
        f"Kezek played it through the real service in {y['played_s']:.0f} s ({sum(y['calls'].values()):,} GraphQL "
        "calls in-process, the worker's passes every morning, the clock moved); the status quo's model played the "
        "same stream: offers by position with no upgrades (a child holding a seat leaves every other queue), a "
        "lapsed seat open to whoever asks first, the new year's seats handed out kindergarten by kindergarten. "
        "Both are judged by the same fairness report (domain/fairness.py) over the year."
    )
    add("")
    add(f"Events: {', '.join(f'{n:,} {kind.lower()}s' for kind, n in sorted(y['events'].items()))}.")
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
    verdict = "met" if share is not None and CALIBRATION_GOAL[0] <= share <= CALIBRATION_GOAL[1] else "**missed**"
    add(
        f"**Calibration of the waiting estimate**: of {c['read']:,} estimates read ({c['insufficient']:,} of them "
        f"'too little history'), {judged:,} could be judged by the year's end: **{_pct(share)}** had the offer "
        f"inside the 10–90% range ({c['early']:,} came earlier, {c['late']:,} later or not at all while the family "
        f"still waited there; {c['open']:,} still open). Goal {goal}: {verdict}."
    )
    add("")
    for key, what in (
        ("calibration_intake_day", "ranges that are the summer intake's day (1 July) alone"),
        ("calibration_pace", "ranges resting on the queue's pace"),
    ):
        part = y.get(key)
        if part:
            n = part["inside"] + part["early"] + part["late"]
            inside = part["inside"] / n if n else None
            add(f"- {what}: {n:,} judged, {_pct(inside)} inside ({part['early']:,} earlier, {part['late']:,} later)")
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
