"""The bench's databases: one built from a generated data set, and the queues and parents the benchmarks
pick from it. Apart from bench/run.py so that bench/intake.py and bench/year.py can use them on their own."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bench.common import PLANS, ROOT, Run, log, write_config
from bench.dataset import DataSet, LoadReport, Scale, generate, load
from persistence.db import raw_connect, recreate_database

STATUS_QUERY = (ROOT / "bench" / "queries" / "my_children.graphql").read_text(encoding="utf-8")


async def build_database(
    server_url: str, name: str, scale: Scale, region: str | None = None
) -> tuple[str, DataSet, LoadReport]:
    """The data set generated at `scale`, loaded into a new database `name`; with `region`, that region's
    kindergartens, queues and seats alone (`DataSet.region_alone`)."""
    from persistence.db import migrate

    url = await recreate_database(server_url, name)
    await asyncio.to_thread(migrate, url)
    data = await asyncio.to_thread(generate, scale)
    if region is not None:
        data = data.region_alone(region)
    log(f"{name}: generated in {data.generation_seconds:.1f} s: {data.counts()}")
    report = await load(url, data, log=False)
    log(
        f"{name}: loaded in {report.load_seconds:.1f} s (COPY {report.copy_seconds:.1f}, keys and indexes "
        f"{report.index_seconds:.1f}, foreign keys {report.constraint_seconds:.1f}), VACUUM ANALYZE "
        f"{report.vacuum_seconds:.1f} s"
    )
    return url, data, report


@contextlib.asynccontextmanager
async def own_database(scale: str, name: str) -> AsyncIterator[Run]:
    """Development, a bench module run alone (`python -m bench.intake`, `bench.fairness`): an embedded server in
    a temporary directory, the bench's channels and policy, and a database `name` built from the plan's data
    set; all of it removed afterwards."""
    from api.embedded import start_embedded

    tmp = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    embedded, server_url = start_embedded(tmp, durable=True)
    try:
        run = Run(plan=PLANS[scale], tmp=tmp, server_url=server_url)
        write_config(run)
        run.db_url, run.data, _ = await build_database(server_url, name, run.plan.scale)
        yield run
    finally:
        embedded.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class Queue:
    kindergarten_id: int
    external_id: str
    region_code: str
    birth_year: int
    language: str
    group_type: str
    length: int
    group_id: int
    capacity: int


# Queues whose group has no capacity planned from 1 September and is open: a capacity raised there now frees
# a seat for good (docs/product.md §10), so each raise makes one offer.
_STEADY = """AND NOT EXISTS (SELECT 1 FROM groups s WHERE s.kindergarten_id = c.kindergarten_id
    AND s.birth_year_from = c.birth_year AND s.language = c.language AND s.group_type = c.group_type
    AND (s.scheduled_from IS NOT NULL OR s.opens_on IS NOT NULL))"""


async def longest_queues(
    url: str, limit: int = 1, years: tuple[int, int] = (2000, 2100), *, steady: bool = False
) -> list[Queue]:
    conn = await raw_connect(url)
    try:
        rows = await conn.fetch(
            f"""SELECT q.*, k.external_id, d.region_code, g.id AS group_id, g.capacity FROM (
                SELECT kindergarten_id, birth_year, language, group_type, count(*) AS n FROM choices c
                WHERE app_in_queue AND NOT held_here AND birth_year BETWEEN $2 AND $3 {_STEADY if steady else ""}
                GROUP BY 1, 2, 3, 4 ORDER BY n DESC, 1, 2, 3 LIMIT $1) q
            JOIN kindergartens k ON k.id = q.kindergarten_id JOIN districts d ON d.code = k.district_code
            JOIN groups g ON g.kindergarten_id = q.kindergarten_id AND g.birth_year_from = q.birth_year
                AND g.language = q.language AND g.group_type = q.group_type
            ORDER BY q.n DESC, q.kindergarten_id, q.birth_year, q.language""",
            limit,
            *years,
        )
    finally:
        await conn.close()
    return [
        Queue(
            r["kindergarten_id"],
            r["external_id"],
            r["region_code"],
            r["birth_year"],
            r["language"],
            r["group_type"],
            int(r["n"]),
            r["group_id"],
            r["capacity"],
        )
        for r in rows
    ]


async def last_in_queue(url: str, q: Queue) -> tuple[int, str, str]:
    """(application id, child IIN, a parent's IIN) of the last choice in the queue's order."""
    conn = await raw_connect(url)
    try:
        row = await conn.fetchrow(
            """SELECT c.application_id, a.child_iin, (SELECT min(representative_iin) FROM representations r
                WHERE r.child_iin = a.child_iin) AS parent
            FROM choices c JOIN applications a ON a.id = c.application_id
            WHERE c.kindergarten_id = $1 AND c.birth_year = $2 AND c.language = $3 AND c.group_type = $4
              AND c.app_in_queue AND NOT c.held_here
            ORDER BY c.tier_rank DESC, c.sibling_rank DESC, c.queue_date DESC, c.application_id DESC LIMIT 1""",
            q.kindergarten_id,
            q.birth_year,
            q.language,
            q.group_type,
        )
    finally:
        await conn.close()
    assert row is not None
    return int(row["application_id"]), str(row["child_iin"]), str(row["parent"])


async def sample_parents(url: str, n: int, longest: Queue) -> list[str]:
    """Parents of children with active applications, spread over all queues (a hash order), and the
    parents of 50 children standing in the longest queue."""
    conn = await raw_connect(url)
    try:
        spread = await conn.fetch(
            """SELECT DISTINCT r.representative_iin, md5(r.representative_iin) AS h FROM applications a
            JOIN representations r ON r.child_iin = a.child_iin WHERE a.active ORDER BY h LIMIT $1""",
            n,
        )
        queued = await conn.fetch(
            """SELECT DISTINCT r.representative_iin FROM choices c JOIN applications a ON a.id = c.application_id
            JOIN representations r ON r.child_iin = a.child_iin
            WHERE c.kindergarten_id = $1 AND c.birth_year = $2 AND c.language = $3 AND c.app_in_queue
            LIMIT 50""",
            longest.kindergarten_id,
            longest.birth_year,
            longest.language,
        )
    finally:
        await conn.close()
    parents = [r[0] for r in queued] + [r[0] for r in spread]
    return list(dict.fromkeys(parents))
