"""Fairness, measured (docs/product.md §11): justified envy, idle seat-days, placement, waiting, churn and sibling
groups of an area over a period, rebuilt from the recorded facts alone, so that anyone with a copy of the data
computes the same report (persistence/fairness.py loads the facts; docs/decisions.md 80–89 are the readings).

Each application's state over time comes from its audit snapshots (status, active, tier, ranking); what it held
and where from its offers and enrolments; sibling priority at a kindergarten from its brothers' and sisters'
enrolments there; a group's seats from its capacity history. Days are Asia/Almaty days and a day's state is
its state at its end. Nothing here reads a derived copy (a group's free seats, a choice's flags).

- Justified envy: every seat given in the period (an offer, by allocation or an intake run, or an enrolment
  with no offer behind it) to a child j is checked against every child i who was a candidate for it at that
  instant (docs/product.md §4, §10) and whom the kindergarten's rule puts before j: the queue order with the
  region's primary ratio, EXTRAORDINARY first (domain/allocation.py). Seats given at one instant in one group
  (an intake run's publication, a sibling group's offer) are judged as the allocator fills them, one at a
  time. Pairs where either child belongs to a sibling group are counted apart.
- Idle seat-days: for each of the area's groups and complete day of the period, the seats of the day not taken
  by an enrolment in force, by cause (`IdleCause`).
- Placement, waiting, churn and sibling groups: over the period's enrolments and offers.

Without a database (a simulation's history): `report(facts, policies) -> FairnessReport` with
`policies = PolicyBook(default=Policy(), regions={})` (domain/policy.py) and a `Facts` of plain objects:

- `area`: `Area(region_code, district_code)`, both None for the whole country; `period`: `Period(start, end)`,
  `end` not included (`period(start, end)` checks it); `as_of`: the instant the history is known up to (an
  aware datetime; the period's end is used when it is later).
- `kindergartens`: {id: `KindergartenFacts`}, the area's and any other an application ranks (their region
  tells their policy); `groups`: {id: `GroupFacts`}, the area's only, each with `capacities`, the capacity from
  each instant on, oldest first (one entry `(datetime.min in UTC, n)` for a constant one).
- `applications`: {id: `ApplicationFacts`}, each with `states`, oldest first, the first at its queue date:
  `ApplicationState(at, status, active, tier, ranking)`, `ranking` the kindergarten ids, first choice first;
  `first_offer_at`: its first offer ever (for waiting days); `sibling_links`: (sibling group, linked at).
- `offers`: `OfferFacts`, `ended_at` None while live, `confirmed_at` when its contract was issued;
  `enrolments`: `EnrolmentFacts`, `held_from` when the child took the seat (its contract signed), `offer_id`
  None for a seat given with no offer (counted as a seat given).
- Optional: `siblings` {child IIN: brothers' and sisters' IINs} (sibling priority), `offers_before` {group:
  (PRIMARY, GENERAL) offers made before the period} (the primary ratio's turn), `published` {(region, school
  year): publication} (seats held for an intake run). Offers and enrolments need only cover the area's groups
  and the applications' children. Mappings and sequences may be dicts, lists or tuples.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import enum
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from domain import age, allocation, school_year
from domain.errors import DomainError
from domain.model import ApplicationStatus, ErrorCode, GroupType, Language, OfferStatus, PriorityTier
from domain.policy import PolicyBook
from domain.queue_order import QueueOrder, queue_order
from domain.timezone import at_local, local_date

EXAMPLES = 20  # envy pairs listed, the earliest first
MAX_DAYS = 366  # a report covers a year at most: longer ones are asked year by year (docs/decisions.md 85)
# A superseded offer's seat offered again within this long belongs to the same cascade (the allocator fills it
# right after the commit, or a dispatcher within a second).
CASCADE = dt.timedelta(minutes=1)
_DAY = dt.timedelta(days=1)
_MIDNIGHT = dt.time(0)
_INSTANT = dt.timedelta(microseconds=1)
_NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)
_ENDED = frozenset(s for s in OfferStatus if s not in (OfferStatus.PENDING, OfferStatus.CONFIRMED))


class IdleCause(enum.StrEnum):
    """Why a seat of a day was not taken by a child in force that day."""

    OFFER_WINDOW = "OFFER_WINDOW"  # held by an offer waiting for the parent's answer
    CONTRACT_WINDOW = "CONTRACT_WINDOW"  # held by a confirmed offer whose contract waits for a signature
    PROMISED_LATER = "PROMISED_LATER"  # free that day but not free from it: taken on a later day
    CANDIDATE_WAITING = "CANDIDATE_WAITING"  # free from that day while a candidate for it waited: a fault
    HELD_FOR_INTAKE = "HELD_FOR_INTAKE"  # nobody could start that day; waiting for the coming year's intake run
    NO_CANDIDATE = "NO_CANDIDATE"  # free from that day, and no child could take it


# --- the question -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Area:
    """A region, one district of it, or the whole country (no region)."""

    region_code: str | None = None
    district_code: str | None = None

    def holds(self, region_code: str, district_code: str) -> bool:
        return (self.region_code is None or self.region_code == region_code) and (
            self.district_code is None or self.district_code == district_code
        )


@dataclass(frozen=True, slots=True)
class Period:
    """The days from `start` up to `end`, not included."""

    start: dt.date
    end: dt.date

    @property
    def start_at(self) -> dt.datetime:
        return at_local(self.start, _MIDNIGHT)

    @property
    def end_at(self) -> dt.datetime:
        return at_local(self.end, _MIDNIGHT)


def period(start: dt.date, end: dt.date) -> Period:
    """The period asked for: at least a day, at most a year of 366 days (the report reads every record of it)."""
    if end <= start:
        raise DomainError(ErrorCode.INVALID_INPUT, "--to must be after --from", "to")
    if (end - start).days > MAX_DAYS:
        raise DomainError(ErrorCode.INVALID_INPUT, f"the period is longer than {MAX_DAYS} days", "to")
    return Period(start, end)


# --- the facts (persistence/fairness.py reads them) --------------------------------------------------


@dataclass(frozen=True, slots=True)
class KindergartenFacts:
    id: int
    external_id: str
    name_ru: str
    region_code: str
    district_code: str


@dataclass(frozen=True, slots=True)
class GroupFacts:
    id: int
    kindergarten_id: int
    birth_year_from: int
    birth_year_to: int
    language: Language
    group_type: GroupType
    capacities: tuple[tuple[dt.datetime, int], ...]  # the capacity from each instant on, oldest first
    opens_on: dt.date | None = None
    scheduled: tuple[int, dt.date] | None = None  # a capacity from a later day, not yet applied

    def capacity_on(self, day: dt.date, as_of: dt.datetime) -> int:
        """Its capacity on a day as recorded up to `as_of`; a day from as_of's on takes the capacity planned."""
        if self.opens_on is not None and day < self.opens_on:
            return 0
        if day >= local_date(as_of) and self.scheduled is not None and day >= self.scheduled[1]:
            return self.scheduled[0]
        t = min(_day_end(day), as_of - _INSTANT)
        i = bisect.bisect_right([at for at, _ in self.capacities], t) - 1
        return self.capacities[i][1] if i >= 0 else 0

    def fits(self, app: ApplicationFacts) -> bool:
        return (
            self.birth_year_from <= app.birth_year <= self.birth_year_to
            and self.language == app.language
            and self.group_type == app.group_type
        )


