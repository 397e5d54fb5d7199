"""A model of today's status quo, for the simulated year (bench/year.py): the same stream of events as Kezek's
world, with the rule of the queues most akimats run today.

- A free seat is offered to the first child by position in the kindergarten's queue who holds nothing: a child
  with a seat anywhere leaves every other queue (no upgrades).
- A lapsed offer's seat is open to whoever asks first: the next morning a child of that queue chosen at random
  (the parent who happened to look) takes it on the spot.
- The new school year's seats are handed out on 1 July kindergarten by kindergarten (by id), each to its queue
  by position, a child taking the first offer that reaches it.

The families answer as in Kezek's world (`Stream.answer`), with the same delays and the same windows; the model
records what it did as fairness facts (domain/fairness.py), so the same report judges both worlds. The families'
preferences are what they applied with: a child placed at a lower choice still ranks its first choice above it,
as it does in Kezek's records, so the report sees the seat it was passed over for.

The model starts from Kezek's world as it stands at the stream's first instant — the data set's first day, or
the region after a year played through Kezek (bench/year.py's warm-up): the seats held then, the queues, and the
offers live then, which the families go on answering as they answer any offer; `asked` counts the offers each
child had at each kindergarten before, so that its next one is answered as in Kezek's world.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.year_stream import Arrival, Departure, Stream, Withdrawal
from domain import age, school_year, seats_over_time
from domain.fairness import ApplicationFacts, ApplicationState, EnrolmentFacts, Facts, GroupFacts, OfferFacts
from domain.model import LIVE_OFFER_STATUSES, ApplicationStatus, OfferStatus
from domain.policy import PolicyBook
from domain.queue_order import queue_order
from domain.timezone import at_local, local_date
from integrations.calendar import KazakhstanCalendar


@dataclass(slots=True)
class _Offer:
    facts: OfferFacts
    respond_by: dt.datetime


@dataclass(slots=True)
class _App:
    facts: ApplicationFacts
    states: list[ApplicationState]
    holds: bool = False  # a live offer or an enrolment: out of every queue

    @property
    def now(self) -> ApplicationState:
        return self.states[-1]

    def move(self, at: dt.datetime, status: ApplicationStatus, active: bool = True) -> None:
        self.states.append(dataclasses.replace(self.now, at=at, status=status, active=active))


@dataclass
class Model:
    stream: Stream
    kezek: Facts  # Kezek's world: the groups, the applications as they applied, the first day's enrolments
    policies: PolicyBook
    rng: random.Random
    calendar: KazakhstanCalendar = field(default_factory=KazakhstanCalendar)
    apps: dict[int, _App] = field(default_factory=dict)
    by_child: dict[str, int] = field(default_factory=dict)
    queues: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # kindergarten → applications
    offers: list[_Offer] = field(default_factory=list)
    enrolments: list[EnrolmentFacts] = field(default_factory=list)
    by_group: dict[int, list[EnrolmentFacts]] = field(default_factory=lambda: defaultdict(list))
    of_child: dict[str, list[EnrolmentFacts]] = field(default_factory=lambda: defaultdict(list))
    live: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # group → its live offers
    dirty: set[int] = field(default_factory=set)  # groups whose seats or candidates changed since the last look
    actions: list[tuple[dt.datetime, int, str, Any]] = field(default_factory=list)
    seq: itertools.count[int] = field(default_factory=itertools.count)
    asked: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    lapsed_seats: list[int] = field(default_factory=list)  # groups whose lapsed seat opens this morning
    published: dt.datetime | None = None
    carried: int = 0  # offers live in Kezek's world at the first instant, held here too

    @property
    def year(self) -> int:
        """The school year the stream's summer prepares."""
        return school_year.school_year_of(self.stream.start) + 1

    @property
    def intake_day(self) -> dt.date:
        return school_year.intake_opens(self.year)

    @property
    def first_day(self) -> dt.date:
        return school_year.first_day(self.year)

    def _add_enrolment(self, e: EnrolmentFacts) -> None:
        self.enrolments.append(e)
        self.by_group[e.group_id].append(e)
        self.of_child[e.child_iin].append(e)

    def _replace_enrolment(self, old: EnrolmentFacts, new: EnrolmentFacts) -> None:
        for index in (self.enrolments, self.by_group[old.group_id], self.of_child[old.child_iin]):
            index[index.index(old)] = new
        self.dirty.add(old.group_id)

    # --- seats ---------------------------------------------------------------------------------------------

    def capacity(self, g: GroupFacts, day: dt.date) -> int:
        return g.capacity_on(day, self.kezek.as_of)

    def taken(self, g: GroupFacts, day: dt.date) -> int:
        at = at_local(day, dt.time(12))
        return sum(
            1
            for e in self.by_group[g.id]
            if e.since <= day
            and (e.leaves_on is None or day <= e.leaves_on)
            and (e.ended_at is None or e.ended_at > at)
        )

    def free_from(self, g: GroupFacts, start: dt.date) -> int:
        live = self.live[g.id]
        days = [start] + ([self.first_day] if start < self.first_day else [])
        return min(self.capacity(g, d) - self.taken(g, d) for d in days) - live

    # --- candidates ----------------------------------------------------------------------------------------

    def candidates(self, g: GroupFacts, start: dt.date, at: dt.datetime) -> list[_App]:
        policy = self.policies.for_region(self.stream.region_code)
        found = []
        for app_id in self.queues[g.kindergarten_id]:
            a = self.apps[app_id]
            f, s = a.facts, a.now
            if a.holds or not s.waiting or f.queue_date > at or not g.fits(f):
                continue
            if f.desired_start_date > start or not age.old_enough(f.birth_date, start, policy.min_admission_age_months):
                continue
            if start >= seats_over_time.default_departure(f.birth_date):
                continue
            found.append(a)
        return sorted(found, key=lambda a: self._order(a, g.kindergarten_id, at))

    def _order(self, a: _App, kindergarten_id: int, at: dt.datetime) -> Any:
        brothers = self.kezek.siblings.get(a.facts.child_iin, ())
        sibling_here = any(
            e.kindergarten_id == kindergarten_id and e.held_from <= at and (e.ended_at is None or e.ended_at > at)
            for b in brothers
            for e in self.of_child.get(b, ())
        )
        return queue_order(a.now.tier, sibling_here, a.facts.queue_date, a.facts.id)

    # --- offers --------------------------------------------------------------------------------------------

    def offer(self, a: _App, g: GroupFacts, start: dt.date, at: dt.datetime, intake: bool = False) -> _Offer:
        f = OfferFacts(
            id=-(len(self.offers) + 1),
            application_id=a.facts.id,
            child_iin=a.facts.child_iin,
            kindergarten_id=g.kindergarten_id,
            group_id=g.id,
            status=OfferStatus.PENDING,
            tier=a.now.tier,
            created_at=at,
            starts_on=start,
        )
        policy = self.policies.for_region(self.stream.region_code)
        o = _Offer(f, policy.response_window.end(at, self.calendar))
        self.offers.append(o)
        self.live[g.id] += 1
        a.holds = True
        a.move(at, ApplicationStatus.OFFERED)
        key = (a.facts.child_iin, g.kindergarten_id)
        answer, delay = self.stream.answer(*key, self.asked[key])
        self.asked[key] += 1
        if answer != "silent":
            self._schedule(self.stream.answers_at(at, *key, delay), answer, o)
        return o

    def _schedule(self, at: dt.datetime, kind: str, payload: Any) -> None:
        heapq.heappush(self.actions, (at, next(self.seq), kind, payload))

    def _holding(self, child_iin: str) -> bool:
        return any(e.ended_at is None for e in self.of_child.get(child_iin, ()))

    def _end(self, o: _Offer, status: OfferStatus, at: dt.datetime) -> None:
        o.facts = dataclasses.replace(o.facts, status=status, ended_at=at)
        self.live[o.facts.group_id] -= 1
        self.dirty.add(o.facts.group_id)
        a = self.apps[o.facts.application_id]
        # A child holding a seat kept it: only an upgrade offer Kezek made before the stream began is such.
        a.holds = self._holding(a.facts.child_iin)
        a.move(at, ApplicationStatus.ENROLLED if a.holds else ApplicationStatus.QUEUED)

    def _enrol(self, o: _Offer, at: dt.datetime) -> None:
        a = self.apps[o.facts.application_id]
        for old in [e for e in self.of_child.get(a.facts.child_iin, ()) if e.ended_at is None]:
            # an upgrade offer Kezek made before the stream began: the seat it leaves ends at the signature
            self._replace_enrolment(old, dataclasses.replace(old, ended_at=at))
        since = max(o.facts.starts_on, local_date(at))
        e = EnrolmentFacts(
            id=-(len(self.enrolments) + 1),
            child_iin=a.facts.child_iin,
            application_id=a.facts.id,
            kindergarten_id=o.facts.kindergarten_id,
            group_id=o.facts.group_id,
            since=since,
            leaves_on=seats_over_time.departure_for(a.facts.birth_date, since),
            held_from=at,
            offer_id=o.facts.id,
        )
        self._add_enrolment(e)
        self.live[o.facts.group_id] -= 1
        o.facts = dataclasses.replace(o.facts, status=OfferStatus.ENROLLED, ended_at=at)
        first = a.now.rank_of(o.facts.kindergarten_id) == 1
        a.move(at, ApplicationStatus.CLOSED if first else ApplicationStatus.ENROLLED, active=not first)

    # --- the day -------------------------------------------------------------------------------------------

    def allocate(self, at: dt.datetime) -> None:
        """Every free seat of the groups that changed to the first child by position who holds nothing."""
        today = local_date(at)
        starts = [today] + ([self.first_day] if self.intake_day <= today < self.first_day else [])
        groups, self.dirty = sorted(self.dirty), set()
        for g in (self.kezek.groups[i] for i in groups):
            for start in starts:
                start = max(start, g.opens_on or start)
                if start >= self.first_day and today < self.intake_day:
                    continue  # held for the new year's distribution, as Kezek holds it for its intake run
                free = self.free_from(g, start)
                if free <= 0:
                    continue
                for a in self.candidates(g, start, at)[:free]:
                    self.offer(a, g, start, at)

    def _groups(self) -> list[GroupFacts]:
        return [self.kezek.groups[k] for k in sorted(self.kezek.groups)]

    def intake(self, at: dt.datetime) -> None:
        """The new year's seats, kindergarten by kindergarten, each child taking the first that reaches it."""
        for g in sorted(self._groups(), key=lambda g: (g.kindergarten_id, g.id)):
            start = max(self.first_day, g.opens_on or self.first_day)
            free = self.free_from(g, start)
            if free > 0:
                for a in self.candidates(g, start, at)[:free]:
                    self.offer(a, g, start, at, intake=True)
        self.published = at

    def open_lapsed(self, at: dt.datetime) -> None:
        """A lapsed seat goes to whoever asks first: a random child of the queue, who takes it at once."""
        for group_id in self.lapsed_seats:
            g = self.kezek.groups[group_id]
            start = max(local_date(at), g.opens_on or local_date(at))
            if self.free_from(g, start) <= 0:
                continue
            found = self.candidates(g, start, at)
            if found:
                asker, when = self.rng.choice(found), at
                o = self.offer(asker, g, start, when)
                self.actions = [x for x in self.actions if x[3] is not o]
                heapq.heapify(self.actions)
                o.facts = dataclasses.replace(o.facts, status=OfferStatus.CONFIRMED, confirmed_at=when)
                self.apps[o.facts.application_id].move(when, ApplicationStatus.ENROLLING)
                self._enrol(o, when + dt.timedelta(minutes=10))  # signed there and then
        self.lapsed_seats = []

    def lapse(self, at: dt.datetime) -> None:
        for o in self.offers:
            if o.facts.status == OfferStatus.PENDING and o.respond_by < at:
                self._end(o, OfferStatus.LAPSED, o.respond_by)
                self.lapsed_seats.append(o.facts.group_id)

    def act(self, at: dt.datetime, kind: str, o: _Offer) -> None:
        if o.facts.status not in LIVE_OFFER_STATUSES or (kind != "sign" and o.facts.status != OfferStatus.PENDING):
            return
        if kind == "decline":
            self._end(o, OfferStatus.DECLINED, at)
        elif kind == "confirm":
            o.facts = dataclasses.replace(o.facts, status=OfferStatus.CONFIRMED, confirmed_at=at)
            self.apps[o.facts.application_id].move(at, ApplicationStatus.ENROLLING)
            self._schedule(self.stream.signs_at(at, o.facts.child_iin, o.facts.kindergarten_id), "sign", o)
        else:
            self._enrol(o, at)

    def event(self, e: Arrival | Withdrawal | Departure) -> None:
        if isinstance(e, Arrival):
            app_id = self.by_child.get(e.child_iin)
            if app_id is not None:
                self.dirty.update(g.id for g in self._groups() if g.kindergarten_id in e.kindergartens)
        elif isinstance(e, Withdrawal):
            app_id = self.by_child.get(e.child_iin)
            a = self.apps.get(app_id) if app_id is not None else None
            if a is not None and not a.holds and a.now.waiting and a.facts.queue_date <= e.at:
                a.move(e.at, ApplicationStatus.WITHDRAWN, active=False)
        elif isinstance(e, Departure):
            for x in list(self.of_child.get(e.child_iin, ())):
                if x.ended_at is None:
                    self._replace_enrolment(x, dataclasses.replace(x, ended_at=e.at))

    def age_out(self, at: dt.datetime) -> None:
        for a in self.apps.values():
            if a.now.active and not a.now.status.final and a.facts.birth_year <= self.year - age.SCHOOL_AGE:
                a.move(at, ApplicationStatus.AGED_OUT, active=False)
                a.holds = True

    def play(self) -> None:
        for n in range(self.stream.days):
            day = self.stream.start + dt.timedelta(days=n)
            morning = at_local(day, dt.time(7))
            self._until(morning)
            self.lapse(morning)
            self.open_lapsed(morning)
            self.dirty.update(self.kezek.groups)  # the calendar's changes: departures, capacities, openings
            if day == self.first_day:
                self.age_out(morning)
            if day == self.intake_day:
                self.intake(morning)
            self.allocate(morning)
            for e in self.stream.on(day):
                self._until(e.at)
                self.event(e)
                self.allocate(e.at)
            self._until(at_local(day + dt.timedelta(days=1), dt.time(0)))

    def _until(self, until: dt.datetime) -> None:
        while self.actions and self.actions[0][0] < until:
            at, _, kind, o = heapq.heappop(self.actions)
            self.act(at, kind, o)
            self.allocate(at)

    @property
    def facts(self) -> Facts:
        first: dict[int, dt.datetime] = {}
        start = at_local(self.stream.start, dt.time(0))
        for app_id, app in self.kezek.applications.items():
            if app.first_offer_at is not None and app.first_offer_at < start:  # made before the stream, in Kezek's
                first[app_id] = app.first_offer_at
        for o in self.offers:
            app_id = o.facts.application_id
            first[app_id] = min(first.get(app_id, o.facts.created_at), o.facts.created_at)
        return dataclasses.replace(
            self.kezek,
            applications={
                i: dataclasses.replace(a.facts, states=tuple(a.states), first_offer_at=first.get(i))
                for i, a in self.apps.items()
            },
            offers=[o.facts for o in self.offers],
            enrolments=list(self.enrolments),
            published={
                **{k: at for k, at in self.kezek.published.items() if at < start},
                **({(self.stream.region_code, self.year): self.published} if self.published else {}),
            },
        )


