"""Read side for the GraphQL layer: batched queries behind the per-request DataLoaders.

Every function takes a whole batch of keys and runs one statement, so the number of statements per
request depends on the shape of the query, never on how many children or choices it touches.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from domain.estimate import ChoiceStanding
from domain.intake import GroupResult, IntakeRun
from domain.model import (
    Application,
    Contract,
    District,
    Enrollment,
    Group,
    GroupType,
    Kindergarten,
    Language,
    Offer,
    Person,
    PriorityClaim,
    PriorityTier,
    Region,
)
from persistence.estimates import STANDINGS_SQL, standing_from, standings_params
from persistence.pg import REPORTS, Listener, Pools, positional
from persistence.rows import (
    Row,
    application_with_choices,
    claim_from,
    contract_from,
    enrollment_from,
    group_from,
    group_result_from,
    kindergarten_from,
    offer_from,
    person_from,
    run_from,
)
from persistence.sql import (
    APPLICATIONS,
    INTAKE_RUN_COLUMNS,
    KINDERGARTEN_COLUMNS,
    LIVE,
    POSITIONS_SQL,
    STANDING,
    order_by,
    order_key,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PositionChange:
    at: dt.datetime
    delta: int
    reason: str


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: dt.datetime
    action: str
    actor_role: str | None
    channel: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class QueueRow:
    position: int
    application_number: str
    birth_year: int
    tier: PriorityTier
    queue_date: dt.datetime
    cursor: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_next: bool
    cursors: list[str]


@dataclass(frozen=True, slots=True)
class WaitingCount:
    birth_year: int
    tier: PriorityTier
    count: int


@dataclass(frozen=True, slots=True)
class AreaFigures:
    waiting: int
    by_birth_year: list[WaitingCount]
    capacity: int
    enrolled: int
    held: int
    free_seats: int
    live_offers: int
    median_wait_days: float | None


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None) -> Any:
    if not cursor:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, json.JSONDecodeError):
        raise ValueError("malformed cursor") from None


class Reader:
    """The read path: single SELECTs straight on asyncpg (persistence/pg.py), from pools of their own: the
    status query is what bank apps poll."""

    def __init__(self, pools: Pools, purpose: str = "read") -> None:
        self._pools = pools
        self._purpose = purpose

    @property
    def listeners(self) -> list[Listener]:
        return self._pools.listeners

    def for_request(self) -> RequestReader:
        return RequestReader(self._pools)

    def for_reports(self) -> Reader:
        """Large reads over an area and a period, on connections planning each statement for its values."""
        return Reader(self._pools, REPORTS)

    async def _fetch(self, statement: str, args: list[Any]) -> list[Row]:
        async with (await self._pools.get(self._purpose)).acquire() as conn:
            rows: list[Row] = await conn.fetch(statement, *args)
            return rows

    async def _rows(self, sql: str, **params: Any) -> Sequence[Row]:
        statement, names = positional(sql)
        self._pools.heard(statement)
        return await self._fetch(statement, [params[n] for n in names])

    async def family(self, iin: str) -> tuple[dt.datetime | None, list[str]]:
        """When the caller's family snapshot was refreshed, and their children."""
        rows = await self._rows(
            """SELECT p.children_refreshed_at AS at, ARRAY(SELECT r.child_iin FROM representations r
                WHERE r.representative_iin = p.iin ORDER BY 1) AS children
            FROM persons p WHERE p.iin = :i""",
            i=iin,
        )
        return (rows[0]["at"], list(rows[0]["children"])) if rows else (None, [])

    # --- people ---------------------------------------------------------------------------------

    async def persons(self, iins: Sequence[str]) -> dict[str, Person]:
        rows = await self._rows("SELECT * FROM persons WHERE iin = ANY(:i)", i=list(iins))
        return {r["iin"]: person_from(r) for r in rows}

    async def representatives(self, child_iins: Sequence[str]) -> dict[str, list[str]]:
        rows = await self._rows(
            "SELECT child_iin, representative_iin FROM representations WHERE child_iin = ANY(:c) ORDER BY 2",
            c=list(child_iins),
        )
        out: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            out[r["child_iin"]].append(r["representative_iin"])
        return out

    async def siblings(self, child_iins: Sequence[str]) -> dict[str, list[str]]:
        rows = await self._rows(
            """SELECT DISTINCT a.child_iin AS child, b.child_iin AS sibling
            FROM representations a JOIN representations b
              ON b.representative_iin = a.representative_iin AND b.child_iin <> a.child_iin
            WHERE a.child_iin = ANY(:c) ORDER BY 1, 2""",
            c=list(child_iins),
        )
        out: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            out[r["child"]].append(r["sibling"])
        return out

    async def enrollments(self, child_iins: Sequence[str]) -> dict[str, Enrollment]:
        rows = await self._rows(
            """SELECT DISTINCT ON (child_iin) * FROM enrollments WHERE child_iin = ANY(:c) AND ended_at IS NULL
            ORDER BY child_iin, since, id""",
            c=list(child_iins),
        )
        return {r["child_iin"]: enrollment_from(r) for r in rows}  # the one in force, else the next to start

    async def enrollments_by_id(self, ids: Sequence[int]) -> dict[int, Enrollment]:
        rows = await self._rows("SELECT * FROM enrollments WHERE id = ANY(:i)", i=list(ids))
        return {r["id"]: enrollment_from(r) for r in rows}

    async def enrollments_by_offer(self, offer_ids: Sequence[int]) -> dict[int, Enrollment]:
        rows = await self._rows("SELECT * FROM enrollments WHERE offer_id = ANY(:i)", i=list(offer_ids))
        return {r["offer_id"]: enrollment_from(r) for r in rows}

    # --- applications ---------------------------------------------------------------------------

    async def _applications(self, where: str, **params: Any) -> list[Application]:
        return [application_with_choices(r) for r in await self._rows(f"{APPLICATIONS} WHERE {where}", **params)]

    async def applications(self, ids: Sequence[int]) -> dict[int, Application]:
        return {a.id: a for a in await self._applications("a.id = ANY(:i)", i=list(ids))}

    async def applications_by_number(self, numbers: Sequence[str]) -> dict[str, Application]:
        return {a.number: a for a in await self._applications("a.number = ANY(:n)", n=list(numbers))}

    async def current_applications(self, child_iins: Sequence[str]) -> dict[str, Application]:
        """The active application of each child, else its latest."""
        apps = await self._applications(
            """a.id IN (SELECT DISTINCT ON (child_iin) id FROM applications WHERE child_iin = ANY(:c)
                ORDER BY child_iin, active DESC, id DESC)""",
            c=list(child_iins),
        )
        return {a.child_iin: a for a in apps}

    async def application_areas(self, ids: Sequence[int]) -> dict[int, list[tuple[str | None, str | None]]]:
        rows = await self._rows(
            """SELECT id AS app, region_code, district_code FROM applications WHERE id = ANY(:i)
            UNION SELECT c.application_id, d.region_code, k.district_code FROM choices c
                JOIN kindergartens k ON k.id = c.kindergarten_id JOIN districts d ON d.code = k.district_code
                WHERE c.application_id = ANY(:i)
            UNION SELECT e.application_id, d.region_code, k.district_code FROM enrollments e
                JOIN kindergartens k ON k.id = e.kindergarten_id JOIN districts d ON d.code = k.district_code
                WHERE e.application_id = ANY(:i) AND e.ended_at IS NULL""",
            i=list(ids),
        )
        out: dict[int, list[tuple[str | None, str | None]]] = defaultdict(list)
        for r in rows:
            out[r["app"]].append((r["region_code"], r["district_code"]))
        return out

    async def positions(self, application_ids: Sequence[int]) -> dict[tuple[int, int], int | None]:
        rows = await self._rows(POSITIONS_SQL, ids=list(application_ids))
        return {(r["application_id"], r["kindergarten_id"]): r["position"] for r in rows}

    async def standings(
        self, keys: Sequence[tuple[int, int, dt.date]]
    ) -> dict[tuple[int, int, dt.date], ChoiceStanding]:
        """Key: (application id, kindergarten id, today): where the choice stands and its queue's movement as of
        that day, the facts of its waiting estimate. One statement per day (a request reads one)."""
        out: dict[tuple[int, int, dt.date], ChoiceStanding] = {}
        for day in sorted({k[2] for k in keys}):
            ids = sorted({k[0] for k in keys if k[2] == day})
            for r in await self._rows(STANDINGS_SQL, **standings_params(ids, day)):
                out[(r["application_id"], r["kindergarten_id"], day)] = standing_from(r)
        return out

    async def position_changes(
        self, keys: Sequence[tuple[int, int]], limit: int = 5
    ) -> dict[tuple[int, int], list[PositionChange]]:
        """What moved each choice: others joining (+1) or leaving (-1) ahead of it, and its own moves."""
        rows = await self._rows(
            f"""SELECT c.application_id AS app, c.kindergarten_id AS kg, e.at, e.delta, e.reason
            FROM choices c
            JOIN unnest(CAST(:apps AS bigint[]), CAST(:kgs AS bigint[])) AS k(app, kg)
              ON c.application_id = k.app AND c.kindergarten_id = k.kg
            CROSS JOIN LATERAL (
                SELECT * FROM (
                    SELECT q.at, q.delta::int AS delta, q.reason, q.id FROM queue_events q
                    WHERE q.kindergarten_id = c.kindergarten_id AND q.birth_year = c.birth_year
                      AND q.language = c.language AND q.group_type = c.group_type
                      AND q.at >= c.joined_at AND q.application_id <> c.application_id AND q.own_delta IS NULL
                      AND {order_key("q")} < {order_key("c")}
                    ORDER BY q.at DESC LIMIT :n
                ) others
                UNION ALL
                SELECT * FROM (
                    SELECT q.at, q.own_delta AS delta, q.reason, q.id FROM queue_events q
                    WHERE q.application_id = c.application_id AND q.kindergarten_id = c.kindergarten_id
                      AND q.own_delta IS NOT NULL
                    ORDER BY q.at DESC LIMIT :n
                ) own
            ) e
            ORDER BY e.at DESC, e.id DESC""",
            apps=[k[0] for k in keys],
            kgs=[k[1] for k in keys],
            n=limit,
        )
        out: dict[tuple[int, int], list[PositionChange]] = defaultdict(list)
        for r in rows:
            key = (r["app"], r["kg"])
            if len(out[key]) < limit:
                out[key].append(PositionChange(r["at"], r["delta"], r["reason"]))
        return out

    async def claims(self, application_ids: Sequence[int]) -> dict[int, list[PriorityClaim]]:
        rows = await self._rows(
            "SELECT * FROM priority_claims WHERE application_id = ANY(:i) ORDER BY id",
            i=list(application_ids),
        )
        out: dict[int, list[PriorityClaim]] = defaultdict(list)
        for r in rows:
            out[r["application_id"]].append(claim_from(r))
        return out

    async def claims_by_id(self, ids: Sequence[int]) -> dict[int, PriorityClaim]:
        rows = await self._rows("SELECT * FROM priority_claims WHERE id = ANY(:i)", i=list(ids))
        return {r["id"]: claim_from(r) for r in rows}

    async def history(self, application_ids: Sequence[int], limit: int) -> dict[int, list[AuditEvent]]:
        rows = await self._rows(
            """SELECT k.app, h.* FROM unnest(CAST(:i AS bigint[])) AS k(app)
            CROSS JOIN LATERAL (SELECT at, action, actor_role, channel, reason, id FROM audit_log
                WHERE application_id = k.app ORDER BY id DESC LIMIT :n) h
            ORDER BY k.app, h.id DESC""",
            i=list(application_ids),
            n=limit,
        )
        out: dict[int, list[AuditEvent]] = defaultdict(list)
        for r in rows:
            out[r["app"]].append(AuditEvent(r["at"], r["action"], r["actor_role"], r["channel"], r["reason"]))
        return out

    async def claims_to_verify(
        self, region: str, district: str | None, first: int, after: int | None
    ) -> Page[PriorityClaim]:
        rows = await self._rows(
            """SELECT p.* FROM priority_claims p JOIN applications a ON a.id = p.application_id
            WHERE p.status = 'PENDING_MANUAL' AND a.region_code = :r
              AND (CAST(:d AS text) IS NULL OR a.district_code = :d) AND p.id > :after
            ORDER BY p.id LIMIT :n""",
            r=region,
            d=district,
            after=after or 0,
            n=first + 1,
        )
        items = [claim_from(r) for r in rows[:first]]
        return Page(items, len(rows) > first, [encode_cursor(c.id) for c in items])

    # --- intake runs ------------------------------------------------------------------------------

    async def intake_runs_by_id(self, ids: Sequence[int]) -> dict[int, IntakeRun]:
        rows = await self._rows(f"SELECT {INTAKE_RUN_COLUMNS} FROM intake_runs WHERE id = ANY(:i)", i=list(ids))
        return {r["id"]: run_from(r) for r in rows}

    async def intake_runs(self, region: str, school_year: int | None) -> list[IntakeRun]:
        rows = await self._rows(
            f"""SELECT {INTAKE_RUN_COLUMNS} FROM intake_runs
            WHERE region_code = :r AND (CAST(:y AS int) IS NULL OR school_year = :y) ORDER BY id DESC""",
            r=region,
            y=school_year,
        )
        return [run_from(r) for r in rows]

    async def intake_groups(self, run_id: int, first: int, after: int | None) -> Page[GroupResult]:
        rows = await self._rows(
            """SELECT * FROM intake_run_groups WHERE run_id = :r AND group_id > :after ORDER BY group_id LIMIT :n""",
            r=run_id,
            after=after or 0,
            n=first + 1,
        )
        items = [group_result_from(r) for r in rows[:first]]
        return Page(items, len(rows) > first, [encode_cursor(g.group_id) for g in items])

    async def application_numbers(self, ids: Sequence[int]) -> dict[int, str]:
        rows = await self._rows("SELECT id, number FROM applications WHERE id = ANY(:i)", i=list(ids))
        return {r["id"]: r["number"] for r in rows}

    # --- places ---------------------------------------------------------------------------------

    async def regions(self) -> list[tuple[Region, list[District]]]:
        regions = await self._rows("SELECT * FROM regions ORDER BY code")
        districts = await self._rows("SELECT * FROM districts ORDER BY code")
        by_region: dict[str, list[District]] = defaultdict(list)
        for d in districts:
            by_region[d["region_code"]].append(District(d["code"], d["region_code"], d["name_kk"], d["name_ru"]))
        return [(Region(r["code"], r["name_kk"], r["name_ru"]), by_region[r["code"]]) for r in regions]

    async def districts(self, codes: Sequence[str]) -> dict[str, District]:
        rows = await self._rows("SELECT * FROM districts WHERE code = ANY(:c)", c=list(codes))
        return {r["code"]: District(r["code"], r["region_code"], r["name_kk"], r["name_ru"]) for r in rows}

    async def kindergartens(self, ids: Sequence[int]) -> dict[int, Kindergarten]:
        rows = await self._rows(
            f"SELECT {KINDERGARTEN_COLUMNS} FROM kindergartens k JOIN districts d ON d.code = k.district_code "
            "WHERE k.id = ANY(:ids)",
            ids=list(ids),
        )
        return {r["id"]: kindergarten_from(r) for r in rows}

    async def kindergarten_ids_by_external(self, external_ids: Sequence[str]) -> list[int]:
        rows = await self._rows("SELECT id FROM kindergartens WHERE external_id = ANY(:e)", e=list(external_ids))
        return [r["id"] for r in rows]

    async def live_offers(self, application_ids: Sequence[int]) -> dict[int, Offer]:
        rows = await self._rows(
            f"SELECT * FROM offers WHERE application_id = ANY(:a) AND status IN {LIVE}",
            a=list(application_ids),
        )
        return {r["application_id"]: offer_from(r) for r in rows}

    async def live_offers_by_child(self, child_iins: Sequence[str]) -> dict[str, Offer]:
        rows = await self._rows(
            f"SELECT * FROM offers WHERE child_iin = ANY(:c) AND status IN {LIVE}",
            c=list(child_iins),
        )
        return {r["child_iin"]: offer_from(r) for r in rows}

    async def offers(self, ids: Sequence[int]) -> dict[int, Offer]:
        rows = await self._rows("SELECT * FROM offers WHERE id = ANY(:i)", i=list(ids))
        return {r["id"]: offer_from(r) for r in rows}

    async def contracts_by_offer(self, offer_ids: Sequence[int]) -> dict[int, Contract]:
        rows = await self._rows("SELECT * FROM contracts WHERE offer_id = ANY(:o)", o=list(offer_ids))
        return {r["offer_id"]: contract_from(r) for r in rows}

    async def kindergarten_region(self, external_id: str) -> str | None:
        rows = await self._rows(
            """SELECT d.region_code FROM kindergartens k JOIN districts d ON d.code = k.district_code
            WHERE k.external_id = :e""",
            e=external_id,
        )
        return str(rows[0]["region_code"]) if rows else None

    async def groups_of(self, kindergarten_ids: Sequence[int]) -> dict[int, list[Group]]:
        rows = await self._rows(
            "SELECT * FROM groups WHERE kindergarten_id = ANY(:i) ORDER BY kindergarten_id, birth_year_from, id",
            i=list(kindergarten_ids),
        )
        out: dict[int, list[Group]] = defaultdict(list)
        for r in rows:
            out[r["kindergarten_id"]].append(group_from(r))
        return out

    async def groups(self, ids: Sequence[int]) -> dict[int, Group]:
        rows = await self._rows("SELECT * FROM groups WHERE id = ANY(:i)", i=list(ids))
        return {r["id"]: group_from(r) for r in rows}

    async def seats_from(self, keys: Sequence[tuple[int, dt.date]]) -> dict[tuple[int, dt.date], int]:
        """(group, day) → seats free on every day from that day on, counting planned departures."""
        rows = await self._rows(
            """SELECT k.g, k.d, (group_seats(k.g, k.d)).free FROM unnest(CAST(:g AS bigint[]), CAST(:d AS date[]))
                AS k(g, d) JOIN groups x ON x.id = k.g""",
            g=[k[0] for k in keys],
            d=[k[1] for k in keys],
        )
        return {(int(r["g"]), r["d"]): int(r["free"]) for r in rows}

    async def queue_lengths(self, group_ids: Sequence[int]) -> dict[int, int]:
        rows = await self._rows(
            f"""SELECT g.id, (SELECT count(*) FROM choices c
                WHERE c.kindergarten_id = g.kindergarten_id AND c.language = g.language
                  AND c.group_type = g.group_type AND c.birth_year BETWEEN g.birth_year_from AND g.birth_year_to
                  AND {STANDING.format(a="c")}) AS n
            FROM groups g WHERE g.id = ANY(:i)""",
            i=list(group_ids),
        )
        return {r["id"]: int(r["n"]) for r in rows}

    async def search_kindergartens(
        self,
        *,
        region: str | None,
        district: str | None,
        language: Language | None,
        birth_year: int | None,
        has_free_seats: bool | None,
        group_type: GroupType | None,
        search: str | None,
        first: int,
        after: int | None,
    ) -> Page[Kindergarten]:
        pattern = None
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
        rows = await self._rows(
            f"""SELECT {KINDERGARTEN_COLUMNS} FROM kindergartens k JOIN districts d ON d.code = k.district_code
            WHERE k.id > :after
              AND (CAST(:region AS text) IS NULL OR d.region_code = :region)
              AND (CAST(:district AS text) IS NULL OR k.district_code = :district)
              AND (CAST(:pattern AS text) IS NULL OR k.name_ru ILIKE :pattern OR k.name_kk ILIKE :pattern
                   OR k.external_id ILIKE :pattern OR k.address ILIKE :pattern)
              AND (CAST(:language AS text) IS NULL AND CAST(:birth_year AS int) IS NULL
                       AND CAST(:free AS boolean) IS NULL AND CAST(:group_type AS text) IS NULL
                   OR EXISTS (SELECT 1 FROM groups g WHERE g.kindergarten_id = k.id
                       AND (CAST(:language AS text) IS NULL OR g.language = :language)
                       AND (CAST(:group_type AS text) IS NULL OR g.group_type = :group_type)
                       AND (CAST(:birth_year AS int) IS NULL
                            OR CAST(:birth_year AS int) BETWEEN g.birth_year_from AND g.birth_year_to)
                       AND (CAST(:free AS boolean) IS NULL
                            OR (g.free_seats > 0) = CAST(:free AS boolean))))
            ORDER BY k.id LIMIT :n""",
            after=after or 0,
            region=region,
            district=district,
            pattern=pattern,
            language=language.value if language else None,
            birth_year=birth_year,
            free=has_free_seats,
            group_type=group_type.value if group_type else None,
            n=first + 1,
        )
        items = [kindergarten_from(r) for r in rows[:first]]
        return Page(items, len(rows) > first, [encode_cursor(k.id) for k in items])

    async def public_queue(
        self,
        kindergarten_id: int,
        birth_year: int,
        language: Language,
        group_type: GroupType,
        first: int,
        after: list[Any] | None,
    ) -> Page[QueueRow]:
        """Keyset pagination in queue order; the cursor carries the last position and its sort key."""
        start, key = 0, None
        if after is not None:
            start = int(after[0])
            key = (int(after[1]), int(after[2]), dt.datetime.fromisoformat(after[3]), int(after[4]))
        rows = await self._rows(
            f"""SELECT {order_by("c")}, a.number
            FROM choices c JOIN applications a ON a.id = c.application_id
            WHERE c.kindergarten_id = :kg AND c.birth_year = :by AND c.language = :lang AND c.group_type = :gt
              AND {STANDING.format(a="c")}
              AND (CAST(:has_key AS boolean) IS FALSE OR {order_key("c")} > (:t, :s, :q, :a))
            ORDER BY {order_by("c")} LIMIT :n""",
            kg=kindergarten_id,
            by=birth_year,
            lang=language.value,
            gt=group_type.value,
            has_key=key is not None,
            t=key[0] if key else 0,
            s=key[1] if key else 0,
            q=key[2] if key else dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            a=key[3] if key else 0,
            n=first + 1,
        )
        items = []
        for i, r in enumerate(rows[:first]):
            pos = start + i + 1
            cursor = encode_cursor(
                [pos, r["tier_rank"], r["sibling_rank"], r["queue_date"].isoformat(), r["application_id"]]
            )
            items.append(
                QueueRow(
                    pos,
                    r["number"],
                    birth_year,
                    PriorityTier.from_rank(r["tier_rank"]),
                    r["queue_date"],
                    cursor,
                )
            )
        return Page(items, len(rows) > first, [q.cursor for q in items])

    async def area_figures(self, region: str, district: str | None) -> AreaFigures:
        waiting = await self._rows(
            """SELECT birth_year, tier_rank, count(*) AS n FROM applications
            WHERE active AND status = 'QUEUED' AND region_code = :r
              AND (CAST(:d AS text) IS NULL OR district_code = :d)
            GROUP BY 1, 2 ORDER BY 1, 2""",
            r=region,
            d=district,
        )
        seats = await self._rows(
            """SELECT COALESCE(sum(g.capacity), 0) AS capacity, COALESCE(sum(g.enrolled), 0) AS enrolled,
                COALESCE(sum(g.held), 0) AS held, COALESCE(sum(g.free_seats), 0) AS free
            FROM groups g JOIN kindergartens k ON k.id = g.kindergarten_id JOIN districts d ON d.code = k.district_code
            WHERE d.region_code = :r AND (CAST(:d AS text) IS NULL OR k.district_code = :d)""",
            r=region,
            d=district,
        )
        median = await self._rows(
            """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY e.since - CAST(a.queue_date AS date)) AS m
            FROM enrollments e JOIN applications a ON a.id = e.application_id
              JOIN kindergartens k ON k.id = e.kindergarten_id JOIN districts d ON d.code = k.district_code
            WHERE e.since >= CURRENT_DATE - 365 AND d.region_code = :r
              AND (CAST(:d AS text) IS NULL OR k.district_code = :d)""",
            r=region,
            d=district,
        )
        by_year = [WaitingCount(r["birth_year"], PriorityTier.from_rank(r["tier_rank"]), int(r["n"])) for r in waiting]
        s = seats[0]
        return AreaFigures(
            waiting=sum(w.count for w in by_year),
            by_birth_year=by_year,
            capacity=int(s["capacity"]),
            enrolled=int(s["enrolled"]),
            held=int(s["held"]),
            free_seats=int(s["free"]),
            live_offers=int(s["held"]),
            median_wait_days=float(median[0]["m"]) if median and median[0]["m"] is not None else None,
        )


class RequestReader(Reader):
    """The reads of one request on one connection, taken at its first read and given back by release().

    A pool checkout per statement cost more CPU than the statement itself (bench/results). The request's
    DataLoaders may dispatch batches in the same event-loop turn; a lock keeps them one at a time on the
    connection.
    """

    def __init__(self, pools: Pools) -> None:
        self._pools = pools
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def _fetch(self, statement: str, args: list[Any]) -> list[Row]:
        async with self._lock:
            if self._conn is None:
                self._conn = await (await self._pools.get("request")).acquire()
            rows: list[Row] = await self._conn.fetch(statement, *args)
            return rows

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await (await self._pools.get("request")).release(conn)