@dataclass(frozen=True, slots=True)
class ApplicationState:
    """What an audit snapshot says of an application, in force from `at` until the next one."""

    at: dt.datetime
    status: ApplicationStatus
    active: bool
    tier: PriorityTier
    ranking: tuple[int, ...]

    @property
    def waiting(self) -> bool:
        """Active and not INACTIVE: in the queues of its choices (docs/product.md §4 "Candidates")."""
        return self.active and self.status not in (ApplicationStatus.INACTIVE, *_FINAL)

    def rank_of(self, kindergarten_id: int) -> int | None:
        try:
            return self.ranking.index(kindergarten_id) + 1
        except ValueError:
            return None


_FINAL = (ApplicationStatus.WITHDRAWN, ApplicationStatus.CLOSED, ApplicationStatus.AGED_OUT)


@dataclass(slots=True)
class ApplicationFacts:
    id: int
    number: str
    child_iin: str
    queue_date: dt.datetime
    birth_date: dt.date
    language: Language
    group_type: GroupType
    desired_start_date: dt.date
    states: tuple[ApplicationState, ...]  # oldest first; the first from the queue date
    sibling_links: tuple[tuple[int, dt.datetime], ...] = ()  # (sibling group, linked at)
    first_offer_at: dt.datetime | None = None  # its first offer ever, whenever it was made
    _times: list[dt.datetime] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._times = [s.at for s in self.states]

    @property
    def birth_year(self) -> int:
        return self.birth_date.year

    def state_at(self, t: dt.datetime) -> ApplicationState | None:
        """The state after every change recorded up to `t`, `t` included."""
        i = bisect.bisect_right(self._times, t) - 1
        return self.states[i] if i >= 0 else None

    def changes_after(self, t: dt.datetime) -> list[dt.datetime]:
        return self._times[bisect.bisect_right(self._times, t) :]


@dataclass(frozen=True, slots=True)
class OfferFacts:
    id: int
    application_id: int
    child_iin: str
    kindergarten_id: int
    group_id: int
    status: OfferStatus
    tier: PriorityTier
    created_at: dt.datetime
    starts_on: dt.date
    ended_at: dt.datetime | None = None  # when it stopped being live (decided_at); None while live
    confirmed_at: dt.datetime | None = None  # when its contract was issued
    sibling_group_id: int | None = None