def play(
    stream: Stream, kezek: Facts, policies: PolicyBook, asked: Mapping[tuple[str, int], int] | None = None
) -> Model:
    """The status quo's year over the stream, from the first instant's state of Kezek's world; `asked`: the offers
    each (child, kindergarten) had in Kezek's world before it."""
    start = at_local(stream.start, dt.time(0))
    model = Model(stream, kezek, policies, random.Random(stream.seed))
    model.asked.update(asked or {})
    departures = {e.child_iin: e.at for e in stream.events if isinstance(e, Departure)}
    for e in kezek.enrolments:
        if e.held_from < start:  # the first day's seats; later ones are Kezek's doing
            ended = e.ended_at if e.ended_at is not None and e.ended_at < start else None
            model._add_enrolment(dataclasses.replace(e, ended_at=departures.get(e.child_iin, ended)))
    holding = {e.child_iin for e in model.enrolments if e.ended_at is None}
    for app in kezek.applications.values():
        first = app.state_at(max(start, app.queue_date)) or app.states[0]
        before = [s for s in app.states if s.at < start]
        if not first.waiting and app.queue_date < start:
            continue  # not in any queue on the first day
        states = before or [first]
        a = _App(app, [*states[:-1], dataclasses.replace(states[-1], tier=first.tier, ranking=first.ranking)])
        a.holds = app.child_iin in holding
        model.apps[app.id] = a
        model.by_child[app.child_iin] = app.id
        for kg in first.ranking:
            model.queues[kg].append(app.id)
    for o in kezek.offers:
        if o.created_at < start and (o.ended_at is None or o.ended_at >= start) and o.application_id in model.apps:
            _carry(model, o, start)
    model.play()
    return model