@dataclass(frozen=True, slots=True)
class EnrolmentFacts:
    id: int
    child_iin: str
    application_id: int | None
    kindergarten_id: int
    group_id: int
    since: dt.date
    leaves_on: dt.date | None
    held_from: dt.datetime  # its contract signed; an enrolment with no offer behind it: from its first day
    ended_at: dt.datetime | None = None
    offer_id: int | None = None

    @property
    def held_until(self) -> dt.datetime:
        """The child holds it until it ends or its last day has passed, whichever comes first."""
        ends = [at_local(self.leaves_on + _DAY, _MIDNIGHT)] if self.leaves_on is not None else []
        return min([*ends, self.ended_at or _NEVER])


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the report reads: the area's kindergartens and groups (with their capacity history), the
    applications that could have stood in their queues in the period, and the offers and enrolments of both,
    of the children's brothers and sisters too; records up to `as_of` (the period's end, or now if sooner)."""

    area: Area
    period: Period
    as_of: dt.datetime
    kindergartens: Mapping[int, KindergartenFacts]  # the area's, and any other an application chose
    groups: Mapping[int, GroupFacts]  # the area's
    applications: Mapping[int, ApplicationFacts]
    offers: Sequence[OfferFacts]
    enrolments: Sequence[EnrolmentFacts]
    # A child's brothers and sisters (a common legal representative): sibling priority.
    siblings: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # A group's PRIMARY and GENERAL offers made before the period: the primary ratio's turn.
    offers_before: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    # (region, school year) → its intake run's publication: seats held back for it.
    published: Mapping[tuple[str, int], dt.datetime] = field(default_factory=dict)


# --- the report ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnvyExample:
    application_number: str  # the child who was passed over
    kindergarten: KindergartenFacts
    ahead_of_application_number: str | None  # the child given the seat; None: a child with no application
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class IdleSeatDays:
    cause: IdleCause
    days: int


@dataclass(frozen=True, slots=True)
class Placement:
    children: int  # children whose enrolment began in the period
    first_choice: float | None
    top_two: float | None
    any_choice: float | None
    upgrades: int


@dataclass(frozen=True, slots=True)
class WaitingDays:
    tier: PriorityTier
    birth_year: int
    offers: int
    median: float
    p90: float


@dataclass(frozen=True, slots=True)
class Churn:
    offers: int
    filled_seats: int
    offers_per_filled_seat: float | None
    ended: int
    decline_rate: float | None
    lapse_rate: float | None
    longest_chain: int


@dataclass(frozen=True, slots=True)
class FairnessReport:
    region_code: str | None
    district_code: str | None
    start: dt.date
    end: dt.date
    as_of: dt.datetime
    envy_pairs: int
    envy_children: int
    envy_days: float
    sibling_pairs: int
    envy_examples: tuple[EnvyExample, ...]
    idle_seat_days: tuple[IdleSeatDays, ...]
    placement: Placement
    waiting_days: tuple[WaitingDays, ...]
    churn: Churn
    sibling_groups_placed: int
    sibling_groups_together: float | None

    def as_json(self) -> dict[str, object]:
        """The figures under the names of the GraphQL type `FairnessReport` (the kindergarten by id, externalId
        and nameRu), as `kezek audit fairness --json` prints them."""
        p, c = self.placement, self.churn
        return {
            "regionCode": self.region_code,
            "districtCode": self.district_code,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "asOf": self.as_of.isoformat(),
            "envyPairs": self.envy_pairs,
            "envyChildren": self.envy_children,
            "envyDays": self.envy_days,
            "siblingPairs": self.sibling_pairs,
            "envyExamples": [
                {
                    "applicationNumber": e.application_number,
                    "kindergarten": {
                        "id": str(e.kindergarten.id),
                        "externalId": e.kindergarten.external_id,
                        "nameRu": e.kindergarten.name_ru,
                    },
                    "aheadOfApplicationNumber": e.ahead_of_application_number,
                    "at": e.at.isoformat(),
                }
                for e in self.envy_examples
            ],
            "idleSeatDays": [{"cause": i.cause.value, "days": i.days} for i in self.idle_seat_days],
            "placement": {
                "children": p.children,
                "firstChoice": p.first_choice,
                "topTwo": p.top_two,
                "anyChoice": p.any_choice,
                "upgrades": p.upgrades,
            },
            "waitingDays": [
                {"tier": w.tier.value, "birthYear": w.birth_year, "offers": w.offers, "median": w.median, "p90": w.p90}
                for w in self.waiting_days
            ],
            "churn": {
                "offers": c.offers,
                "filledSeats": c.filled_seats,
                "offersPerFilledSeat": c.offers_per_filled_seat,
                "ended": c.ended,
                "declineRate": c.decline_rate,
                "lapseRate": c.lapse_rate,
                "longestChain": c.longest_chain,
            },
            "siblingGroupsPlaced": self.sibling_groups_placed,
            "siblingGroupsTogether": self.sibling_groups_together,
        }


def report(facts: Facts, policies: PolicyBook) -> FairnessReport:
    return _Audit(facts, policies).report()


# --- rebuilding the records -------------------------------------------------------------------------

Snapshot = Mapping[str, object]


def snapshot_state(at: dt.datetime, snapshot: Snapshot) -> ApplicationState:
    """An application's audit snapshot (domain/usecases/effects.py `application_snapshot`) as its state."""
    choices = snapshot.get("choices")
    return ApplicationState(
        at=at,
        status=ApplicationStatus(str(snapshot["status"])),
        active=bool(snapshot["active"]),
        tier=PriorityTier(str(snapshot["tier"])),
        ranking=tuple(int(str(kg)) for kg in choices) if isinstance(choices, list) else (),
    )


def states_of(
    queue_date: dt.datetime,
    records: Sequence[tuple[dt.datetime, Snapshot | None, Snapshot | None]],
    now: Snapshot,
    first_offer_at: dt.datetime | None = None,
) -> tuple[ApplicationState, ...]:
    """An application's states from its audit records (at, before, after), oldest first: from its queue date the
    first record's `before` (none for a submission, whose `after` is its first state), then each `after`. An
    application with no record (imported) is as it is now (`now`) from its queue date on, except that until its
    first offer it waited in the queue: offers change its status without a record of the application (their own
    records are the offer's), and its choices and tier, which only recorded changes move, are as now."""
    if not records:
        current = snapshot_state(queue_date, now)
        if first_offer_at is None or first_offer_at <= queue_date or current.status == ApplicationStatus.QUEUED:
            return (current,)
        queued = dataclasses.replace(current, status=ApplicationStatus.QUEUED, active=True)
        return (queued, dataclasses.replace(current, at=first_offer_at))
    first_before = records[0][1]
    states = [snapshot_state(queue_date, first_before)] if first_before is not None else []
    states += [snapshot_state(at, after) for at, _, after in records if after is not None]
    return tuple(states)


def capacities_of(
    records: Sequence[tuple[dt.datetime, str, Snapshot | None, Snapshot | None]], now: int
) -> tuple[tuple[dt.datetime, int], ...]:
    """A group's capacity history from its audit records (at, action, before, after), oldest first: from its
    creation (GROUP_CREATED), or from the first change's `before` for a group imported; each change's `after`
    from then on. A group with no record has always had the capacity it has now."""
    if not records:
        return ((_BEGINNING, now),)
    history: list[tuple[dt.datetime, int]] = []
    _, first_action, first_before, _ = records[0]
    if first_action != "GROUP_CREATED" and first_before is not None:
        history.append((_BEGINNING, int(str(first_before["capacity"]))))
    for at, _, _, after in records:
        if after is not None and "capacity" in after:
            history.append((at, int(str(after["capacity"]))))
    return tuple(history) or ((_BEGINNING, now),)


def enrolment_held_from(signed_at: dt.datetime | None, since: dt.date) -> dt.datetime:
    """A child holds an enrolment from its contract's signature; one with no contract behind it (an import, a row
    written by hand) from the start of its first day."""
    return signed_at if signed_at is not None else at_local(since, _MIDNIGHT)


_BEGINNING = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class _Hold:
    """A seat a child holds from `start` until `end`: a live offer, or an enrolment."""

    kindergarten_id: int
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class _Grant:
    """A seat given: an offer, or an enrolment with no offer behind it (written by an import, or by hand)."""

    at: dt.datetime
    group_id: int
    kindergarten_id: int
    starts_on: dt.date
    application_id: int | None
    child_iin: str
    sibling_group_id: int | None


def _between(t: dt.datetime, start: dt.datetime, end: dt.datetime | None) -> bool:
    return start <= t and (end is None or t < end)