def _carry(model: Model, kezek_offer: OfferFacts, start: dt.datetime) -> None:
    """An offer live in Kezek's world at the first instant: held in the model too, the family answering it (or
    signing its contract) when it does in Kezek's world, as the same function of the child, the kindergarten and
    the offers it had there."""
    confirmed = kezek_offer.confirmed_at is not None and kezek_offer.confirmed_at < start
    f = dataclasses.replace(
        kezek_offer,
        id=-(len(model.offers) + 1),
        status=OfferStatus.CONFIRMED if confirmed else OfferStatus.PENDING,
        ended_at=None,
        confirmed_at=kezek_offer.confirmed_at if confirmed else None,
    )
    policy = model.policies.for_region(model.stream.region_code)
    o = _Offer(f, policy.response_window.end(f.created_at, model.calendar))
    model.offers.append(o)
    model.carried += 1
    model.live[f.group_id] += 1
    model.apps[f.application_id].holds = True
    key = (f.child_iin, f.kindergarten_id)
    if confirmed:
        assert f.confirmed_at is not None
        model._schedule(max(model.stream.signs_at(f.confirmed_at, *key), start), "sign", o)
        return
    # the latest offer to the child (one live at a time), hence its latest at this kindergarten
    answer, delay = model.stream.answer(*key, max(model.asked[key] - 1, 0))
    if answer != "silent":
        model._schedule(max(model.stream.answers_at(f.created_at, *key, delay), start), answer, o)