def _day_end(day: dt.date) -> dt.datetime:
    """The last instant of a day: a day's state is what the records say at its end."""
    return at_local(day + _DAY, _MIDNIGHT) - _INSTANT


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _quantile(values: Sequence[float], q: float) -> float:
    """Linear between the closest ranks (the inclusive method): the median of 1, 2, 3, 4 is 2.5."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def old_enough_from(born: dt.date, months: int) -> dt.date:
    """The first day a child born on `born` is `months` old (`age.old_enough`): its month-day anniversary, or the
    first of the next month when that month is too short."""
    year, month = divmod(born.year * 12 + born.month - 1 + months, 12)
    month += 1
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    last = (next_month - _DAY).day
    return dt.date(year, month, born.day) if born.day <= last else next_month


class _Audit:
    """The records of one report, indexed once, and the metrics computed over them."""

    def __init__(self, facts: Facts, policies: PolicyBook) -> None:
        self.facts = facts
        self.policies = policies
        self.as_of = min(facts.as_of, facts.period.end_at)
        self.start_at = facts.period.start_at
        self.apps = facts.applications
        self.kindergartens = facts.kindergartens
        self.offers = [o for o in facts.offers if o.created_at < self.as_of]
        self.enrolments = [e for e in facts.enrolments if e.held_from < self.as_of]
        self.in_area = {k.id for k in facts.kindergartens.values() if facts.area.holds(k.region_code, k.district_code)}

        self.holds: dict[str, list[_Hold]] = defaultdict(list)
        for o in self.offers:
            if o.ended_at is None or o.ended_at > o.created_at:
                self.holds[o.child_iin].append(_Hold(o.kindergarten_id, o.created_at, self._ended(o.ended_at)))
        self.enrolled: dict[str, list[EnrolmentFacts]] = defaultdict(list)
        for e in self.enrolments:
            self.holds[e.child_iin].append(_Hold(e.kindergarten_id, e.held_from, self._ended(e.held_until)))
            self.enrolled[e.child_iin].append(e)

        # Sibling priority at a kindergarten: from a brother's or sister's enrolment there being signed until it
        # ends or that child's next enrolment is signed (the allocator's flag moves then: domain/usecases/seats.py).
        self.priority: dict[tuple[str, int], list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
        for app in self.apps.values():
            for sibling in facts.siblings.get(app.child_iin, ()):
                theirs = sorted(self.enrolled.get(sibling, ()), key=lambda e: e.held_from)
                for n, e in enumerate(theirs):
                    until = min([e.held_until, *(later.held_from for later in theirs[n + 1 :])])
                    self.priority[(app.child_iin, e.kindergarten_id)].append((e.held_from, until))

        # A queue's applications: every one that ranked the kindergarten at some time, in queue-date order.
        self.queues: dict[tuple[int, int, Language, GroupType], list[ApplicationFacts]] = defaultdict(list)
        for app in sorted(self.apps.values(), key=lambda a: (a.queue_date, a.id)):
            for kg in sorted({kg for s in app.states for kg in s.ranking}):
                self.queues[(kg, app.birth_year, app.language, app.group_type)].append(app)

        # A sibling group's member from its linking until it is enrolled or stops waiting for good.
        enrolled_at: dict[int, list[dt.datetime]] = defaultdict(list)
        for e in self.enrolments:
            if e.application_id is not None:
                enrolled_at[e.application_id].append(e.held_from)
        self.linked: dict[int, list[tuple[int, dt.datetime, dt.datetime]]] = {}
        for app in self.apps.values():
            spans = []
            for group_id, since in app.sibling_links:
                ends = [t for t in enrolled_at.get(app.id, ()) if t >= since]
                ends += [s.at for s in app.states if s.at >= since and s.status in _FINAL]
                spans.append((group_id, since, min(ends, default=_NEVER)))
            if spans:
                self.linked[app.id] = spans

        self.by_group: dict[int, list[OfferFacts]] = defaultdict(list)
        for o in sorted(self.offers, key=lambda o: (o.created_at, o.id)):
            self.by_group[o.group_id].append(o)

    def _ended(self, end: dt.datetime | None) -> dt.datetime:
        """An end after the records' last instant has not happened yet."""
        return end if end is not None and end < self.as_of else _NEVER

    # --- a child at an instant ---------------------------------------------------------------------

    def sibling_member(self, app_id: int, t: dt.datetime) -> bool:
        return any(since <= t < until for _, since, until in self.linked.get(app_id, ()))

    def sibling_priority(self, child_iin: str, kindergarten_id: int, t: dt.datetime) -> bool:
        return any(start <= t < end for start, end in self.priority.get((child_iin, kindergarten_id), ()))

    def order(self, app: ApplicationFacts, kindergarten_id: int, t: dt.datetime) -> QueueOrder | None:
        state = app.state_at(t)
        if state is None:
            return None
        return queue_order(state.tier, self.sibling_priority(app.child_iin, kindergarten_id, t), app.queue_date, app.id)

    def candidate(
        self, app: ApplicationFacts, group: GroupFacts, day: dt.date, t: dt.datetime, min_months: int
    ) -> bool:
        """A candidate at `t` for a seat of the group free from `day` (docs/product.md §4, §10): waiting, standing
        in a queue the group serves, its start date come by `day`, old enough on it, and holding nothing at a
        kindergarten it ranks as high (an offer made at the same instant counts as held)."""
        state = app.state_at(t)
        if state is None or not state.waiting or not group.fits(app):
            return False
        rank = state.rank_of(group.kindergarten_id)
        if rank is None or app.desired_start_date > day or not age.old_enough(app.birth_date, day, min_months):
            return False
        for hold in self.holds.get(app.child_iin, ()):
            if hold.start <= t < hold.end:
                held = state.rank_of(hold.kindergarten_id)
                if held is not None and held <= rank:
                    return False
        return True

    def candidacy_end(
        self, app: ApplicationFacts, group: GroupFacts, day: dt.date, t: dt.datetime, min_months: int
    ) -> dt.datetime:
        """The first instant after `t` at which the child is no longer a candidate for that seat (a seat at the
        kindergarten or one it ranks higher, a change of choices, a lapse…), or the records' end."""
        changes = set(app.changes_after(t))
        for hold in self.holds.get(app.child_iin, ()):
            changes.update(x for x in (hold.start, hold.end) if x > t)
        for moment in sorted(changes):
            if moment >= self.as_of:
                break
            if not self.candidate(app, group, day, moment, min_months):
                return moment
        return self.as_of

    # --- the report -------------------------------------------------------------------------------

    def report(self) -> FairnessReport:
        envy = self.envy()
        placement, filled = self.placement()
        placed, together = self.sibling_groups()
        f = self.facts
        return FairnessReport(
            region_code=f.area.region_code,
            district_code=f.area.district_code,
            start=f.period.start,
            end=f.period.end,
            as_of=self.as_of,
            envy_pairs=envy.pairs,
            envy_children=len(envy.spans),
            envy_days=round(sum((_union(spans) for spans in envy.spans.values()), dt.timedelta(0)) / _DAY, 2),
            sibling_pairs=envy.sibling_pairs,
            envy_examples=tuple(envy.examples),
            idle_seat_days=self.idle(),
            placement=placement,
            waiting_days=self.waiting(),
            churn=self.churn(filled),
            sibling_groups_placed=placed,
            sibling_groups_together=_share(together, placed),
        )

    # --- justified envy ---------------------------------------------------------------------------

    def grants(self) -> list[_Grant]:
        """The seats given in the period at the area's kindergartens, in time order."""
        found = [
            _Grant(
                o.created_at,
                o.group_id,
                o.kindergarten_id,
                o.starts_on,
                o.application_id,
                o.child_iin,
                o.sibling_group_id,
            )
            for o in self.offers
            if o.created_at >= self.start_at and o.group_id in self.facts.groups
        ]
        found += [
            _Grant(e.held_from, e.group_id, e.kindergarten_id, e.since, e.application_id, e.child_iin, None)
            for e in self.enrolments
            if e.offer_id is None and e.held_from >= self.start_at and e.group_id in self.facts.groups
        ]
        return sorted(found, key=lambda g: (g.at, g.group_id, g.application_id or 0))

    def envy(self) -> _Envy:
        found = _Envy()
        batches: dict[tuple[int, dt.datetime], list[_Grant]] = defaultdict(list)
        for grant in self.grants():
            batches[(grant.group_id, grant.at)].append(grant)
        for (group_id, t), batch in batches.items():
            group = self.facts.groups[group_id]
            kg = self.kindergartens[group.kindergarten_id]
            policy = self.policies.for_region(kg.region_code)
            served = self.served(group)
            for grant, turn in self.seated(batch, group, t, policy.primary_ratio):
                j = self.apps.get(grant.application_id) if grant.application_id is not None else None
                j_order = self.order(j, kg.id, t) if j is not None else None
                j_key = _key(j_order, turn) if j_order is not None else None
                j_sibling = grant.sibling_group_id is not None or (j is not None and self.sibling_member(j.id, t))
                for i in served:
                    if i.child_iin == grant.child_iin or i.queue_date > t:
                        continue
                    if not self.candidate(i, group, grant.starts_on, t, policy.min_admission_age_months):
                        continue
                    i_order = self.order(i, kg.id, t)
                    assert i_order is not None  # a candidate has a state at t
                    if j_key is not None and _key(i_order, turn) >= j_key:
                        continue
                    if j_sibling or self.sibling_member(i.id, t):
                        found.sibling_pairs += 1
                        continue
                    found.pairs += 1
                    end = self.candidacy_end(i, group, grant.starts_on, t, policy.min_admission_age_months)
                    found.spans[i.id].append((t, end))
                    if len(found.examples) < EXAMPLES:
                        found.examples.append(EnvyExample(i.number, kg, j.number if j else None, t))
        return found

    def served(self, group: GroupFacts) -> list[ApplicationFacts]:
        """The applications that stood, at some time, in a queue the group serves (a mixed-age group merges the
        queues of its years)."""
        return [
            app
            for year in range(group.birth_year_from, group.birth_year_to + 1)
            for app in self.queues.get((group.kindergarten_id, year, group.language, group.group_type), ())
        ]

    def seated(
        self, batch: list[_Grant], group: GroupFacts, t: dt.datetime, ratio: tuple[int, int] | None
    ) -> list[tuple[_Grant, PriorityTier | None]]:
        """The seats given at one instant in one group, in the order the allocator fills them, each with the
        tier whose turn its seat was under the ratio (None: no ratio, or an EXTRAORDINARY child, who comes first
        without a turn): the turn counts the group's offers made before (domain/allocation.py `turn`)."""
        if ratio is None:
            return [(g, None) for g in batch]
        primary, general = self.facts.offers_before.get(group.id, (0, 0))
        made = (
            primary
            + general
            + sum(
                1
                for o in self.by_group.get(group.id, ())
                if self.start_at <= o.created_at < t and o.tier in (PriorityTier.PRIMARY, PriorityTier.GENERAL)
            )
        )
        left = list(batch)
        out: list[tuple[_Grant, PriorityTier | None]] = []
        while left:
            first = min(left, key=lambda g: self._grant_key(g, group, t, None))
            if self._grant_tier(first, t) == PriorityTier.EXTRAORDINARY:
                pick, turn = first, None
            else:
                turn = allocation.turn(ratio, made, 0)
                pick = min(left, key=lambda g: self._grant_key(g, group, t, turn))
                made += 1
            left.remove(pick)
            out.append((pick, turn))
        return out

    def _grant_tier(self, grant: _Grant, t: dt.datetime) -> PriorityTier | None:
        app = self.apps.get(grant.application_id) if grant.application_id is not None else None
        state = app.state_at(t) if app is not None else None
        return state.tier if state is not None else None

    def _grant_key(
        self, grant: _Grant, group: GroupFacts, t: dt.datetime, turn: PriorityTier | None
    ) -> tuple[int, QueueOrder]:
        app = self.apps.get(grant.application_id) if grant.application_id is not None else None
        order = self.order(app, group.kindergarten_id, t) if app is not None else None
        return _key(order, turn) if order is not None else _UNQUEUED

    # --- idle seat-days ---------------------------------------------------------------------------

    def idle(self) -> tuple[IdleSeatDays, ...]:
        days = dict.fromkeys(IdleCause, 0)
        end = min(self.facts.period.end, local_date(self.as_of))  # only complete days: today is not over
        offers: dict[int, list[OfferFacts]] = defaultdict(list)
        for o in self.offers:
            offers[o.group_id].append(o)
        enrolments: dict[int, list[EnrolmentFacts]] = defaultdict(list)
        for e in self.enrolments:
            enrolments[e.group_id].append(e)
        for group in self.facts.groups.values():
            seats = _Seats(self, group, offers.get(group.id, []), enrolments.get(group.id, []))
            for cause, n in seats.idle(self.facts.period.start, end):
                days[cause] += n
        return tuple(IdleSeatDays(cause, n) for cause, n in days.items())

    def any_candidate(self, group: GroupFacts, day: dt.date, t: dt.datetime) -> bool:
        """A child, not of a sibling group (seated only as a unit), who could take a seat free from `day`."""
        kg = self.kindergartens[group.kindergarten_id]
        min_months = self.policies.for_region(kg.region_code).min_admission_age_months
        return any(
            app.queue_date <= t
            and self.candidate(app, group, day, t, min_months)
            and not self.sibling_member(app.id, t)
            for app in self.served(group)
        )

    # --- placement, waiting, churn, siblings ----------------------------------------------------------

    def begun(self) -> list[EnrolmentFacts]:
        """Enrolments at the area's kindergartens whose first day is in the period and has come."""
        last = local_date(self.as_of)
        return [
            e
            for e in self.enrolments
            if e.group_id in self.facts.groups
            and self.facts.period.start <= e.since <= last
            and e.since < self.facts.period.end
        ]

    def placement(self) -> tuple[Placement, int]:
        """Children whose enrolment began in the period (the latest, for a child that moved twice), by the rank
        their application gave that kindergarten when the seat was offered; and the enrolments begun."""
        begun = self.begun()
        offers = {o.id: o for o in self.offers}
        latest: dict[str, EnrolmentFacts] = {}
        for e in sorted(begun, key=lambda e: (e.since, e.held_from)):
            latest[e.child_iin] = e
        ranks: list[int | None] = []
        for e in latest.values():
            app = self.apps.get(e.application_id) if e.application_id is not None else None
            offer = offers.get(e.offer_id) if e.offer_id is not None else None
            state = app.state_at(offer.created_at if offer else e.held_from) if app is not None else None
            ranks.append(state.rank_of(e.kindergarten_id) if state is not None else None)
        upgrades = sum(
            1
            for o in self.offers
            if o.created_at >= self.start_at
            and o.kindergarten_id in self.in_area
            and o.status == OfferStatus.ENROLLED
            and o.ended_at is not None
            and o.ended_at < self.as_of
            and any(_between(o.created_at, e.held_from, e.held_until) for e in self.enrolled.get(o.child_iin, ()))
        )
        n = len(ranks)
        placement = Placement(
            children=n,
            first_choice=_share(sum(1 for r in ranks if r == 1), n),
            top_two=_share(sum(1 for r in ranks if r is not None and r <= 2), n),
            any_choice=_share(sum(1 for r in ranks if r is not None), n),
            upgrades=upgrades,
        )
        return placement, len(begun)

    def period_offers(self) -> list[OfferFacts]:
        return [o for o in self.offers if o.created_at >= self.start_at and o.kindergarten_id in self.in_area]

    def waiting(self) -> tuple[WaitingDays, ...]:
        """Days from eligibility (queue date or desired start, whichever is later, and old enough) to a child's
        first offer, over first offers made in the period; an offer ahead of eligibility waited 0 days."""
        found: dict[tuple[PriorityTier, int], list[float]] = defaultdict(list)
        for o in self.period_offers():
            app = self.apps.get(o.application_id)
            state = app.state_at(o.created_at) if app is not None else None
            if app is None or state is None or app.first_offer_at != o.created_at:
                continue
            kg = self.kindergartens[o.kindergarten_id]
            min_months = self.policies.for_region(kg.region_code).min_admission_age_months
            eligible = max(
                app.queue_date,
                at_local(app.desired_start_date, _MIDNIGHT),
                at_local(old_enough_from(app.birth_date, min_months), _MIDNIGHT),
            )
            found[(state.tier, app.birth_year)].append(max(0.0, (o.created_at - eligible) / _DAY))
        return tuple(
            WaitingDays(tier, year, len(values), round(_quantile(values, 0.5), 2), round(_quantile(values, 0.9), 2))
            for (tier, year), values in sorted(found.items(), key=lambda kv: (kv[0][0].rank, kv[0][1]))
        )

    def churn(self, filled: int) -> Churn:
        made = self.period_offers()
        ended = [
            o
            for o in self.offers
            if o.kindergarten_id in self.in_area
            and o.ended_at is not None
            and self.start_at <= o.ended_at < self.as_of
            and o.status in _ENDED
        ]
        return Churn(
            offers=len(made),
            filled_seats=filled,
            offers_per_filled_seat=round(len(made) / filled, 4) if filled else None,
            ended=len(ended),
            decline_rate=_share(sum(1 for o in ended if o.status == OfferStatus.DECLINED), len(ended)),
            lapse_rate=_share(sum(1 for o in ended if o.status == OfferStatus.LAPSED), len(ended)),
            longest_chain=self.longest_chain(),
        )

    def longest_chain(self) -> int:
        """The most supersedes in one cascade: an offer superseded when its child took a better one (made at the
        same instant), whose seat went, within CASCADE, to a child whose own offer that superseded, and so on."""
        made_at = {(o.child_iin, o.created_at): o for o in self.offers}
        superseded_by: dict[tuple[str, dt.datetime], OfferFacts] = {}
        for o in self.offers:
            if o.status == OfferStatus.SUPERSEDED and o.ended_at is not None and o.ended_at < self.as_of:
                superseded_by[(o.child_iin, o.ended_at)] = o
        links: dict[int, OfferFacts | None] = {}
        heads = []
        for key, old in superseded_by.items():
            better = made_at.get(key)
            if better is None or better.kindergarten_id not in self.in_area or old.ended_at is None:
                continue
            if old.ended_at >= self.start_at:
                heads.append(old)
            links[old.id] = self._next_superseded(old, old.ended_at, superseded_by)
        longest: dict[int, int] = {}

        def length(head: OfferFacts) -> int:
            path: list[int] = []
            node: OfferFacts | None = head
            while node is not None and node.id not in longest and node.id not in path:
                path.append(node.id)
                node = links.get(node.id)
            tail = longest.get(node.id, 0) if node is not None else 0
            for n, offer_id in enumerate(reversed(path), start=1):
                longest[offer_id] = tail + n
            return longest[head.id]

        return max((length(head) for head in heads), default=0)

    def _next_superseded(
        self, old: OfferFacts, at: dt.datetime, superseded_by: Mapping[tuple[str, dt.datetime], OfferFacts]
    ) -> OfferFacts | None:
        """The offer the freed seat's next offer superseded, if it came within the cascade."""
        later = self.by_group.get(old.group_id, [])
        i = bisect.bisect_left([o.created_at for o in later], at)
        for nxt in later[i:]:
            if nxt.created_at > at + CASCADE:
                return None
            if nxt.child_iin != old.child_iin:
                return superseded_by.get((nxt.child_iin, nxt.created_at))
        return None

    def sibling_groups(self) -> tuple[int, int]:
        """Sibling groups offered a seat in the period at the area's kindergartens, and of them those whose first
        offers (one instant) went to every member then waiting, at one kindergarten."""
        members: dict[int, list[tuple[int, dt.datetime, dt.datetime]]] = defaultdict(list)
        for app_id, spans in self.linked.items():
            for group_id, since, until in spans:
                members[group_id].append((app_id, since, until))
        placed = together = 0
        offers = self.period_offers()
        for group_id, linked in members.items():
            theirs = [
                o
                for o in offers
                if o.sibling_group_id == group_id
                or any(a == o.application_id and since <= o.created_at < until for a, since, until in linked)
            ]
            if not theirs:
                continue
            placed += 1
            first = min(o.created_at for o in theirs)
            at_once = [o for o in theirs if o.created_at == first]
            waiting = {
                a
                for a, since, until in linked
                if since <= first < until and (s := self.apps[a].state_at(first)) is not None and s.waiting
            }
            if (
                len({o.kindergarten_id for o in at_once}) == 1
                and all(o.sibling_group_id == group_id for o in at_once)
                and waiting <= {o.application_id for o in at_once}
            ):
                together += 1
        return placed, together


@dataclass(slots=True)
class _Envy:
    pairs: int = 0
    sibling_pairs: int = 0
    spans: dict[int, list[tuple[dt.datetime, dt.datetime]]] = field(default_factory=lambda: defaultdict(list))
    examples: list[EnvyExample] = field(default_factory=list)


def _key(order: QueueOrder, turn: PriorityTier | None) -> tuple[int, QueueOrder]:
    """A seat's rule as a sort key: EXTRAORDINARY first, then the tier whose turn the seat is under the ratio,
    then the queue order (domain/allocation.py `choose` picks the least)."""
    if turn is None or order.tier_rank == PriorityTier.EXTRAORDINARY.rank:
        rule = 0
    else:
        rule = 1 if order.tier_rank == turn.rank else 2
    return (rule, order)


# A seat given to a child with no application comes after every child in the queue.
_UNQUEUED = (3, queue_order(PriorityTier.GENERAL, False, _NEVER, 0))


def _union(spans: Iterable[tuple[dt.datetime, dt.datetime]]) -> dt.timedelta:
    total = dt.timedelta(0)
    end: dt.datetime | None = None
    for start, stop in sorted(spans):
        if end is not None and start < end:
            start = end
        if stop > start:
            total += stop - start
            end = stop
    return total


class _Seats:
    """One group's seats day by day: its capacity and what holds its seats, over intervals of days on which
    neither changes; the candidates are asked only on days with a seat free from that day."""

    def __init__(
        self, audit: _Audit, group: GroupFacts, offers: list[OfferFacts], enrolments: list[EnrolmentFacts]
    ) -> None:
        self.audit = audit
        self.group = group
        self.offers = offers
        self.enrolments = enrolments
        self._cap_times = [t for t, _ in group.capacities]
        self.changes = self._change_days()

    def capacity_on(self, day: dt.date) -> int:
        return self.group.capacity_on(day, self.audit.as_of)

    def _change_days(self) -> set[dt.date]:
        days: set[dt.date] = {local_date(t) for t in self._cap_times}
        g = self.group
        days.update(d for d in (g.opens_on, g.scheduled[1] if g.scheduled else None) if d is not None)
        for o in self.offers:
            days.update(local_date(t) for t in (o.created_at, o.ended_at, o.confirmed_at) if t is not None)
            days.add(o.starts_on)
        for e in self.enrolments:
            days.update(local_date(t) for t in (e.held_from, e.ended_at) if t is not None)
            days.add(e.since)
            if e.leaves_on is not None:
                days.add(e.leaves_on + _DAY)
        return days

    def idle(self, first: dt.date, end: dt.date) -> Iterator[tuple[IdleCause, int]]:
        if end <= first:
            return
        cuts = sorted({first, end, *(d for d in self.changes if first < d < end)})
        for a, b in itertools.pairwise(cuts):
            yield from self._interval(a, b)

    def _interval(self, a: dt.date, b: dt.date) -> Iterator[tuple[IdleCause, int]]:
        """Days [a, b), on which the group's capacity and holds stay as they are on day a."""
        t = _day_end(a)
        capacity = self.capacity_on(a)
        enrolled = sum(1 for e in self.enrolments if e.since <= a and _in_force(e, a, t))
        live = [o for o in self.offers if _between(t, o.created_at, o.ended_at) and o.starts_on <= a]
        confirmed = sum(1 for o in live if o.confirmed_at is not None and o.confirmed_at <= t)
        idle = max(0, capacity - enrolled)
        if idle == 0:
            return
        n = (b - a).days
        pending = min(len(live) - confirmed, idle)
        contract = min(confirmed, idle - pending)
        yield IdleCause.OFFER_WINDOW, pending * n
        yield IdleCause.CONTRACT_WINDOW, contract * n
        free = idle - pending - contract
        if free == 0:
            return
        offerable = max(0, min(free, self.seats_from(a, t)))
        yield IdleCause.PROMISED_LATER, (free - offerable) * n
        if offerable == 0:
            return
        for k in range(n):
            day = a + dt.timedelta(days=k)
            yield self._free_day(day, _day_end(day)), offerable

    def _free_day(self, day: dt.date, t: dt.datetime) -> IdleCause:
        """Why a seat free from `day` stood free at its end."""
        audit, group = self.audit, self.group
        if audit.any_candidate(group, day, t):
            return IdleCause.CANDIDATE_WAITING
        year = school_year.school_year_of(day) + 1
        region = audit.kindergartens[group.kindergarten_id].region_code
        published = audit.facts.published.get((region, year))
        september = school_year.first_day(year)
        if (
            (published is None or published > t)
            and self.seats_from(september, t) > 0
            and audit.any_candidate(group, september, t)
        ):
            return IdleCause.HELD_FOR_INTAKE
        return IdleCause.NO_CANDIDATE

    def seats_from(self, day: dt.date, t: dt.datetime) -> int:
        """Seats free on every day from `day` on, as the holds stood at `t` (domain/seats_over_time.py)."""
        holds: list[tuple[dt.date, dt.date | None]] = [
            (e.since, e.leaves_on) for e in self.enrolments if _between(t, e.held_from, e.ended_at)
        ]
        holds += [(o.starts_on, None) for o in self.offers if _between(t, o.created_at, o.ended_at)]
        days = {day}
        for start, last in holds:
            days.update(d for d in (start, last + _DAY if last else None) if d is not None and d > day)
        days.update(d for d in self.changes if d > day)
        return min(
            self.capacity_on(d) - sum(1 for start, last in holds if start <= d and (last is None or d <= last))
            for d in days
        )


def _in_force(e: EnrolmentFacts, day: dt.date, t: dt.datetime) -> bool:
    return _between(t, e.held_from, e.ended_at) and (e.leaves_on is None or day <= e.leaves_on)
